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
    pages: tuple[tuple[str, str], ...]   # (path, text its HTML holds) besides "/"
    home: str                            # text the HTML of "/" holds
    root_dir: str | None = None
    not_found_page: bool = False         # the export has a root 404.html
    assets: bool = True                  # the home page names scripts or stylesheets

    def __str__(self) -> str:
        return self.fixture


STARTERS = (
    Starter("vite-react", "Vite", "npm", 22, (), "<div id=\"root\">"),
    Starter("vite-vue", "Vite", "npm", 22, (), "<div id=\"app\">"),
    Starter("vite-svelte", "Vite", "npm", 22, (), "<div id=\"app\">"),
    Starter("nextjs", "Next.js", "npm", 22, (("/about.html", "About"),), "Next.js",
            not_found_page=True),
    Starter("sveltekit", "SvelteKit", "npm", 22, (("/about.html", "About"),), "SvelteKit"),
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
        page = await session.api.get(path, headers=site)
        assert page.status == 200, path
        assert words in page.body.decode(), (path, page.body[:2000])
    if starter.assets:
        await assert_assets_are_served_with_their_caching(session, site, home.body.decode())
    missing = await session.api.get("/no-such-asset-3f9a.js", headers=site)
    assert missing.status == 404
    if starter.not_found_page:
        release = release_dir(session.running.app.config.deployments_dir, "site", build["id"])
        assert missing.body == (release / "404.html").read_bytes()


@pytest.mark.parametrize("fixture", ["vite-react", "nextjs"])
@pytest.mark.gen_test(timeout=BUILD_SECONDS + 120)
async def test_the_starter_renders_in_chromium_without_console_errors(
        builds, tmp_path, real_node_images, page, page_errors, screenshot, fixture):
    starter = next(s for s in STARTERS if s.fixture == fixture)
    session = await builds(**REAL_BUILDS)
    build = await build_starter(session, tmp_path, starter)
    assert build["status"] == "passed", await session.text(build["id"])

    response = await page.goto(f"http://site.localhost:{session.running.port}/")
    assert response.status == 200
    await page.wait_for_load_state("networkidle")
    # The framework's script ran: the root element has rendered content.
    assert await page.evaluate("document.body.innerText.trim().length") > 0
    await screenshot(page, fixture)
    page_errors.assert_none()


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


async def assert_assets_are_served_with_their_caching(session: Builds, site: dict[str, str],
                                                      page: str) -> None:
    """Every script and stylesheet the home page names is served, cached as immutable or
    revalidated, and at least one (content-hashed) is immutable. Which names count as hashed,
    and the frameworks' immutable folders, are the next step (SPEC, serving)."""
    assets = _local_assets(page)
    assert assets, "the home page names no script or stylesheet"
    caching = {}
    for asset in assets:
        response = await session.api.get(asset, headers=site)
        assert response.status == 200, asset
        caching[asset] = response.headers["Cache-Control"]
    revalidated = ("no-cache", "public, max-age=0, must-revalidate")
    assert all("immutable" in cache or cache in revalidated for cache in caching.values()), \
        caching
    assert any("immutable" in cache for cache in caching.values()), \
        f"no content-hashed asset among {caching}"


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
