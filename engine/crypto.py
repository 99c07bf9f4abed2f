"""The one place Slipway encrypts: AES-256-GCM, and the keys derived from the instance key.

Every stored secret (GitHub tokens, webhook secrets, project secrets) is sealed with a fresh
96-bit nonce and bound, as associated data, to where it belongs ("github-token", 42): a
ciphertext copied to another row or name fails to open instead of leaking. The instance key is
never used directly; HKDF derives one key per purpose, so the JWT signing key, the cookie key
and the encryption key are independent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class DecryptionError(Exception):
    """A ciphertext did not open: wrong key, wrong place, or tampered with."""


def associated_data(*context: str | int) -> bytes:
    """Encode where a value lives; the unit separator keeps ("a", "bc") apart from ("ab", "c")."""
    return "\x1f".join(str(part) for part in context).encode()


class SecretBox:
    """Seals and opens values with AES-256-GCM, each bound to its context."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("AES-256-GCM needs a 32-byte key")
        self._aead = AESGCM(key)

    def seal(self, plaintext: str | bytes, *context: str | int) -> tuple[bytes, bytes]:
        """Encrypt; returns (nonce, ciphertext). A fresh random nonce every time."""
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        nonce = os.urandom(NONCE_BYTES)
        return nonce, self._aead.encrypt(nonce, data, associated_data(*context))

    def open(self, nonce: bytes, ciphertext: bytes, *context: str | int) -> bytes:
        try:
            return self._aead.decrypt(bytes(nonce), bytes(ciphertext), associated_data(*context))
        except (InvalidTag, ValueError):
            raise DecryptionError("the value could not be decrypted in this context") from None

    def open_text(self, nonce: bytes, ciphertext: bytes, *context: str | int) -> str:
        return self.open(nonce, ciphertext, *context).decode()


def derive_key(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, independent of the keys for every other purpose."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"slipway/{purpose}/v1".encode()).derive(master)


@dataclass(frozen=True)
class Keys:
    """Every key Slipway uses, derived once from the instance's secret key."""

    box: SecretBox = field(repr=False)
    jwt: bytes = field(repr=False)
    cookie: bytes = field(repr=False)
    build_cache: bytes = field(repr=False)
    preview_cookie: bytes = field(repr=False)

    @classmethod
    def derive(cls, master: bytes) -> Keys:
        return cls(
            box=SecretBox(derive_key(master, "aes-256-gcm")),
            jwt=derive_key(master, "jwt-hs256"),
            cookie=derive_key(master, "signed-cookies"),
            build_cache=derive_key(master, "build-cache-labels"),
            preview_cookie=derive_key(master, "preview-unlock-cookies"),
        )
