"""The conformance suite (SPEC, Builds, 4-7): each framework's official starter, committed as
its scaffolder made it (package.json, lockfile, sources: see README.md here), builds through the
whole pipeline — clone, detection, the install image, the build container, deploy, serving —
with nothing overridden, on the Node and package manager the contract chooses.

These builds are real: npm, pnpm, Yarn and Bun install from the registry, so build containers
use the `host` network (never a bridge), and the Node images are made from registry packages
(`tests/support/node_images.py`). Each build's time goes to test-artifacts/frameworks.tsv.
"""

from __future__ import annotations

import html.parser
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest

from engine.deploys.releases import release_dir
from tests.support.builds import Builds
from tests.support.node_images import NODE_IMAGE_TEMPLATE, ensure_node_images
from tests.support.repos import make_repo

FIXTURES = Path(__file__).parent / "fixtures"
TIMES = Path(__file__).resolve().parents[2] / "test-artifacts" / "frameworks.tsv"
BUILD_SECONDS = 900
# What the real builds need on 2 cores; the network reaches the registry as the host does.
REAL_BUILDS = {"node_image": NODE_IMAGE_TEMPLATE, "build_network": "host",
               "build_timeout": BUILD_SECONDS, "build_memory": 4 * 1024**3, "build_cpus": 2.0}


@dataclass(frozen=True)
class Starter:
    fixture: str
    framework: str                       # as the build log names it
    manager: str
    node: int                            # the major the contract chooses for it
    pages: tuple[tuple[str, str], ...]   # (clean URL, text its HTML holds) besides "/"
    home: str                            # text the HTML of "/" holds
    root_dir: str | None = None
    not_found_page: bool = False         # the export has a root 404.html: a multi-page site
    assets: bool = True                  # the home page names scripts or stylesheets

    def __str__(self) -> str:
        return self.fixture


STARTERS = (
    Starter("vite-react", "Vite", "npm", 22, (), "<div id=\"root\">"),
    Starter("vite-vue", "Vite", "npm", 22, (), "<div id=\"app\">"),
    Starter("vite-svelte", "Vite", "npm", 22, (), "<div id=\"app\">"),
    Starter("nextjs", "Next.js", "npm", 22, (("/about", "About"),), "Next.js",
            not_found_page=True),
    Starter("sveltekit", "SvelteKit", "npm", 22, (("/about", "About"),), "SvelteKit"),
    # Astro's minimal starter ships no JavaScript and inlines its few styles.
    Starter("astro5", "Astro", "npm", 22, (("/about/", "About"),), "Astro", assets=False),
    Starter("astro6", "Astro", "npm", 24, (("/about/", "About"),), "Astro", assets=False),
    Starter("nuxt", "Nuxt", "npm", 22, (), "Nuxt", not_found_page=True),
    Starter("docusaurus", "Docusaurus", "npm", 24, (("/docs/intro/", "Tutorial Intro"),),
            "Docusaurus", not_found_page=True),
    Starter("eleventy", "Eleventy", "npm", 22, (("/about/", "About"),), "Eleventy",
            assets=False),
    Starter("angular", "Angular", "npm", 22, (), "<app-root"),
    Starter("create-react-app", "Create React App", "npm", 22, (), "<div id=\"root\">"),
    Starter("pnpm", "Vite", "pnpm", 22, (), "<div id=\"app\">"),
    Starter("yarn", "Vite", "yarn", 22, (), "<div id=\"app\">"),
    Starter("bun", "Vite", "bun", 22, (), "<div id=\"root\">"),
    Starter("monorepo", "Vite", "npm", 22, (), "<div id=\"app\">", root_dir="apps/web"),
)


@pytest.fixture(scope="session")
def real_node_images(docker_client) -> dict[int, str]:
    try:
        return ensure_node_images(docker_client)
    except RuntimeError as exc:
        pytest.skip(f"cannot build the Node images of real builds: {exc}")


@pytest.mark.parametrize("starter", STARTERS, ids=str)
@pytest.mark.gen_test(timeout=BUILD_SECONDS + 120)
async def test_the_official_starter_builds_unmodified_and_serves(builds, tmp_path,
                                                                 real_node_images, starter):
    session = await builds(**REAL_BUILDS)
    build = await build_starter(session, tmp_path, starter)
    text = await session.text(build["id"])

    assert build["status"] == "passed", text
    assert f"framework: {starter.framework} (" in text
    assert f"Node {starter.node} (" in text
    assert f"package manager: {starter.manager} (" in text
    site = {"Host": f"site.localhost:{session.running.port}"}
    home = await session.api.get("/", headers=site)
    assert home.status == 200
    assert home.headers["Content-Type"].startswith("text/html")
    assert home.headers["Cache-Control"] == "no-cache"
    assert starter.home in home.body.decode(), home.body[:2000]
    for path, words in starter.pages:
        await assert_deep_link(session, site, path, words)
    if starter.assets:
        await assert_assets_are_immutable(session, site, home.body.decode())
    release = release_dir(session.running.app.config.deployments_dir, "site", build["id"])
    not_found = (release / "404.html").read_bytes() if starter.not_found_page else None
    missing = await session.api.get("/no-such-asset-3f9a.js", headers=site)
    assert missing.status == 404
    assert not_found is None or missing.body == not_found
    for route in ("/no/such/page", "/users/john.doe"):
        page = await session.api.get(route, headers=site)
        if not_found is not None:  # a multi-page site: its own 404 page
            assert (page.status, page.body) == (404, not_found), route
        else:  # a single-page app (or an export without 404 page): the app's index
            assert (page.status, page.body) == (200, home.body), route


# Pages opened in a browser as a visitor would: typed in, refreshed, followed from elsewhere.
BROWSED = {
    "vite-react": (("/", 200), ("/users/john.doe", 200)),
    "nextjs": (("/", 200), ("/about", 200), ("/no/such/page", 404)),
    # A wrong page here used to be the home page, which React refused to hydrate (#418).
    "docusaurus": (("/docs/intro", 200), ("/no/such/page", 404)),
}


@pytest.mark.parametrize("fixture", sorted(BROWSED))
@pytest.mark.gen_test(timeout=BUILD_SECONDS + 120)
async def test_the_starter_renders_in_chromium_without_console_errors(
        builds, tmp_path, real_node_images, page, page_errors, screenshot, fixture):
    starter = next(s for s in STARTERS if s.fixture == fixture)
    session = await builds(**REAL_BUILDS)
    build = await build_starter(session, tmp_path, starter)
    assert build["status"] == "passed", await session.text(build["id"])

    origin = f"http://site.localhost:{session.running.port}"
    for path, status in BROWSED[fixture]:
        response = await page.goto(origin + path)
        assert response.status == status, path
        await page.wait_for_load_state("networkidle")
        # The framework's script ran: the root element has rendered content.
        assert await page.evaluate("document.body.innerText.trim().length") > 0, path
        await screenshot(page, f"{fixture}{path}")
        # The one error a 404 page is meant to cause: the browser reports its status.
        page_errors.assert_none(ignore=[f"404 (Not Found) ({origin}{path})"] if status == 404
                                else [])
        page_errors.clear()


async def build_starter(session: Builds, tmp_path: Path, starter: Starter) -> dict:
    """Commit the fixture as a repository of its own, create the project, wait its build."""
    source = tmp_path / "repo"
    shutil.copytree(FIXTURES / starter.fixture, source)
    repo = make_repo(source, {})
    settings = {"root_dir": starter.root_dir} if starter.root_dir else {}
    started = time.monotonic()
    project = await session.project(repo, **settings)
    build = await session.finished(project["latest_build"]["id"], seconds=BUILD_SECONDS)
    TIMES.parent.mkdir(parents=True, exist_ok=True)
    with TIMES.open("a") as times:
        times.write(f"{starter.fixture}\t{build['status']}\t{time.monotonic() - started:.0f}\n")
    return build


async def assert_deep_link(session: Builds, site: dict[str, str], path: str,
                           words: str) -> None:
    """A page opened at its clean URL (a deep link, a refresh) is that page, and its other
    forms redirect there keeping the query: /about.html and /about/ -> /about for a page
    file, /about -> /about/ for a folder's index.html."""
    page = await session.api.get(path, headers=site)
    assert page.status == 200, path
    assert words in page.body.decode(), (path, page.body[:2000])
    others = [path.rstrip("/")] if path.endswith("/") else [f"{path}.html", f"{path}/"]
    for other in others:
        moved = await session.api.get(f"{other}?from=link", headers=site)
        assert (moved.status, moved.headers.get("Location")) == (308, f"{path}?from=link"), \
            other


async def assert_assets_are_immutable(session: Builds, site: dict[str, str],
                                      page: str) -> None:
    """Every script and stylesheet the home page names is served and cached forever: the
    frameworks name them by content (a hash, or an immutable folder)."""
    assets = _local_assets(page)
    assert assets, "the home page names no script or stylesheet"
    caching = {}
    for asset in assets:
        response = await session.api.get(asset, headers=site)
        assert response.status == 200, asset
        caching[asset] = response.headers["Cache-Control"]
    assert all(cache == "public, max-age=31536000, immutable" for cache in caching.values()), \
        caching


def _local_assets(page: str) -> list[str]:
    class Assets(html.parser.HTMLParser):
        found: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            url = values.get("src") if tag == "script" else (
                values.get("href") if tag == "link" and values.get("rel") in
                ("stylesheet", "modulepreload") else None)
            if url and not url.startswith(("//", "http:", "https:", "data:")):
                self.found.append(urljoin("/", url).partition("?")[0])

    parser = Assets()
    parser.found = []
    parser.feed(page)
    return parser.found
