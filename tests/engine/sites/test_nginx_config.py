"""The generated nginx configuration: its host patterns as text, then a real nginx serving a
deployments tree with it, checked over HTTP as a browser would see it.

The nginx tests need /usr/sbin/nginx (Debian: apt-get install nginx-light) and skip without it;
SLIPWAY_NO_SKIP turns that skip into a failure in CI.
"""

from __future__ import annotations

import gzip
import http.client
import http.server
import json
import os
import pwd
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.config import Config, ConfigError
from engine.sites.immutable_paths import IMMUTABLE_PATH_PATTERNS
from engine.sites.names import RESERVED_NAMES
from engine.sites.nginx_config import IMMUTABLE, REVALIDATE, nginx_config
from tests.support import route_table

NGINX = Path("/usr/sbin/nginx")
DOMAINS = ["example.com", "sites.my-host.dev", "localhost"]


def _config(domain: str = "example.com", **overrides) -> Config:
    values = {"domain": domain, "deployments_dir": Path("/srv/slipway/deployments"),
              "public_url": f"https://{domain}", "port": 8080, **overrides}
    return Config(**values)


def _site_patterns(text: str) -> list[re.Pattern[str]]:
    """The regex server names in file order, translated from PCRE's (?<name>) to Python's."""
    raw = re.findall(r'^\s*server_name "~(.*)";$', text, re.MULTILINE)
    return [re.compile(pattern.replace("(?<", "(?P<")) for pattern in raw]


def _route(text: str, host: str) -> dict[str, str] | None:
    """What nginx's regex server names make of `host`: the first match's captures."""
    for pattern in _site_patterns(text)[:3]:
        match = pattern.match(host)
        if match:
            return match.groupdict()
    return None


# --- the text ---


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_three_host_forms_capture_project_release_and_preview(domain):
    text = nginx_config(_config(domain))
    assert _route(text, f"shop.{domain}") == {"project": "shop"}
    assert _route(text, f"my-app2.{domain}") == {"project": "my-app2"}
    assert _route(text, f"42--shop.{domain}") == {"build_id": "42", "project": "shop"}
    assert _route(text, f"git-feature-x--shop.{domain}") == {"slug": "feature-x",
                                                               "project": "shop"}
    assert _route(text, f"git-a--b--shop.{domain}") == {"slug": "a--b", "project": "shop"}
    assert _route(text, f"{'a' * 63}.{domain}") == {"project": "a" * 63}


@pytest.mark.parametrize("domain", DOMAINS)
def test_hosts_that_name_no_site_match_no_site_pattern(domain):
    text = nginx_config(_config(domain))
    hosts = [
        domain, f"shop.{domain}.evil.com", f"shopx{domain}", f"a.b.{domain}",
        f"-shop.{domain}", f"shop-.{domain}", f"sh_op.{domain}", f"foo--bar.{domain}",
        f"{'a' * 64}.{domain}", f"x--git-y--shop.{domain}", f"git---shop.{domain}",
        f"42--.{domain}", "shop.other.test",
    ]
    if "." in domain:  # an unescaped dot in the pattern would accept any character there
        hosts.append(f"shop.{domain.replace('.', 'x')}")
    for host in hosts:
        assert _route(text, host) is None, host
    # The last pattern catches every other host under the domain, to answer 404.
    catch_all = _site_patterns(text)[3]
    assert catch_all.search(f"a.b.{domain}")
    assert not catch_all.search(f"a.b.{domain}x")


@pytest.mark.parametrize("domain", DOMAINS)
def test_the_domain_and_every_reserved_name_go_to_slipway_by_exact_name(domain):
    text = nginx_config(_config(domain))
    names = re.search(r"server_name ([^;\"]*);", text)[1].split()
    assert names[0] == domain
    assert set(names[1:]) == {f".{name}.{domain}" for name in RESERVED_NAMES}
    assert "proxy_pass http://127.0.0.1:8080;" in text


def test_dots_of_the_domain_are_escaped_in_every_pattern():
    text = nginx_config(_config("sites.my-host.dev"))
    for pattern in re.findall(r'server_name "~(.*)";', text):
        assert pattern.endswith(r"\.sites\.my-host\.dev$")


def test_the_public_url_host_reaches_slipway_when_it_is_outside_the_domain():
    text = nginx_config(_config(public_url="https://deploy.other.org"))
    assert re.search(r"server_name example\.com[^;]*\s+deploy\.other\.org;", text)
    covered = nginx_config(_config(public_url="https://www.example.com"))
    names = re.search(r"server_name ([^;\"]*);", covered)[1].split()
    assert "www.example.com" not in names


def test_the_proxy_target_follows_a_specific_bind_address_and_port():
    text = nginx_config(_config(bind="10.0.0.5", port=9000))
    assert text.count("proxy_pass http://10.0.0.5:9000;") == 2


def test_the_header_names_the_settings_and_admits_redirect_rules_are_not_applied():
    text = nginx_config(_config())
    header = text[: text.index("map ")]
    assert all(line.startswith("#") or not line for line in header.splitlines())
    for setting in ["SLIPWAY_DOMAIN=example.com", "SLIPWAY_PORT=8080",
                    "SLIPWAY_DEPLOYMENTS_DIR=/srv/slipway/deployments",
                    "SLIPWAY_PUBLIC_URL=https://example.com"]:
        assert setting in header
    assert "NOT applied here: a site's _redirects and _headers files" in header


def test_brotli_is_offered_commented_out_since_debian_nginx_lacks_the_module():
    text = nginx_config(_config())
    assert "brotli_static" not in re.sub(r"#.*", "", text)
    assert "#     brotli_static on;" in text


def test_the_output_is_deterministic_and_uses_an_absolute_deployments_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(deployments_dir=Path("deployments"))
    assert nginx_config(config) == nginx_config(config)
    assert f'root "{tmp_path}/deployments/$project/current";' in nginx_config(config)


def test_the_listen_argument_sets_every_listen_line():
    text = nginx_config(_config(), listen="127.0.0.1:8081")
    assert text.count("listen 127.0.0.1:8081;") == 5
    assert "listen 80;" in nginx_config(_config())
    with pytest.raises(ValueError):
        nginx_config(_config(), listen="80; include /etc/passwd")


@pytest.mark.parametrize("path", ["/srv/$project", '/srv/"quoted"', "/srv/new\nline"])
def test_a_deployments_dir_nginx_cannot_express_is_refused_naming_the_setting(path):
    with pytest.raises(ConfigError, match=r"^SLIPWAY_DEPLOYMENTS_DIR \(--deployments-dir\)"):
        nginx_config(_config(deployments_dir=Path(path)))


def test_releases_in_s3_are_refused_as_nginx_reads_only_files():
    with pytest.raises(ConfigError, match=r"^SLIPWAY_STORAGE \(--storage\) is s3://b/p: nginx"):
        nginx_config(_config(storage="s3://b/p"))


def test_an_ephemeral_port_cannot_be_proxied_to():
    with pytest.raises(ConfigError, match=r"^SLIPWAY_PORT \(--port\)"):
        nginx_config(_config(port=0))


def test_the_immutable_paths_are_written_as_slipway_decides_them():
    text = nginx_config(_config())
    for pattern in IMMUTABLE_PATH_PATTERNS:
        assert f'"~{pattern}" "{IMMUTABLE}";' in text
    assert f'default "{REVALIDATE}";' in text


# --- a real nginx ---


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


@dataclass
class RunningNginx:
    port: int
    domain: str

    def get(self, host: str, path: str = "/", **headers: str) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path, headers={"Host": host, **headers})
            response = connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            connection.close()

    def site(self, label: str, path: str = "/", **headers: str) -> Response:
        return self.get(f"{label}.{self.domain}", path, **headers)


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """Stands in for Slipway: answers with the request line and headers it received."""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls.
        body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)


APP_JS = b"console.log('hashed asset');\n" * 20


def _build_deployments(root: Path) -> None:
    shop = root / "shop"
    release = shop / "releases" / "42"
    _write(release / "index.html", "<h1>shop release 42</h1>")
    _write(release / "404.html", "<h1>shop has no such page</h1>")
    _write(release / "docs" / "index.html", "<h1>shop docs</h1>")
    _write(release / "assets" / "app.3f9a1c2b.js", APP_JS)
    _write(release / "assets" / "app.3f9a1c2b.js.gz", gzip.compress(APP_JS, mtime=0))
    _write(release / "logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>")
    _write(release / ".env", "SECRET=do-not-serve")
    _write(release / ".git" / "config", "[core]")
    _write(release / ".well-known" / "security.txt", "Contact: mailto:security@example.com")
    _write(release / "_redirects", "/old /new 301")
    _write(release / "_headers", "/*\n  X-Frame-Options: DENY")
    (release / "passwd.txt").symlink_to("/etc/passwd")
    (release / "etc").symlink_to("/etc")
    (release / "home.html").symlink_to("index.html")
    _write(shop / "releases" / "41" / "index.html", "<h1>shop release 41</h1>")
    (shop / "current").symlink_to("releases/42")
    (shop / "previews").mkdir()
    (shop / "previews" / "feature-x").symlink_to("../releases/41")
    blog = root / "blog"
    _write(blog / "releases" / "7" / "index.html", "<h1>blog</h1>")
    (blog / "current").symlink_to("releases/7")


def _main_config(prefix: Path, sites_conf: Path) -> str:
    # Everything nginx writes stays under the prefix, so no root-owned path is needed. Run as
    # root, the workers would drop to "nobody", who cannot read pytest's private tmp directory.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {prefix}/temp/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (
        f"{user}worker_processes 1;\n"
        "daemon off;\n"
        f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        "    default_type application/octet-stream;\n"
        f"    access_log {prefix}/access.log;\n"
        f"{temp}\n"
        f"    include {sites_conf};\n"
        "}\n"
    )


def _nginx(prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NGINX), "-p", f"{prefix}/", "-e", f"{prefix}/error.log",
         "-c", f"{prefix}/nginx.conf", *args],
        capture_output=True, text=True, timeout=30, check=False,
    )


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, prefix: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited: {(prefix / 'error.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    pytest.fail("nginx did not start listening within 10 s")


@pytest.fixture(scope="module")
def slipway_stand_in() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _require_nginx() -> None:
    if not NGINX.exists():
        pytest.skip(f"nginx is not installed at {NGINX} (Debian: apt-get install nginx-light)")


def _prepare(prefix: Path, config: Config, listen: str) -> None:
    """A main nginx.conf under `prefix` that includes the generated file, then `nginx -t`."""
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "temp" / kind).mkdir(parents=True)
    (prefix / "slipway.conf").write_text(nginx_config(config, listen=listen))
    (prefix / "nginx.conf").write_text(_main_config(prefix, prefix / "slipway.conf"))
    checked = _nginx(prefix, "-t")
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("domain", DOMAINS)
def test_nginx_accepts_the_generated_configuration(tmp_path, domain):
    _require_nginx()
    config = _config(domain, deployments_dir=tmp_path / "deployments dir")
    _prepare(tmp_path, config, listen=f"127.0.0.1:{_free_port()}")


@pytest.fixture(scope="module")
def nginx(tmp_path_factory, slipway_stand_in) -> Iterator[RunningNginx]:
    _require_nginx()
    prefix = tmp_path_factory.mktemp("nginx")
    deployments = prefix / "deployments"
    _build_deployments(deployments)
    route_table.write_route_sites(deployments)
    domain = "sites.example.test"
    port = _free_port()
    config = Config(domain=domain, deployments_dir=deployments, port=slipway_stand_in,
                    bind="127.0.0.1", public_url="http://dashboard.example.org")
    _prepare(prefix, config, listen=f"127.0.0.1:{port}")

    process = subprocess.Popen([str(NGINX), "-p", f"{prefix}/", "-e", f"{prefix}/error.log",
                                "-c", f"{prefix}/nginx.conf"])
    try:
        _wait_until_listening(process, port, prefix)
        yield RunningNginx(port, domain)
    finally:
        stopped = _nginx(prefix, "-s", "quit")
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert stopped.returncode == 0, stopped.stderr


def test_the_live_release_is_served_at_the_project_host(nginx):
    response = nginx.site("shop")
    assert response.status == 200
    assert response.body == b"<h1>shop release 42</h1>"
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["ETag"]


def test_the_host_is_matched_case_insensitively_with_a_port_and_a_trailing_dot(nginx):
    response = nginx.get(f"SHOP.Sites.Example.TEST.:{nginx.port}")
    assert (response.status, response.body) == (200, b"<h1>shop release 42</h1>")


@pytest.mark.parametrize("row", route_table.ROUTES + route_table.CACHING, ids=str)
def test_route_matching_follows_the_contract(nginx, row):
    response = nginx.site(row.site, row.path)
    route_table.check(row, response.status, response.headers, response.body)
    if response.status != 200:
        assert response.headers["Cache-Control"] == "no-cache"


def test_a_site_without_404_page_serves_its_index_for_routes(nginx):
    response = nginx.site("blog", "/account/settings")
    assert (response.status, response.body) == (200, b"<h1>blog</h1>")
    assert response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/docs%2Fguide", "/docs%5cguide", "/a%00b", "/a%0d%0aX:1",
                                  "/a\\b.html"])
def test_paths_a_file_path_cannot_hold_answer_404_and_never_redirect(nginx, path):
    response = nginx.site("mpa", path)
    if response.status == 400:  # nginx's own refusal, before any route (%00)
        assert b"mpa" not in response.body
    else:
        assert response.status == 404
        assert response.body.endswith(b"not found")  # one of the site's 404 pages
    assert "Location" not in response.headers


def test_a_missing_asset_is_a_404_with_the_sites_404_page(nginx):
    response = nginx.site("shop", "/assets/missing.js")
    assert (response.status, response.body) == (404, b"<h1>shop has no such page</h1>")
    assert response.headers["Cache-Control"] == "no-cache"


def test_a_missing_asset_without_a_404_page_is_a_plain_404(nginx):
    response = nginx.site("blog", "/missing.css")
    assert response.status == 404
    assert b"404 Not Found" in response.body


@pytest.mark.parametrize("path", ["/.env", "/.git/config", "/.git/", "/assets/.env",
                                  "/_redirects", "/_headers"])
def test_dotfiles_and_rule_files_are_never_served(nginx, path):
    response = nginx.site("shop", path)
    assert (response.status, response.body) == (404, b"<h1>shop has no such page</h1>")


def test_well_known_files_are_served_despite_the_dot(nginx):
    response = nginx.site("shop", "/.well-known/security.txt")
    assert (response.status, response.body) == (200, b"Contact: mailto:security@example.com")


def test_a_symlink_out_of_the_release_is_refused(nginx):
    response = nginx.site("shop", "/passwd.txt")
    assert (response.status, response.body) == (404, b"<h1>shop has no such page</h1>")


@pytest.mark.parametrize("path", ["/etc/passwd", "/etc/hostname", "/etc/"])
def test_a_path_through_a_refused_link_is_missing(nginx, path):
    response = nginx.site("shop", path)
    assert (response.status, response.body) == (404, b"<h1>shop has no such page</h1>")


def test_even_a_symlink_within_the_release_is_refused(nginx):
    # Stricter than Slipway's own server, which follows links that stay inside the release.
    assert nginx.site("shop", "/home.html").status == 404


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                                  "/assets/..%2f..%2f..%2fetc/passwd"])
def test_traversal_never_leaves_the_release(nginx, path):
    response = nginx.site("shop", path)
    assert response.status in (400, 404)
    assert b"root:" not in response.body


def test_a_content_hashed_asset_is_immutable_and_plain_files_are_not(nginx):
    response = nginx.site("shop", "/assets/app.3f9a1c2b.js")
    assert (response.status, response.body) == (200, APP_JS)
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert nginx.site("shop", "/logo.svg").headers["Cache-Control"] == REVALIDATE


def test_a_precompressed_sibling_is_sent_to_clients_that_accept_gzip(nginx):
    response = nginx.site("shop", "/assets/app.3f9a1c2b.js", **{"Accept-Encoding": "gzip, br"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(response.body) == APP_JS
    assert response.headers["Cache-Control"] == IMMUTABLE


@pytest.mark.parametrize(("path", "cache_control"), [
    ("/assets/app.3f9a1c2b.js", IMMUTABLE), ("/", "no-cache"), ("/account", "no-cache"),
    ("/docs/", "no-cache"), ("/about", "no-cache"),
])
def test_a_matching_etag_answers_304_with_the_same_cache_control(nginx, path, cache_control):
    site = "shop" if path.startswith("/assets") else "spa"
    etag = nginx.site(site, path).headers["ETag"]
    response = nginx.site(site, path, **{"If-None-Match": etag})
    assert response.status == 304
    assert response.headers["Cache-Control"] == cache_control


def test_a_range_answers_206(nginx):
    partial = nginx.site("shop", "/assets/app.3f9a1c2b.js", Range="bytes=0-6")
    assert (partial.status, partial.body) == (206, b"console")


def test_a_build_id_host_serves_that_release_and_caches_all_but_html_forever(nginx):
    assert nginx.site("1--spa", "/logo.svg").headers["Cache-Control"] == IMMUTABLE
    assert nginx.site("1--spa", "/about").headers["Cache-Control"] == "no-cache"
    assert nginx.site("1--spa", "/missing.js").headers["Cache-Control"] == "no-cache"
    assert nginx.site("41--shop").body == b"<h1>shop release 41</h1>"
    assert nginx.site("42--shop").body == b"<h1>shop release 42</h1>"
    assert nginx.site("40--shop").status == 404


def test_a_preview_host_serves_the_branch_release(nginx):
    response = nginx.site("git-feature-x--shop", "/some/route")
    assert (response.status, response.body) == (200, b"<h1>shop release 41</h1>")


def test_hosts_that_name_no_site_answer_404(nginx):
    assert nginx.site("nosuchproject").status == 404
    assert nginx.site("a.shop").status == 404
    assert nginx.site("foo--shop").status == 404


def test_reserved_hosts_and_the_bare_domain_are_proxied_to_slipway(nginx):
    for host in [nginx.domain, f"api.{nginx.domain}", f"WWW.{nginx.domain}",
                 f"x.dashboard.{nginx.domain}", "dashboard.example.org"]:
        response = nginx.get(host, "/api/health?full=1")
        assert response.status == 200, host
        seen = json.loads(response.body)
        assert seen["path"] == "/api/health?full=1"
        assert seen["headers"]["Host"] == host.lower()
        assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"
        assert seen["headers"]["X-Forwarded-Proto"] == "http"


def test_socket_io_is_proxied_with_the_websocket_upgrade_headers(nginx):
    response = nginx.get(f"api.{nginx.domain}", "/socket.io/?EIO=4&transport=websocket",
                         Upgrade="websocket", Connection="Upgrade")
    headers = json.loads(response.body)["headers"]
    assert headers["Upgrade"] == "websocket"
    assert headers["Connection"] == "upgrade"
    plain = json.loads(nginx.get(f"api.{nginx.domain}", "/api/me").body)["headers"]
    assert "Upgrade" not in plain

