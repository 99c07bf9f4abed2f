"""Browser fixtures, shared by the browser tests (`tests/e2e/`) and the dashboard benchmarks
(`tests/bench/`), loaded for the whole suite by `pytest_plugins` in `tests/conftest.py`:
Chromium (Playwright's async API) against the real Slipway with builds running, the fake GitHub
and the real Docker engine.

Every test is a `@pytest.mark.gen_test(timeout=...)` coroutine on the session's IOLoop, which
also serves Slipway and the fake GitHub while the test awaits the browser. The default gen_test
timeout (30 s) is short for a build: give scenarios their own.

    @pytest.mark.gen_test(timeout=120)
    async def test_...(slipway, github_site, page, page_errors, screenshot):
        await sign_in_with_github(page, slipway, github, github_site.user)
        await page.goto(slipway.url + "/new")
        ...
        await screenshot(page, "new-project")
        page_errors.assert_none()

The dashboard must be built (`frontend/dist/index.html`): `./scripts/test` builds it first.
Without Playwright or `/usr/bin/chromium` the tests are skipped (failures under
SLIPWAY_NO_SKIP=1). Screenshots go to `test-artifacts/screenshots/`; every page still open when
a test fails is saved there too (`<test>--failure-<n>.png`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import tornado.ioloop

from engine.config import Config
from server import DASHBOARD_DIR
from tests.support import browser as support
from tests.support.app import close_app, open_app
from tests.support.browser import (
    DEFAULT_TIMEOUT_MS,
    SCREENSHOTS_DIR,
    SITE_TEXT,
    BrowserApp,
    BrowserUnavailable,
    GitHubSite,
    PageErrors,
    close_chromium,
    launch_chromium,
    node_site_files,
    save_screenshot,
)
from tests.support.fake_github import FakeGitHub
from tests.support.http import ApiClient
from tests.support.webhooks import GitHubSide

VIEWPORT = {"width": 1280, "height": 800}

_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_CALL_REPORT] = report


def pytest_terminal_summary(terminalreporter) -> None:
    if support.saved_screenshots:
        terminalreporter.write_line(
            f"browser screenshots: {len(support.saved_screenshots)} in {SCREENSHOTS_DIR}")


@pytest.fixture(scope="session")
def chromium(io_loop: tornado.ioloop.IOLoop):
    """One headless Chromium for the session (a Playwright async `Browser`)."""
    try:
        playwright, browser = io_loop.run_sync(launch_chromium, timeout=60)
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))
    yield browser
    io_loop.run_sync(lambda: close_chromium(playwright, browser), timeout=30)


@pytest.fixture
def dashboard_dir() -> Path:
    """The built dashboard; a clear failure (not a skip) when it has not been built."""
    if not (DASHBOARD_DIR / "index.html").is_file():
        pytest.fail(f"{DASHBOARD_DIR / 'index.html'} is missing: build the dashboard first "
                    "(./scripts/test does; or: cd frontend && npm ci && npm run build)",
                    pytrace=False)
    return DASHBOARD_DIR


@pytest.fixture
def browser_config(oauth_config: Config) -> Config:
    """GitHub sign-in configured (against the fake), builds offline and bounded."""
    return replace(oauth_config, build_network="none", build_timeout=120,
                   build_memory=512 * 1024**2)


@pytest.fixture
def slipway_factory(browser_config: Config, dashboard_dir: Path,
                    io_loop: tornado.ioloop.IOLoop):
    """`await slipway_factory(**config_changes)`: another Slipway on this test's database,
    served at `http://localhost:<port>` with builds running. Closed after the test."""
    opened: list[BrowserApp] = []

    async def start(**config_changes) -> BrowserApp:
        running = await open_app(replace(browser_config, **config_changes), run_builds=True,
                                 public_host="localhost", dashboard_dir=dashboard_dir)
        opened.append(BrowserApp(running, ApiClient(running.url)))
        return opened[-1]

    yield start
    for app in opened:
        app.api.close()
        io_loop.run_sync(lambda app=app: close_app(app.running), timeout=60)


@pytest.fixture
def slipway(slipway_factory, node_image: str, io_loop: tornado.ioloop.IOLoop) -> BrowserApp:
    """The real Slipway at `slipway.url` (`http://localhost:<port>`), sites at
    `slipway.site_url(name)`, building with the local Node image (Docker required)."""
    return io_loop.run_sync(lambda: slipway_factory(node_image=node_image))


@pytest.fixture
def github_site(github: FakeGitHub, slipway: BrowserApp) -> GitHubSite:
    """`ada` on the fake GitHub (signed in there, so OAuth in the browser lands as her) with
    `ada/hello-site`: a Node site that builds offline in a few seconds, printing a line every
    150 ms, and shows `SITE_TEXT`. `await github_site.push("v2")` commits a new version and
    delivers its signed push webhook (once a project has registered the hook)."""
    ada = github.add_user("ada", name="Ada Lovelace")
    github.signed_in = ada
    repo = github.add_repo(ada, "hello-site", files=node_site_files(SITE_TEXT))
    return GitHubSite(ada, repo, GitHubSide(slipway.api, github, repo))


@pytest.fixture
def new_page(chromium, io_loop: tornado.ioloop.IOLoop, request: pytest.FixtureRequest):
    """`await new_page(**context_options)`: a page in a fresh browser context (its own
    storage and cookies: another user, a private window). Watch its errors with
    `PageErrors.watch(page)` before navigating. Closed after the test, saved as a screenshot
    first if the test failed."""
    opened = []

    async def open_page(**context_options):
        context = await chromium.new_context(**{"viewport": VIEWPORT, **context_options})
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        opened.append(context)
        return await context.new_page()

    yield open_page

    report = request.node.stash.get(_CALL_REPORT, None)
    failed = report is not None and report.failed

    async def close() -> None:
        for n, context in enumerate(opened):
            if failed:
                for page in context.pages:
                    try:
                        await save_screenshot(page, request.node.name, f"failure-{n}")
                    except Exception as exc:  # a crashed page must not hide the failure
                        print(f"no failure screenshot: {exc}")
            await context.close()

    io_loop.run_sync(close, timeout=30)


@pytest.fixture
def page(new_page, io_loop: tornado.ioloop.IOLoop):
    """A Playwright async `Page` in a fresh context, 1280×800."""
    return io_loop.run_sync(new_page)


@pytest.fixture
def page_errors(page) -> PageErrors:
    """Console errors and uncaught exceptions of `page`: `page_errors.assert_none()`."""
    return PageErrors.watch(page)


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[..., Awaitable[Path]]:
    """`await screenshot(page, "projects")` → test-artifacts/screenshots/<test>--projects.png"""

    async def take(page, name: str) -> Path:
        return await save_screenshot(page, request.node.name, name)

    return take
