"""Errors the engine raises for its callers to report, without knowing about HTTP.

Each kind says what went wrong in terms a caller can map to its own protocol (the API turns
`Invalid` into 400, `NotFound` into 404, and so on, in one place). Messages are written for the
user and never contain a secret.
"""

from __future__ import annotations


class SlipwayError(Exception):
    """Base of the errors a user is shown; `field` names the input at fault, if one is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(SlipwayError):
    """The input is malformed or breaks a rule."""


class NotFound(SlipwayError):
    """The thing does not exist, or belongs to someone else (the two are never told apart)."""


class Conflict(SlipwayError):
    """The input is valid but clashes with existing state (a name already taken)."""


class Unavailable(SlipwayError):
    """A dependency (GitHub, Docker, the database) is down or unreachable."""


class Refused(SlipwayError):
    """A dependency refused the request (GitHub rejected a token or lacks a permission)."""
