"""Where a notification may be sent: an http(s) URL, and for a GitHub user only a public
address.

Slipway POSTs to the URL from its own host, so a URL naming 127.0.0.1, a private range or the
cloud metadata address would let any user reach the host's own services, exactly as a
repository URL would (see engine.builds.repo_address, whose check this reuses). The URL is
checked when saved, and every delivery connects through `PublicOnlyResolver`, which checks
the addresses the connection will actually use: a DNS answer that changed since (rebinding)
cannot point a delivery inward. The local administrator owns the machine and may name any
address.
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

from tornado.netutil import DefaultExecutorResolver, Resolver

from engine.builds.repo_address import AddressRefused, address_problem, check_public
from engine.errors import Invalid, Refused

MAX_URL_LENGTH = 2048
_WHAT = "a notification URL"


def check_url(url: str) -> str:
    """The URL if it is one Slipway can POST to, else Invalid naming the field."""
    url = url.strip()
    if not url:
        raise Invalid("url is required", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise Invalid(f"url must be at most {MAX_URL_LENGTH} characters", field="url")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise Invalid("url must not contain spaces or control characters", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise Invalid("url is not a valid URL", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url must be an http:// or https:// URL with a host", field="url")
    return url


async def check_public_url(url: str) -> None:
    """Refused (422) unless the URL's host resolves to public addresses only."""
    try:
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: check_public(url, frozenset(), what=_WHAT))
    except AddressRefused as exc:
        raise Refused(f"url is refused: {exc}", field="url") from None


def display_url(url: str) -> str:
    """The URL as listed after creation: chat webhook URLs are credentials (anyone holding
    Slack's or Discord's can post to the channel), so only the origin, the first path
    segment and the last four characters are shown: enough to tell two apart."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    origin = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    first, _, rest = parts.path.lstrip("/").partition("/")
    hidden = rest + (f"?{parts.query}" if parts.query else "")
    if not first and not hidden:
        return origin + "/"
    if not hidden:
        return f"{origin}/{first}"
    return f"{origin}/{first}/…{hidden[-4:]}" if len(hidden) > 8 else f"{origin}/{first}/…"


class PublicOnlyResolver(Resolver):
    """A Tornado resolver that refuses to hand out loopback, link-local or private
    addresses: what a GitHub user's deliveries connect through."""

    def initialize(self) -> None:
        self._resolver = DefaultExecutorResolver()

    async def resolve(self, host: str, port: int,
                      family: socket.AddressFamily = socket.AF_UNSPEC,
                      ) -> list[tuple[int, object]]:
        found = await self._resolver.resolve(host, port, family)
        for _, address in found:
            problem = address_problem(address[0])
            if problem:
                raise AddressRefused(f"the host {host} resolves to {problem} ({address[0]}), "
                                     f"which {_WHAT} may not name")
        return found
