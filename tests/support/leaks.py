"""Every answer Slipway gives the suite is scanned for values that must never leave it:
GitHub access tokens and secret values. Tests register what they set with `forbid`; the fake
GitHub's tokens are registered by conftest. Answers from the fake GitHub itself are exempt."""

from __future__ import annotations

from collections.abc import Callable, Iterable

_forbidden: set[str] = set()
_sources: list[Callable[[], Iterable[str]]] = []
_exempt_origins: set[str] = set()


def forbid(*values: str) -> None:
    _forbidden.update(v for v in values if v)


def forbid_from(source: Callable[[], Iterable[str]]) -> None:
    """Values computed when each answer arrives (tokens created during the test)."""
    _sources.append(source)


def exempt(origin: str) -> None:
    _exempt_origins.add(origin)


def reset() -> None:
    _forbidden.clear()


def check(url: str, headers: str, body: bytes) -> None:
    if any(url.startswith(origin) for origin in _exempt_origins):
        return
    text = body.decode("utf-8", errors="replace") + headers
    values = set(_forbidden)
    for source in _sources:
        values.update(source())
    for value in values:
        if value in text:
            raise AssertionError(f"a secret value reached a client in the answer to {url}")
