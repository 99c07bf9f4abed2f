"""The password prompt of protected previews, in front of preview and build-id hosts.

`SiteLock.protected` runs for every request to a site (handlers.sites asks it first), from memory
only: the table of protected projects, then the request's unlock cookie. A locked request gets
`password_page`, a self-contained page (no external resources, a CSP allowing only its own
inline style and a form posting to this host) whose form goes to UNLOCK_PATH, a path no site
can serve (its files' dot-paths are hidden). `SiteUnlockHandler` answers that POST: a right
password sets the unlock cookie and sends the browser back with 303 to the path it asked for,
which must be a relative path on the same host (never `//elsewhere`: no open redirect).
What an unlocked visitor is sent is marked `private, no-cache` (PRIVATE_CACHE), so that no
shared cache keeps it and hands it to someone without the password.
"""

from __future__ import annotations

import base64
import hashlib
import html
import time
from typing import Any
from urllib.parse import parse_qs

import tornado.httputil
import tornado.routing
import tornado.web

from engine.preview_access.cookies import COOKIE_NAME, COOKIE_SECONDS, PreviewCookies
from engine.preview_access.protected_sites import ProtectedProject, ProtectedSites
from engine.preview_access.unlock import OPEN, THROTTLED, UNLOCKED, PreviewUnlock
from engine.sites.names import site_label

UNLOCK_PATH = "/.slipway/unlock"
MAX_FORM_BYTES = 4096
MAX_RETURN_PATH = 2048
PRIVATE_CACHE = "private, no-cache"

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;margin:0;min-height:100vh;display:grid;"
    "place-items:center;background:#f6f6f7;color:#111}"
    "form{background:#fff;border:1px solid #ddd;border-radius:10px;padding:28px;width:min(340px,"
    "90vw);display:grid;gap:12px}h1{font-size:1.2rem;margin:0}p{margin:0;color:#555}"
    "input{font:inherit;padding:8px 10px;border:1px solid #bbb;border-radius:6px}"
    "button{font:inherit;padding:8px;border:0;border-radius:6px;background:#111;color:#fff}"
    ".error{color:#b00020}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
PAGE_HEADERS = (
    ("Cache-Control", "no-store"),
    ("Content-Security-Policy", f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; "
                                "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Content-Type", "text/html; charset=utf-8"),
)


class SiteLock:
    """Whether a request to a site must first give the project's preview password."""

    def __init__(self, protected: ProtectedSites, cookies: PreviewCookies) -> None:
        self.protected_sites, self.cookies = protected, cookies

    def protected(self, label: str) -> ProtectedProject | None:
        """The protected project whose preview or build `label` is, else None (open)."""
        return self.protected_sites.lock_for(label)

    def admits(self, request: tornado.httputil.HTTPServerRequest,
               project: ProtectedProject) -> bool:
        """Whether the request carries an unlock cookie for the project's current password."""
        value = tornado.httputil.parse_cookie(request.headers.get("Cookie", "")).get(COOKIE_NAME)
        return self.cookies.admits(value, project.id, project.version, time.time())


def password_page(return_to: str, error: str | None = None) -> bytes:
    """The prompt, sending the visitor back to `return_to` once unlocked."""
    note = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return (
        "<!doctype html>\n<html lang=en><meta charset=utf-8>\n"
        '<meta name=viewport content="width=device-width, initial-scale=1">\n'
        "<meta name=robots content=noindex>\n<title>Password required</title>\n"
        f"<style>{_STYLE}</style>\n"
        f'<form method=post action="{UNLOCK_PATH}">\n'
        "<h1>This preview is protected</h1>\n<p>Enter the password to view it.</p>\n"
        f"{note}\n"
        f'<input type=hidden name=next value="{html.escape(safe_return_path(return_to))}">\n'
        '<input type=password name=password aria-label=Password placeholder=Password '
        "autocomplete=current-password required autofocus>\n"
        "<button type=submit>Continue</button>\n</form>\n"
    ).encode()


def safe_return_path(raw: str | None) -> str:
    """`raw` when it is a path on this host (`/x?y`), else `/`: never another origin."""
    if (not raw or len(raw) > MAX_RETURN_PATH or not raw.startswith("/")
            or raw.startswith(("//", "/\\")) or "\\" in raw or not raw.isascii()
            or not raw.isprintable() or raw.startswith(UNLOCK_PATH)):
        return "/"
    return raw


class SiteUnlockMatcher(tornado.routing.Matcher):
    """POSTs (and stray GETs) to UNLOCK_PATH on a site host under `domain`; custom domains
    serve production, which is never locked, so they are left to the site server."""

    def __init__(self, domain: str) -> None:
        self.suffix = "." + domain.lower().rstrip(".")

    def match(self, request: tornado.httputil.HTTPServerRequest) -> dict[str, Any] | None:
        if request.path != UNLOCK_PATH:
            return None
        label = site_label(request.host_name, self.suffix)
        return None if label is None else {"path_args": [], "path_kwargs": {"site": label}}


@tornado.web.stream_request_body
class SiteUnlockHandler(tornado.web.RequestHandler):
    """`POST /.slipway/unlock` `password=...&next=/path` on a preview or build-id host."""

    def initialize(self, unlock: PreviewUnlock) -> None:
        self.unlock = unlock
        self._form = bytearray()
        self._too_large = False

    def set_default_headers(self) -> None:
        for name, value in PAGE_HEADERS:
            self.set_header(name, value)

    def data_received(self, chunk: bytes) -> None:
        if len(self._form) + len(chunk) > MAX_FORM_BYTES:
            self._too_large = True
        else:
            self._form += chunk

    def get(self, site: str) -> None:
        self.redirect("/", status=303)

    async def post(self, site: str) -> None:
        if self._too_large:
            self.set_status(413)
            self.finish(password_page("/", "The form was too large."))
            return
        form = parse_qs(self._form.decode("utf-8", "replace"), max_num_fields=4)
        password = form.get("password", [""])[0]
        return_to = safe_return_path(form.get("next", ["/"])[0])
        attempt = await self.unlock.attempt(site, password, self.request.remote_ip or "")
        if attempt.outcome in (OPEN, UNLOCKED):
            if attempt.outcome == UNLOCKED:
                self._set_unlock_cookie(attempt.cookie or "")
            self.redirect(return_to, status=303)
        elif attempt.outcome == THROTTLED:
            self.set_status(429)
            self.set_header("Retry-After", str(attempt.retry_after))
            self.finish(password_page(return_to, "Too many wrong passwords: try again in "
                                                 f"{attempt.retry_after} seconds."))
        else:  # WRONG
            self.set_status(401)
            self.finish(password_page(return_to, "That password is not right."))

    def _set_unlock_cookie(self, value: str) -> None:
        # Host-only (no Domain), so it unlocks this one host and is never sent to siblings.
        attributes = f"{COOKIE_NAME}={value}; Path=/; Max-Age={COOKIE_SECONDS}; HttpOnly; " \
                     "SameSite=Lax"
        if self.request.protocol == "https":
            attributes += "; Secure"
        self.add_header("Set-Cookie", attributes)
