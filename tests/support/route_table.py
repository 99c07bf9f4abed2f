"""The route matching of the contract (SPEC, "Deployments and serving") as one table, run
against Slipway's own site server (tests/handlers/test_site_serving.py) and against a real nginx
with the generated configuration (tests/engine/sites/test_nginx_config.py).

Two sites are written under a deployments directory: `mpa`, a multi-page export with a root
`404.html` and nested ones, and `spa`, a single-page app (no root `404.html`) that also holds
the frameworks' immutable folders and hash forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"
NO_CACHE = "no-cache"
PLAIN_404 = None  # the server's own 404 page, not one of the site's

SPA_SHELL = "<!doctype html><title>spa</title>spa shell"
MPA_FILES = {
    "index.html": "mpa home",
    "about.html": "about page",
    "docs/index.html": "docs index",
    "docs/guide.html": "guide page",
    "docs/404.html": "docs not found",
    "docs/assets/app.css": "body{}",
    "blog/index.html": "blog index",
    "blog/2024/404.html": "blog 2024 not found",
    "404.html": "mpa not found",
    "both.html": "both as a page",
    "both/index.html": "both as a folder",
    "raw": "a file without extension",
    "raw.html": "raw as a page",
    "café.html": "a page with an accent",
    "evil.example/index.html": "a folder named like a host",
    "empty/.keep": "",
    ".env": "SECRET=1",
}
SPA_FILES = {
    "index.html": SPA_SHELL,
    "about.html": "spa about page",
    "docs/index.html": "spa docs index",
    "logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
    "_next/static/chunks/02qshqdnek4io.js": "turbopack chunk",
    "_next/static/media/font.woff2": "font",
    "_app/immutable/chunks/entry.js": "sveltekit chunk",
    "_astro/index.css": "astro css",
    "_nuxt/entry.js": "nuxt entry",
    "_nuxt/builds/latest.json": "{}",
    "polyfills-XEMEIILL.js": "angular polyfills",
    "main-5NTSWFCX.js": "angular main",
    "assets/index-CsUDhMuy.css": "vite css",
    "assets/index-D_1pQ7xR.js": "vite js",
    "assets/logo-original.png": "png",
    "static/js/main.8f3e2a1b.js": "cra js",
    "app.3f9a2c1d.js": "hashed",
    "3f9a2c1d0e.js": "hex stem",
    "main.abcdefgh.js": "no digit, no hash",
    "html5shiv.js": "a name",
    "bootstrap4.min.js": "a name",
}


@dataclass(frozen=True)
class Row:
    site: str
    path: str
    status: int
    expect: str | None  # the body's text for 200/404 (PLAIN_404: not the site's), the Location
    cache: str | None = None  # the Cache-Control a 200 carries

    def __str__(self) -> str:
        return f"{self.site}{self.path}"


ROUTES = (
    # Clean URLs and directories.
    Row("mpa", "/", 200, "mpa home", NO_CACHE),
    Row("mpa", "/about", 200, "about page", NO_CACHE),
    Row("mpa", "/docs/", 200, "docs index", NO_CACHE),
    Row("mpa", "/docs/guide", 200, "guide page", NO_CACHE),
    Row("mpa", "/both", 200, "both as a page"),
    Row("mpa", "/both/", 200, "both as a folder"),
    Row("mpa", "/raw", 200, "a file without extension"),
    Row("mpa", "/raw.html", 200, "raw as a page"),  # /raw is another file: no redirect
    Row("mpa", "/caf%C3%A9", 200, "a page with an accent"),
    Row("mpa", "/docs/assets/app.css", 200, "body{}", REVALIDATE),
    # Canonical forms: 308, the query string kept.
    Row("mpa", "/index.html", 308, "/"),
    Row("mpa", "/index.html?x=1", 308, "/?x=1"),
    Row("mpa", "/about.html", 308, "/about"),
    Row("mpa", "/about.html?ref=nav&x=1", 308, "/about?ref=nav&x=1"),
    Row("mpa", "/about/", 308, "/about"),
    Row("mpa", "/about/?q=1", 308, "/about?q=1"),
    Row("mpa", "/docs", 308, "/docs/"),
    Row("mpa", "/docs?tab=2", 308, "/docs/?tab=2"),
    Row("mpa", "/docs/index.html", 308, "/docs/"),
    Row("mpa", "/docs/guide.html?a=b", 308, "/docs/guide?a=b"),
    Row("mpa", "/blog", 308, "/blog/"),
    Row("mpa", "/caf%C3%A9.html", 308, "/caf%C3%A9"),
    Row("mpa", "//evil.example", 308, "/evil.example/"),  # never `//host`: off the site
    # A multi-page site: the nearest 404.html, walking up from the path's directory.
    Row("mpa", "/docs/missing", 404, "docs not found"),
    Row("mpa", "/docs/a/b/c", 404, "docs not found"),
    Row("mpa", "/docs/missing/", 404, "docs not found"),
    Row("mpa", "/docs/missing.js", 404, "docs not found"),
    Row("mpa", "/blog/2024/gone", 404, "blog 2024 not found"),
    Row("mpa", "/blog/2023/gone", 404, "mpa not found"),
    Row("mpa", "/nowhere", 404, "mpa not found"),
    Row("mpa", "/nowhere/", 404, "mpa not found"),
    Row("mpa", "/nowhere.js", 404, "mpa not found"),
    Row("mpa", "/users/john.doe", 404, "mpa not found"),
    Row("mpa", "/empty", 404, "mpa not found"),
    Row("mpa", "/.env", 404, "mpa not found"),
    # A single-page app: its index for every route, dotted ones too, but not for assets.
    Row("spa", "/", 200, "spa shell", NO_CACHE),
    Row("spa", "/dashboard", 200, "spa shell", NO_CACHE),
    Row("spa", "/users/42/settings/", 200, "spa shell", NO_CACHE),
    Row("spa", "/users/john.doe", 200, "spa shell", NO_CACHE),
    Row("spa", "/v1.2/release-notes", 200, "spa shell", NO_CACHE),
    Row("spa", "/about", 200, "spa about page", NO_CACHE),
    Row("spa", "/about.html", 308, "/about"),
    Row("spa", "/docs", 308, "/docs/"),
    Row("spa", "/missing.js", 404, PLAIN_404),
    Row("spa", "/styles/missing.css", 404, PLAIN_404),
    Row("spa", "/img/missing.PNG", 404, PLAIN_404),
    Row("spa", "/fonts/missing.woff2", 404, PLAIN_404),
    Row("spa", "/app.js.map", 404, PLAIN_404),
    Row("spa", "/manifest.json", 404, PLAIN_404),
    Row("spa", "/robots.txt", 404, PLAIN_404),
    Row("spa", "/.well-known/openid-configuration", 404, PLAIN_404),
    Row("spa", "/.env", 404, PLAIN_404),
)

CACHING = (
    Row("spa", "/_next/static/chunks/02qshqdnek4io.js", 200, "turbopack chunk", IMMUTABLE),
    Row("spa", "/_next/static/media/font.woff2", 200, "font", IMMUTABLE),
    Row("spa", "/_app/immutable/chunks/entry.js", 200, "sveltekit chunk", IMMUTABLE),
    Row("spa", "/_astro/index.css", 200, "astro css", IMMUTABLE),
    Row("spa", "/_nuxt/entry.js", 200, "nuxt entry", IMMUTABLE),
    Row("spa", "/_nuxt/builds/latest.json", 200, "{}", REVALIDATE),
    Row("spa", "/polyfills-XEMEIILL.js", 200, "angular polyfills", IMMUTABLE),
    Row("spa", "/main-5NTSWFCX.js", 200, "angular main", IMMUTABLE),
    Row("spa", "/assets/index-CsUDhMuy.css", 200, "vite css", IMMUTABLE),
    Row("spa", "/assets/index-D_1pQ7xR.js", 200, "vite js", IMMUTABLE),
    Row("spa", "/assets/logo-original.png", 200, "png", REVALIDATE),
    Row("spa", "/static/js/main.8f3e2a1b.js", 200, "cra js", IMMUTABLE),
    Row("spa", "/app.3f9a2c1d.js", 200, "hashed", IMMUTABLE),
    Row("spa", "/3f9a2c1d0e.js", 200, "hex stem", IMMUTABLE),
    Row("spa", "/main.abcdefgh.js", 200, "no digit, no hash", REVALIDATE),
    Row("spa", "/html5shiv.js", 200, "a name", REVALIDATE),
    Row("spa", "/bootstrap4.min.js", 200, "a name", REVALIDATE),
    Row("spa", "/logo.svg", 200, "<svg", REVALIDATE),
)


def write_route_sites(deployments: Path) -> None:
    """The two sites, each live as `<name>.<domain>` (current → releases/1)."""
    for name, files in (("mpa", MPA_FILES), ("spa", SPA_FILES)):
        release = deployments / name / "releases" / "1"
        for path, text in files.items():
            (release / path).parent.mkdir(parents=True, exist_ok=True)
            (release / path).write_text(text)
        (deployments / name / "current").symlink_to("releases/1")


def check(row: Row, status: int, headers, body: bytes) -> None:
    """Assert that an answer is what `row` says; `headers` is any mapping of header names."""
    assert status == row.status, (str(row), status, body[:200])
    if 300 <= row.status < 400:
        assert headers["Location"] == row.expect, str(row)
        return
    if row.expect is PLAIN_404:
        assert b"spa " not in body, (str(row), body[:200])  # none of the site's pages
    else:
        assert row.expect.encode() in body, (str(row), body[:200])
    if row.cache is not None:
        assert headers["Cache-Control"] == row.cache, str(row)
