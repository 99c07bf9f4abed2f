"""Preview passwords, kept only as salted scrypt hashes (SPEC, Automation: protected previews).

A preview password guards a project's preview and build-id hosts; it is typed by visitors,
so it is stretched with scrypt (memory-hard, from the standard library) and compared in
constant time. Hashing takes tens of milliseconds and most of 16 MiB: call these functions
from an executor, never on the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from engine.errors import Invalid

MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS = 8, 200
# scrypt's cost: n=2**14, r=8 needs 16 MiB per hash; stored with each hash so it can grow.
_N, _R, _P, _SALT_BYTES, _HASH_BYTES = 2**14, 8, 1, 16, 32


def check_preview_password(raw: object) -> str | None:
    """A preview password to set (8 to 200 characters), or None to remove protection."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not MIN_PASSWORD_CHARS <= len(raw) <= MAX_PASSWORD_CHARS:
        raise Invalid(f"preview_password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} "
                      "characters, or null to remove the protection", field="preview_password")
    return raw


def hash_password(password: str) -> str:
    """`scrypt$<n>$<r>$<p>$<salt>$<hash>` with a fresh random salt. Blocking."""
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, _N, _R, _P, _HASH_BYTES)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def password_matches(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from. Blocking."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        if scheme != "scrypt":
            return False
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p),
                         len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                          dklen=length, maxmem=64 * 1024 * 1024)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
