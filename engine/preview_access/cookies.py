"""Unlock cookies of protected previews: proof that this browser typed the project's password.

The value is `<project id>.<password version>.<expiry>.<signature>`, the signature an
HMAC-SHA256 under a key derived from the instance key for this purpose only. It binds the
project, so a cookie of project A opens nothing of project B, and the password's version, so
changing or removing the password ends every cookie given before. Browsers keep it on the one
host that set it (no Domain attribute): each preview host is unlocked on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

COOKIE_NAME = "slipway_preview"
COOKIE_SECONDS = 7 * 24 * 3600


class PreviewCookies:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, project_id: int, version: int, now: float) -> str:
        """A cookie value for the project's current password, valid for COOKIE_SECONDS."""
        claims = f"{project_id}.{version}.{int(now) + COOKIE_SECONDS}"
        return f"{claims}.{self._sign(claims)}"

    def admits(self, value: str | None, project_id: int, version: int, now: float) -> bool:
        """Whether `value` was issued by this instance for this project and password, and has
        not expired."""
        if not value or value.count(".") != 3:
            return False
        claims, _, signature = value.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(claims).encode()):
            return False
        issued_for, issued_version, expiry = claims.split(".")
        return (issued_for == str(project_id) and issued_version == str(version)
                and expiry.isdigit() and int(expiry) > now)

    def _sign(self, claims: str) -> str:
        digest = hmac.new(self._key, b"preview-unlock\x1f" + claims.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")
