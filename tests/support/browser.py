"""Browser tests' machinery: Debian's Chromium driven by Playwright's async API, the app as a
browser sees it (`http://localhost:<port>`, sites at `http://<project>.localhost:<port>`),
signing in through the dashboard, console errors, screenshots, and a site repository on the
fake GitHub that builds offline.

The async API, never the sync one: tests run on the session's IOLoop, which also serves the
in-process Slipway and the fake GitHub, so the loop must keep turning while a test waits for
the browser. Playwright's own browser builds are never downloaded (`playwright install`); the
package's driver launches `/usr/bin/chromium` (Debian's `chromium` package).
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.accounts.login_codes import local_sign_in_link
from tests.support.app import RunningApp
from tests.support.fake_github import FakeGitHub, FakeRepo, FakeUser
from tests.support.http import ApiClient
from tests.support.webhooks import GitHubSide

if TYPE_CHECKING:
    from playwright.async_api import Browser, ConsoleMessage, Page, Playwright, Response

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("SLIPWAY_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS_DIR = ROOT / "test-artifacts" / "screenshots"

CHROMIUM_ARGS = [
    # Root in a container: Chromium's sandbox needs user namespaces it does not get here.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    # Nothing but the suite's own servers: no update checks, sync, or field trials.
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    # Slipway and its sites listen on 127.0.0.1 only. Chromium resolves `localhost` and
    # `*.localhost` to loopback by itself, trying ::1 first; pin them to the address in use.
    "--host-resolver-rules=MAP localhost 127.0.0.1, MAP *.localhost 127.0.0.1",
]
DEFAULT_TIMEOUT_MS = 15_000
"""Playwright's wait for one action or navigation; under a gen_test's own timeout."""
SESSION_PATH = "/api/auth/session"
SITE_TEXT = "Hello from hello-site"
"""What the `github_site` fixture's first version shows once built and deployed."""

saved_screenshots: list[Path] = []
"""Every screenshot this session saved, for the end-of-run summary."""


class BrowserUnavailable(Exception):
    """Playwright or Chromium is missing; the message says what to install."""


async def launch_chromium(*, home: Path | None = None,
                          resolve: str = "") -> tuple[Playwright, Browser]:
    """Start Playwright's driver and a headless Chromium; stop both with `close_chromium`.
    `home` is the browser's HOME (its NSS certificate store is `home/.pki/nssdb`);
    `resolve` adds host resolver rules such as `MAP *.example.test 127.0.0.1`."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        raise BrowserUnavailable("playwright is not installed (./scripts/test installs the "
                                 "test dependencies)") from None
    if not os.access(CHROMIUM, os.X_OK):
        raise BrowserUnavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    playwright = await async_playwright().start()
    try:
        args = CHROMIUM_ARGS
        if resolve:
            args = [a + f", {resolve}" if a.startswith("--host-resolver-rules=") else a
                    for a in CHROMIUM_ARGS]
        environment = {**os.environ, "HOME": str(home)} if home is not None else None
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=args,
                                                   env=environment)
    except Exception:
        await playwright.stop()
        raise
    return playwright, browser


async def close_chromium(playwright: Playwright, browser: Browser) -> None:
    try:
        await browser.close()
    finally:
        await playwright.stop()


@dataclass
class BrowserApp:
    """The real Slipway with builds running, as a browser reaches it."""

    running: RunningApp
    api: ApiClient
    """A Python client for the same server (on 127.0.0.1), for set-up and checks."""

    @property
    def url(self) -> str:
        """The dashboard: `http://localhost:<port>`, also the public URL OAuth returns to."""
        return self.running.public_url

    @property
    def port(self) -> int:
        return self.running.port

    def site_url(self, project: str, *, build_id: int | None = None) -> str:
        """A project's live site, or one build's immutable address."""
        label = f"{build_id}--{project}" if build_id is not None else project
        return f"http://{label}.{self.running.app.config.domain}:{self.port}"

    async def sign_in_link(self) -> str:
        """A fresh one-time link for the local administrator (`<url>/login#code=...`)."""
        return await local_sign_in_link(self.running.app.db.pool, self.url)


@dataclass
class PageErrors:
    """Console errors and uncaught exceptions of one page, collected from its creation."""

    messages: list[str] = field(default_factory=list)

    @classmethod
    def watch(cls, page: Page) -> PageErrors:
        errors = cls()
        page.on("console", errors._on_console)
        page.on("pageerror", lambda error: errors.messages.append(f"uncaught: {error}"))
        return errors

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.messages.append(f"console: {message.text}" + (f" ({where})" if where else ""))

    def assert_none(self, *, ignore: Iterable[str] = ()) -> None:
        """Fail listing every error, but those containing one of the `ignore` substrings
        (a test that provokes a 401 on purpose, say)."""
        ignored = tuple(ignore)
        left = [m for m in self.messages if not any(part in m for part in ignored)]
        assert not left, "the page logged errors:\n  " + "\n  ".join(left)

    def clear(self) -> None:
        self.messages.clear()


async def save_screenshot(page: Page, test_name: str, name: str) -> Path:
    """`test-artifacts/screenshots/<test>--<name>.png`, full page; the path is printed."""
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS_DIR / f"{_file_name(test_name)}--{_file_name(name)}.png"
    await page.screenshot(path=str(path), full_page=True)
    saved_screenshots.append(path)
    print(f"screenshot: {path}")
    return path


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120] or "page"


async def sign_in_local_admin(page: Page, app: BrowserApp) -> dict[str, Any]:
    """Open the local administrator's one-time link, as the printed link is opened; returns
    the `{token, user}` the dashboard received for the code."""
    link = await app.sign_in_link()
    return await _session_from(page, lambda: page.goto(link))


async def create_project(app: BrowserApp, session: dict[str, Any], name: str,
                         repo: Path) -> dict[str, Any]:
    """Create a project on `repo` through the API as the signed-in `session`; its first build
    is queued at once."""
    created = await app.api.post("/api/projects", json_body={"name": name, "repo_url": str(repo)},
                                 headers={"Authorization": f"Bearer {session['token']}"})
    assert created.status == 201, created.body
    return created.json()


async def sign_in_with_github(
    page: Page, app: BrowserApp, github: FakeGitHub, user: FakeUser, *,
    start: Callable[[], Awaitable[Any]] | None = None,
) -> dict[str, Any]:
    """Sign `user` in through GitHub OAuth: Slipway → the fake GitHub's authorize page (which
    approves at once, as GitHub does for an app already authorised) → Slipway's callback →
    `/login#code=...`, which the dashboard trades for a session. `start` begins it (a click on
    "Continue with GitHub"); by default the page opens `/api/auth/github` as that button does.
    Returns the `{token, user}` the dashboard received."""
    github.signed_in = user
    begin = start or (lambda: page.goto(app.url + "/api/auth/github"))
    return await _session_from(page, begin)


async def _session_from(page: Page, begin: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    async with page.expect_response(_is_session_exchange) as exchange:
        await begin()
    response: Response = await exchange.value
    assert response.status == 200, f"{SESSION_PATH} answered {response.status}"
    return await response.json()


def _is_session_exchange(response: Response) -> bool:
    return response.request.method == "POST" and response.url.split("?")[0].endswith(SESSION_PATH)


def node_site_files(text: str, *, log_lines: int = 10, delay_ms: int = 150) -> dict[str, str]:
    """A Node site with no dependencies (so `npm install` works offline) whose `npm run build`
    prints `log_lines` lines, one every `delay_ms` (long enough to watch them arrive), then
    writes `dist/index.html` showing `text` in `<h1 id="content">`."""
    shown = html.escape(text)
    page = (f"<!doctype html><meta charset=utf-8><title>{shown}</title>"
            f"<h1 id=\"content\">{shown}</h1>\n")
    build = (
        "const fs = require('fs');\n"
        f"const total = {log_lines};\n"
        "let done = 0;\n"
        "const timer = setInterval(() => {\n"
        "  done += 1;\n"
        "  console.log(`building page ${done} of ${total}`);\n"
        "  if (done < total) return;\n"
        "  clearInterval(timer);\n"
        "  fs.mkdirSync('dist', {recursive: true});\n"
        f"  fs.writeFileSync('dist/index.html', {json.dumps(page)});\n"
        "  console.log('wrote dist/index.html');\n"
        f"}}, {delay_ms});\n"
    )
    package = {"name": "hello-site", "version": "1.0.0", "private": True,
               "scripts": {"build": "node build.js"}}
    return {"package.json": json.dumps(package, indent=2) + "\n", "build.js": build}


@dataclass
class GitHubSite:
    """A GitHub account owning a Node site repository; `webhook` pushes to it and delivers
    the signed push to Slipway (once a project has registered its hook)."""

    user: FakeUser
    repo: FakeRepo
    webhook: GitHubSide

    async def push(self, text: str, *, message: str = "update", branch: str | None = None,
                   **build_options: int):
        """Commit a version of the site showing `text` and deliver the push webhook."""
        return await self.webhook.push(node_site_files(text, **build_options), message=message,
                                       branch=branch)
