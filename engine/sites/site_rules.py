"""A site's own routing rules: `_redirects` and `_headers` in its release root, in Netlify syntax.

The supported subset, everything else on a line makes the line ignored (a bad rules file never
breaks a site):

`_redirects`: one rule per line, `from to [status][!]`, `#` starts a comment line.
- `from` is a path starting with `/`. A segment `:name` matches one path segment; a trailing
  `/*` matches the path itself and everything below it (`:splat`); a `*` elsewhere matches any
  characters. Trailing slashes are ignored on both sides (`/blog` also matches `/blog/`).
  Matching is case-sensitive, against the decoded path.
- `to` is a path or an absolute `http(s)://` URL, where `:splat` and `:name` are substituted.
- status: 301 (the default), 302, 303, 307, 308 redirect; 200 rewrites (serves `to` from the same
  release, internally; a rewrite to an absolute URL would be a proxy and is not supported, so the
  line is ignored); 404 serves `to` with status 404. `!` forces the rule even when a file exists
  at the path; without it, a rule applies only when no file matches. The first matching rule wins.
- Not supported: query-parameter conditions, country/language/role conditions, domain-level
  rules; such lines are ignored.

`_headers`: blocks of a path pattern line (same patterns as `from`) followed by indented
`Name: value` lines. Every matching block adds its headers; a header set by a later matching
block replaces the earlier value, and a name repeated within one block is joined with ", ".
Lines setting headers that would break HTTP framing or Slipway's guarantees are dropped:
see PROTECTED_HEADERS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
REWRITE_STATUSES = frozenset({200, 404})
DEFAULT_STATUS = 301
MAX_RULES = 10_000

# Headers a `_headers` file may not set: framing and connection management belong to the server,
# validators to the files themselves, and a static site never sets cookies on Slipway's domain.
# HSTS is Slipway's, sent on every https answer.
PROTECTED_HEADERS = frozenset({
    "set-cookie", "content-length", "content-encoding", "transfer-encoding", "content-range",
    "accept-ranges", "connection", "keep-alive", "upgrade", "trailer", "te", "etag",
    "last-modified", "date", "location", "x-content-type-options", "strict-transport-security",
})

_PLACEHOLDER = re.compile(r"^:([A-Za-z_][A-Za-z0-9_]*)$")
_SUBSTITUTION = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_PRINTABLE = re.compile(r"^[\t\x20-\x7e]*$")
_STATUS = re.compile(r"^([0-9]{3})(!?)$")
# Characters left as they are when a target is made ASCII for a Location header.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A compiled rule path: `/news/:year/*` and friends."""

    source: str
    regex: re.Pattern[str]

    def match(self, path: str) -> dict[str, str] | None:
        """The placeholder values (`splat` for `*`) when `path` matches, else None."""
        found = self.regex.match(path)
        if found is None:
            return None
        return {name: value or "" for name, value in found.groupdict().items()}


@dataclass(frozen=True, slots=True)
class Redirect:
    pattern: PathPattern
    target: str
    status: int
    force: bool


@dataclass(frozen=True, slots=True)
class RedirectMatch:
    """A rule that matched a path: where to go (placeholders filled) and how."""

    target: str
    status: int
    force: bool

    @property
    def is_rewrite(self) -> bool:
        return self.status in REWRITE_STATUSES


@dataclass(frozen=True, slots=True)
class HeaderRule:
    pattern: PathPattern
    headers: tuple[tuple[str, str], ...]


def compile_pattern(source: str) -> PathPattern | None:
    """Compile a rule path, or None when it is not one this subset supports."""
    if not source.startswith("/") or "\\" in source or not source.isprintable():
        return None
    if source.count("*") > 1:
        return None
    body = source.rstrip("/")
    splat_tail = body.endswith("/*")
    if splat_tail:
        body = body[:-2]
    parts: list[str] = []
    names: set[str] = set()
    for segment in body.split("/")[1:]:
        placeholder = _PLACEHOLDER.match(segment)
        if placeholder:
            name = placeholder.group(1)
            if name == "splat" or name in names:
                return None
            names.add(name)
            parts.append(f"/(?P<{name}>[^/]+)")
        elif "*" in segment:
            before, _, after = segment.partition("*")
            parts.append("/" + re.escape(unquote(before)) + "(?P<splat>.*)"
                         + re.escape(unquote(after)))
        elif segment:
            parts.append("/" + re.escape(unquote(segment)))
        else:
            return None  # an empty segment: `//` in the middle of a path
    if splat_tail:
        parts.append("(?:/(?P<splat>.*))?")
    elif "*" not in source:
        parts.append("/?")
    regex = "".join(parts) or "/"
    if regex == "/?":
        regex = "/"
    return PathPattern(source, re.compile("^" + regex + "$", re.DOTALL))


def parse_redirects(text: str) -> tuple[Redirect, ...]:
    """The usable rules of a `_redirects` file, in order; bad lines are skipped."""
    rules: list[Redirect] = []
    for line in text.splitlines():
        rule = _parse_redirect_line(line)
        if rule is not None:
            rules.append(rule)
            if len(rules) >= MAX_RULES:
                break
    return tuple(rules)


def _parse_redirect_line(line: str) -> Redirect | None:
    fields = line.split()
    if not fields or fields[0].startswith("#") or len(fields) not in (2, 3):
        return None
    source, target = fields[0], fields[1]
    status, force = DEFAULT_STATUS, False
    if len(fields) == 3:
        found = _STATUS.match(fields[2])
        if found is None:
            return None
        status, force = int(found.group(1)), bool(found.group(2))
    if status not in REDIRECT_STATUSES and status not in REWRITE_STATUSES:
        return None
    pattern = compile_pattern(source)
    if pattern is None:
        return None
    absolute = target.startswith(("http://", "https://"))
    if not (absolute or target.startswith("/")) or (absolute and status in REWRITE_STATUSES):
        return None
    target = quote(target, safe=_URL_SAFE)  # the Location header must be ASCII
    return Redirect(pattern, target, status, force)


def match_redirect(rules: tuple[Redirect, ...], path: str, *,
                   forced_only: bool = False) -> RedirectMatch | None:
    """The first rule matching `path` (only `!` rules when `forced_only`), targets filled in.

    Substituted values are percent-encoded, so the target reads as a URL path whether it
    becomes a Location or is resolved again inside the release."""
    for rule in rules:
        if forced_only and not rule.force:
            continue
        values = rule.pattern.match(path)
        if values is None:
            continue
        target = _SUBSTITUTION.sub(
            lambda found, values=values: quote(values[found.group(1)], safe="/")
            if found.group(1) in values else found.group(0),
            rule.target,
        )
        return RedirectMatch(target, rule.status, rule.force)
    return None


def parse_headers(text: str) -> tuple[HeaderRule, ...]:
    """The usable blocks of a `_headers` file, in order; bad and protected lines are skipped."""
    rules: list[HeaderRule] = []
    pattern: PathPattern | None = None
    block: dict[str, tuple[str, str]] = {}

    def close_block() -> None:
        if pattern is not None and block and len(rules) < MAX_RULES:
            rules.append(HeaderRule(pattern, tuple(block.values())))

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0] not in " \t":
            close_block()
            pattern, block = compile_pattern(stripped), {}
            continue
        if pattern is None:
            continue
        header = _parse_header_line(stripped)
        if header is None:
            continue
        name, value = header
        key = name.lower()
        if key in block:
            value = block[key][1] + ", " + value
        block[key] = (name, value)
    close_block()
    return tuple(rules)


def _parse_header_line(line: str) -> tuple[str, str] | None:
    name, sep, value = line.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not _HEADER_NAME.match(name) or not _PRINTABLE.match(value):
        return None
    if name.lower() in PROTECTED_HEADERS:
        return None
    return name, value


def headers_for(rules: tuple[HeaderRule, ...], path: str) -> tuple[tuple[str, str], ...]:
    """The headers every matching block adds to responses for `path`."""
    found: dict[str, tuple[str, str]] = {}
    for rule in rules:
        if rule.pattern.match(path) is not None:
            for name, value in rule.headers:
                found[name.lower()] = (name, value)
    return tuple(found.values())
