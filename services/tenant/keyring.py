"""Tenant secrets sealed with AES-256-GCM under a key ring from the environment.

`MAIS_SECRET_KEYS` is `id:base64key[,id:base64key...]`, newest first. New values are sealed with
the newest key and stored with its id; a value sealed under an older key still opens as long as that
key stays in the ring, so keys rotate without downtime (add the new key in front, re-seal, then drop
the old one). The tenant id and secret name are the associated data, so a sealed value copied to
another tenant or name does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mais_runtime.errors import PreconditionFailed

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
NONCE_BYTES = 12


class KeyRingError(ValueError):
    """The configured key ring is malformed (the message never contains key material)."""


@dataclass(frozen=True)
class Sealed:
    """A sealed value as stored: which key, the nonce and the ciphertext (with its tag)."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


class KeyRing:
    """The keys tenant secrets are sealed with, newest first."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}
        self._order = [key_id for key_id, _ in keys]

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Reads `id:base64key,...`; every key must be 32 bytes and every id unique."""
        keys: list[tuple[str, bytes]] = []
        for n, item in enumerate(part.strip() for part in spec.split(",") if part.strip()):
            key_id, sep, encoded = item.partition(":")
            if not sep or not _KEY_ID.match(key_id):
                raise KeyRingError(f"entry {n + 1}: expected id:base64key")
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise KeyRingError(f"entry {n + 1} ({key_id}): key is not base64") from None
            if len(key) != 32:
                raise KeyRingError(f"entry {n + 1} ({key_id}): key must be 32 bytes for AES-256")
            if any(key_id == known for known, _ in keys):
                raise KeyRingError(f"entry {n + 1}: key id {key_id} appears twice")
            keys.append((key_id, key))
        return cls(keys)

    @property
    def current_key_id(self) -> str:
        """The id new values are sealed under ("" when the ring is empty)."""
        return self._order[0] if self._order else ""

    def seal(self, plaintext: str, associated: bytes) -> Sealed:
        """Seals with the newest key and a fresh random nonce."""
        if not self._order:
            raise PreconditionFailed("no secret keys are configured (MAIS_SECRET_KEYS)")
        key_id = self._order[0]
        nonce = os.urandom(NONCE_BYTES)
        return Sealed(key_id, nonce, self._keys[key_id].encrypt(nonce, plaintext.encode(), associated))

    def open(self, sealed: Sealed, associated: bytes) -> str:
        """The plaintext; refuses a value whose key left the ring or that was tampered with."""
        aead = self._keys.get(sealed.key_id)
        if aead is None:
            raise PreconditionFailed(f"secret was sealed under key {sealed.key_id}, which is not configured")
        try:
            return aead.decrypt(sealed.nonce, sealed.ciphertext, associated).decode()
        except InvalidTag:
            raise PreconditionFailed("secret does not open: tampered or moved") from None


def associated_data(tenant_id: str, name: str) -> bytes:
    """What a sealed secret is bound to."""
    return f"mais.tenant-secret:{tenant_id}:{name}".encode()
