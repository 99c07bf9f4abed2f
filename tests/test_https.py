"""HTTPS as a user runs it: `server.py` with SLIPWAY_HTTPS=on, certificates from a real ACME
CA (Debian's Pebble) validated over HTTP-01 through Slipway's own plain-HTTP port.

Measured here (printed): how long the first request to a new name takes, issuance included.
"""

from __future__ import annotations

import ssl
import time
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from tests.support import pebble as pebble_support
from tests.support.https_slipway import DASHBOARD, DOMAIN, HttpsSlipway, subject_names
from tests.support.repos import make_repo
from tests.support.sites import publish_site

SITE = f"demo.{DOMAIN}"


@pytest.fixture
def slipway(tmp_path, db_url):
    http_port = pebble_support.free_port()
    with pebble_support.running(tmp_path / "pebble", http_port=http_port) as pebble:
        # GitHub sign-in configured (never reached: only the links it is given are checked).
        running = HttpsSlipway(tmp_path, db_url, pebble, http_port, extra_env={
            "GITHUB_CLIENT_ID": "Iv1.test", "GITHUB_CLIENT_SECRET": "not-a-real-secret",
            "GITHUB_URL": "http://127.0.0.1:9", "GITHUB_API_URL": "http://127.0.0.1:9"})
        running.start()
        try:
            running.token = _local_admin_token(running, db_url)
            repo = make_repo(tmp_path / "repo", {"index.html": "<p>demo</p>"})
            created = running.request("POST", DASHBOARD, "/api/projects",
                                      {"name": "demo", "repo_url": str(repo)})
            assert created.status == 201, created.body
            running.project = created.json()
            publish_site(running.deployments_dir, "demo",
                         {"index.html": "<h1>demo over https</h1>", "about.html": "<h1>about"})
            yield running
        finally:
            if running.server is not None:
                assert running.stop() == 0, running.output()


def _local_admin_token(running, db_url) -> str:
    """With GitHub sign-in configured no link is printed: `server.py login-link` makes one."""
    code = running.fresh_sign_in_link().split("#code=", 1)[1]
    answer = running.request("POST", DASHBOARD, "/api/auth/session", {"code": code})
    assert answer.status == 200, answer.body
    return answer.json()["token"]


def _wait_for_domain(slipway, hostname, status, seconds=60):
    base = f"/api/projects/{slipway.project['id']}/domains"
    deadline = time.monotonic() + seconds
    while True:
        [domain] = [d for d in slipway.request("GET", DASHBOARD, base).json()
                    if d["hostname"] == hostname]
        if domain["status"] == status or time.monotonic() > deadline:
            return domain
        time.sleep(0.3)


def test_the_dashboard_and_a_site_are_served_over_https_with_hsts(slipway, capsys):
    health = slipway.request("GET", DASHBOARD, "/api/health")
    assert health.status == 200
    assert health.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert DASHBOARD in subject_names(health.certificate)

    started = time.monotonic()
    page = slipway.request("GET", SITE, "/about")
    first = time.monotonic() - started
    assert (page.status, page.body) == (200, b"<h1>about")
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert subject_names(page.certificate) == [SITE]
    started = time.monotonic()
    slipway.request("GET", SITE, "/")
    with capsys.disabled():
        print(f"\nserver.py over https: first request to a new name (issuance included) "
              f"{first:.2f} s, next {time.monotonic() - started:.3f} s")
    assert "certificate for demo.sites.example.test issued in" in slipway.output()


def test_plain_http_redirects_to_https_keeping_path_query_and_port(slipway):
    moved = slipway.plain(SITE, "/about?ref=mail&x=%20")
    assert moved.status == 308
    assert moved.headers["Location"] == \
        f"https://{SITE}:{slipway.https_port}/about?ref=mail&x=%20"
    api = slipway.plain(DASHBOARD, "/api/projects")
    assert api.status == 308
    assert api.headers["Location"] == f"{slipway.dashboard_url}/api/projects"
    # ACME's challenges are answered, not redirected (an unknown token is simply not found).
    assert slipway.plain(SITE, "/.well-known/acme-challenge/unknown").status == 404
    assert slipway.plain("bad host!", "/").status == 400


def test_oauth_and_deploy_hook_links_follow_the_https_public_url(slipway):
    login = slipway.request("GET", DASHBOARD, "/api/auth/github")
    assert login.status == 302
    callback = f"{slipway.dashboard_url}/api/auth/github/callback"
    assert parse_qs(urlsplit(login.headers["Location"]).query)["redirect_uri"] == [callback]
    assert "Secure" in login.headers["Set-Cookie"]
    hook = slipway.request("POST", DASHBOARD,
                           f"/api/projects/{slipway.project['id']}/deploy-hook")
    assert hook.json()["url"].startswith(f"{slipway.dashboard_url}/api/hooks/")


def test_a_custom_domain_is_verified_then_served_with_its_own_certificate(slipway):
    base = f"/api/projects/{slipway.project['id']}/domains"
    added = slipway.request("POST", DASHBOARD, base, {"hostname": "www.demo-shop.test"})
    assert added.status == 201, added.body
    domain = added.json()["domain"]
    assert domain["status"] == "pending"
    assert domain["url"] == f"https://www.demo-shop.test:{slipway.https_port}"
    with pytest.raises(ssl.SSLError):  # not served, so no certificate, before it is proved
        slipway.request("GET", "www.demo-shop.test", "/")

    slipway.pebble.add_txt("_slipway.www.demo-shop.test", domain["verification"]["value"])
    checked = slipway.request("POST", DASHBOARD, f"{base}/www.demo-shop.test/verify")
    assert checked.json()["domain"]["status"] in ("verified", "active")
    domain = _wait_for_domain(slipway, "www.demo-shop.test", "active")
    assert domain["status"] == "active", domain
    assert domain["certificate"]["status"] == "issued"
    assert domain["certificate"]["expires_at"] > domain["verified_at"]

    page = slipway.request("GET", "www.demo-shop.test", "/about")
    assert (page.status, page.body) == (200, b"<h1>about")
    assert subject_names(page.certificate) == ["www.demo-shop.test"]


def test_a_failing_validation_shows_as_failed_with_the_cas_reason(slipway):
    base = f"/api/projects/{slipway.project['id']}/domains"
    domain = slipway.request("POST", DASHBOARD, base,
                             {"hostname": "broken-dns.test"}).json()["domain"]
    # The TXT record is right but the A record points elsewhere: Pebble cannot reach us.
    slipway.pebble.add_a("broken-dns.test", "127.0.0.2")
    slipway.pebble.add_txt("_slipway.broken-dns.test", domain["verification"]["value"])
    slipway.request("POST", DASHBOARD, f"{base}/broken-dns.test/verify")
    domain = _wait_for_domain(slipway, "broken-dns.test", "failed")
    assert domain["status"] == "failed", domain
    assert domain["certificate"]["status"] == "failed"
    assert "127.0.0.2" in domain["error"]
    assert "no certificate for broken-dns.test" in slipway.output()


def test_an_unknown_name_gets_no_certificate_and_no_ca_request(slipway, db_url):
    for name in ("unknown.example.test", f"nosuchproject.{DOMAIN}", f"7--demo.{DOMAIN}"):
        with pytest.raises(ssl.SSLError):
            slipway.request("GET", name, "/")
    with psycopg.connect(db_url) as conn:
        names = {row[0] for row in conn.execute("SELECT hostname FROM certificates")}
    assert names == {DASHBOARD}


def test_a_restart_reuses_the_stored_certificates(slipway, db_url):
    before = slipway.request("GET", SITE, "/").certificate
    slipway.stop()
    slipway.start()
    after = slipway.request("GET", SITE, "/")
    assert after.status == 200
    assert after.certificate["serialNumber"] == before["serialNumber"]
    assert "issued in" not in slipway.output()  # nothing asked of the CA this time
