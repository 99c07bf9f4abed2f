"""How a JSON delivery proves it came from Slipway: GitHub's webhook signature scheme, so
receivers can reuse what they already wrote for GitHub."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Slipway-Signature-256"


def new_secret() -> str:
    """A fresh signing secret, shown to its owner once."""
    return "whsec_" + secrets.token_hex(32)


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the exact body bytes>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
