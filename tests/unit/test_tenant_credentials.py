"""Sealing tenant secrets (AES-256-GCM key ring) and admin tokens (JWT HS256)."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from mais_runtime.errors import PreconditionFailed, Unauthenticated
from services.tenant.credentials import ALGORITHM, AUDIENCE, ISSUER, Passwords, Tokens
from services.tenant.domain import Role
from services.tenant.keyring import KeyRing, KeyRingError, associated_data

TENANT = str(uuid.uuid4())


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_a_secret_opens_after_the_ring_gains_a_newer_key() -> None:
    old = _key()
    sealed = KeyRing.parse(f"k1:{old}").seal("calendar-token", associated_data(TENANT, "calendar"))
    rotated = KeyRing.parse(f"k2:{_key()},k1:{old}")
    assert sealed.key_id == "k1"
    assert rotated.current_key_id == "k2"
    assert rotated.open(sealed, associated_data(TENANT, "calendar")) == "calendar-token"


def test_a_secret_whose_key_left_the_ring_does_not_open() -> None:
    sealed = KeyRing.parse(f"k1:{_key()}").seal("v", associated_data(TENANT, "n"))
    with pytest.raises(PreconditionFailed):
        KeyRing.parse(f"k2:{_key()}").open(sealed, associated_data(TENANT, "n"))


def test_a_secret_copied_to_another_tenant_or_name_does_not_open() -> None:
    ring = KeyRing.parse(f"k1:{_key()}")
    sealed = ring.seal("v", associated_data(TENANT, "calendar"))
    for tenant, name in ((str(uuid.uuid4()), "calendar"), (TENANT, "other")):
        with pytest.raises(PreconditionFailed):
            ring.open(sealed, associated_data(tenant, name))


def test_sealing_twice_uses_fresh_nonces() -> None:
    ring = KeyRing.parse(f"k1:{_key()}")
    first, second = (ring.seal("same", b"ad") for _ in range(2))
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext


@pytest.mark.parametrize(
    "spec",
    ["k1", "k1:not-base64!", "k1:" + base64.b64encode(b"short").decode(), "k1:{k},k1:{k}", "bad id:{k}"],
)
def test_malformed_key_rings_are_refused_without_echoing_keys(spec: str) -> None:
    key = _key()
    with pytest.raises(KeyRingError) as caught:
        KeyRing.parse(spec.format(k=key))
    assert key not in str(caught.value)


def test_an_empty_ring_cannot_seal() -> None:
    with pytest.raises(PreconditionFailed):
        KeyRing.parse("").seal("v", b"ad")


SIGNING_KEY = "test-signing-key-" + "x" * 60


def test_a_token_round_trips_its_claims() -> None:
    tokens = Tokens(SIGNING_KEY, timedelta(hours=1))
    user = str(uuid.uuid4())
    token, expires = tokens.issue(user, Role.TENANT_ADMIN, TENANT, 3)
    claims = tokens.check(token)
    assert (claims.user_id, claims.role, claims.tenant_id, claims.token_version) == (
        user,
        Role.TENANT_ADMIN,
        TENANT,
        3,
    )
    assert claims.expires_at == expires


def _forged(**overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "role": "platform_admin",
        "tid": "",
        "ver": 1,
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    claims.update(overrides)
    return claims


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(_forged(exp=datetime.now(UTC) - timedelta(seconds=5)), SIGNING_KEY, algorithm=ALGORITHM),
        jwt.encode(_forged(aud="someone-else"), SIGNING_KEY, algorithm=ALGORITHM),
        jwt.encode(_forged(iss="someone-else"), SIGNING_KEY, algorithm=ALGORITHM),
        jwt.encode(_forged(), "another-key-" + "y" * 40, algorithm=ALGORITHM),
        jwt.encode(_forged(), SIGNING_KEY, algorithm="HS512"),
        jwt.encode(_forged(), None, algorithm="none"),  # type: ignore[arg-type]
        jwt.encode(_forged(role="tenant_admin", tid=""), SIGNING_KEY, algorithm=ALGORITHM),
        jwt.encode(_forged(role="root"), SIGNING_KEY, algorithm=ALGORITHM),
        "not-a-token",
    ],
    ids=[
        "expired",
        "audience",
        "issuer",
        "other-key",
        "other-alg",
        "alg-none",
        "tenantless",
        "role",
        "garbage",
    ],
)
def test_tokens_that_are_expired_forged_or_foreign_are_refused(token: str) -> None:
    with pytest.raises(Unauthenticated):
        Tokens(SIGNING_KEY, timedelta(hours=1)).check(token)


def test_a_tampered_token_is_refused() -> None:
    tokens = Tokens(SIGNING_KEY, timedelta(hours=1))
    token, _ = tokens.issue(str(uuid.uuid4()), Role.TENANT_ADMIN, TENANT, 1)
    header, payload, signature = token.split(".")
    elevated = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(payload + "==").replace(b"tenant_admin", b"platform_admin")
    )
    with pytest.raises(Unauthenticated):
        tokens.check(f"{header}.{elevated.decode().rstrip('=')}.{signature}")


async def test_argon2id_hashes_verify_only_the_right_password() -> None:
    passwords = Passwords(time_cost=1, memory_kib=8192, parallelism=1)
    encoded = await passwords.hash("Correct-horse-1")
    assert encoded.startswith("$argon2id$")
    assert await passwords.verify(encoded, "Correct-horse-1")
    assert not await passwords.verify(encoded, "correct-horse-1")
    assert not await passwords.verify(None, "Correct-horse-1")
    assert Passwords(time_cost=2, memory_kib=8192, parallelism=1).needs_rehash(encoded)
