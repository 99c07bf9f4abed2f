"""A request's path as a file path: decoded once, split into segments, hidden names refused.

Shared by the site server and the dashboard's own static files, so that both refuse the same
paths before the filesystem is touched.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

WELL_KNOWN = ".well-known"
# Files of a release that configure it and are never served.
RULES_FILES = frozenset({"_redirects", "_headers"})
# What stays as it is when segments are written back into a Location header.
_SEGMENT_SAFE = "!$&'()*+,;=:@~"


def decode_request_path(raw: str) -> str | None:
    """The path decoded once, or None when it tries anything a file path must not contain:
    backslashes, encoded slashes or backslashes, NUL or other control characters, bad UTF-8."""
    if not raw.startswith("/") or "\\" in raw:
        return None
    if "%" in raw:
        lowered = raw.lower()
        if "%2f" in lowered or "%5c" in lowered or "%00" in lowered:
            return None
        try:
            raw = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return None
        if "\\" in raw:
            return None
    if not raw.isprintable():
        return None
    return raw


def path_segments(path: str) -> list[str] | None:
    """The segments of a decoded path, or None when one is hidden (`..`, `.env`, `.git`) or is a
    rules file. `/.well-known/` at the root is the one dot directory served."""
    segments = [segment for segment in path.split("/") if segment]
    for index, segment in enumerate(segments):
        if segment.startswith(".") and not (index == 0 and segment == WELL_KNOWN):
            return None
    if segments and segments[0] in RULES_FILES:
        return None
    return segments


def has_extension(segments: list[str]) -> bool:
    return bool(segments) and "." in segments[-1][1:]


def extension(segments: list[str]) -> str:
    """The last segment's extension, lower-cased, without its dot ("" when it has none)."""
    if not has_extension(segments):
        return ""
    return segments[-1].rsplit(".", 1)[1].lower()


def url_path(segments: list[str], *, slash: bool = False) -> str:
    """The canonical URL path of segments, percent-encoded: one `/` between segments, so it
    can never start with `//` (a redirect there would leave the site)."""
    path = "/" + "/".join(quote(segment, safe=_SEGMENT_SAFE) for segment in segments)
    return path + "/" if slash and segments else path
