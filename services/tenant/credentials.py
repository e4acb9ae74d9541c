"""Password hashing (argon2id) and sign-in tokens (JWT, HS256) of admin users."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from mais_runtime.errors import Unauthenticated
from services.tenant.domain import Role

ISSUER = "mais.tenant"
AUDIENCE = "mais.admin"
ALGORITHM = "HS256"


class Passwords:
    """argon2id hashing; CPU-heavy work runs in a thread so the event loop keeps serving."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified when the address is unknown, so both answers take about as long.
        self._decoy = self._hasher.hash(uuid.uuid4().hex)

    async def hash(self, password: str) -> str:
        """An encoded argon2id hash (salt and parameters included)."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, encoded: str | None, password: str) -> bool:
        """True when `password` matches; a missing hash is checked against a decoy and fails."""
        return await asyncio.to_thread(self._verify, encoded, password)

    def _verify(self, encoded: str | None, password: str) -> bool:
        try:
            return bool(self._hasher.verify(encoded or self._decoy, password)) and encoded is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        return self._hasher.check_needs_rehash(encoded)


@dataclass(frozen=True)
class TokenClaims:
    """Who a valid token speaks for."""

    user_id: str
    role: Role
    tenant_id: str
    token_version: int
    expires_at: datetime


class Tokens:
    """Issues and checks sign-in tokens: issuer, audience, expiry and algorithm are all enforced."""

    def __init__(self, signing_key: str, ttl: timedelta) -> None:
        self._key = signing_key
        self._ttl = ttl

    def issue(self, user_id: str, role: Role, tenant_id: str, token_version: int) -> tuple[str, datetime]:
        """A signed token and when it expires."""
        now = datetime.now(UTC).replace(microsecond=0)
        expires = now + self._ttl
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user_id,
            "role": role.value,
            "tid": tenant_id,
            "ver": token_version,
            "iat": now,
            "exp": expires,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), expires

    def check(self, token: str) -> TokenClaims:
        """The claims of a well-signed, unexpired token of ours, or Unauthenticated."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
            role = Role(claims["role"])
            user_id = str(uuid.UUID(str(claims["sub"])))
            tenant_id = str(claims.get("tid") or "")
            version = int(claims["ver"])
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            raise Unauthenticated("token is not valid") from None
        if (role is Role.TENANT_ADMIN) != bool(tenant_id):
            raise Unauthenticated("token is not valid")
        return TokenClaims(user_id, role, tenant_id, version, datetime.fromtimestamp(claims["exp"], UTC))


def digest(value: str) -> str:
    """SHA-256 hex of a high-entropy value (secret keys, reset tokens) or of an address to count by."""
    return hashlib.sha256(value.encode()).hexdigest()
