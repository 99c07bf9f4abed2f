"""The dashboard and a site over HTTPS in Chromium, with certificates Pebble issued to the
real `server.py`. Pebble's root is trusted the way a user's browser trusts a real CA: it is
added to the browser profile's NSS store (`certutil`, Debian's libnss3-tools), so no
`--ignore-certificate-errors`: a certificate that does not chain to it fails the page load.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support import pebble as pebble_support
from tests.support.browser import BrowserUnavailable, close_chromium, launch_chromium
from tests.support.https_slipway import DASHBOARD, DOMAIN, HttpsSlipway
from tests.support.repos import make_repo
from tests.support.sites import publish_site

CERTUTIL = shutil.which("certutil") or "/usr/bin/certutil"


def _trusting_profile(home, root_pem: str) -> None:
    """A HOME whose NSS store trusts `root_pem` to identify web sites (as a CA would be)."""
    store = home / ".pki" / "nssdb"
    store.mkdir(parents=True)
    root = home / "pebble-root.pem"
    root.write_text(root_pem)
    subprocess.run([CERTUTIL, "-N", "-d", f"sql:{store}", "--empty-password"], check=True)
    subprocess.run([CERTUTIL, "-A", "-d", f"sql:{store}", "-n", "Pebble test root",
                    "-t", "C,,", "-i", str(root)], check=True)


@pytest.fixture
def https_slipway(tmp_path, db_url):
    http_port = pebble_support.free_port()
    with pebble_support.running(tmp_path / "pebble", http_port=http_port) as pebble:
        running = HttpsSlipway(tmp_path, db_url, pebble, http_port)
        running.start()
        try:
            running.sign_in()
            created = running.request("POST", DASHBOARD, "/api/projects", {
                "name": "demo", "repo_url": str(make_repo(tmp_path / "repo", {"a": "b"}))})
            assert created.status == 201, created.body
            publish_site(running.deployments_dir, "demo", {
                "index.html": "<!doctype html><title>demo</title><h1>Demo over HTTPS</h1>"})
            yield running
        finally:
            assert running.stop() == 0, running.output()


@pytest.fixture
def trusting_chromium(https_slipway, tmp_path, io_loop):
    if not shutil.which(CERTUTIL):
        pytest.skip("certutil is not installed (Debian: apt-get install libnss3-tools)")
    home = tmp_path / "browser-home"
    _trusting_profile(home, https_slipway.pebble.issuing_root_pem())
    try:
        playwright, browser = io_loop.run_sync(lambda: launch_chromium(
            home=home, resolve="MAP *.example.test 127.0.0.1"), timeout=60)
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))
    yield browser
    io_loop.run_sync(lambda: close_chromium(playwright, browser), timeout=30)


@pytest.mark.gen_test(timeout=120)
async def test_the_dashboard_and_a_site_load_over_https_in_chromium(https_slipway,
                                                                    trusting_chromium):
    context = await trusting_chromium.new_context()
    page = await context.new_page()
    try:
        response = await page.goto(https_slipway.fresh_sign_in_link())
        assert response is not None and response.ok
        details = await response.security_details()
        assert details["subjectName"] == DASHBOARD
        assert "Pebble" in details["issuer"]
        assert response.headers["strict-transport-security"] == "max-age=31536000"
        await page.get_by_role("heading", name="Projects").wait_for()
        await page.get_by_role("link", name="demo").first.wait_for()
        assert page.url.startswith(f"https://{DASHBOARD}:{https_slipway.https_port}/")

        site = await page.goto(f"https://demo.{DOMAIN}:{https_slipway.https_port}/")
        assert site is not None and site.ok
        assert (await site.security_details())["subjectName"] == f"demo.{DOMAIN}"
        await page.get_by_role("heading", name="Demo over HTTPS").wait_for()
    finally:
        await context.close()
