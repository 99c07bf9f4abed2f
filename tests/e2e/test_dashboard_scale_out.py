"""The dashboard in a scale-out setup (SPEC "Scale-out"), in Chromium: separate `server.py`
processes (two web, one worker) sharing only PostgreSQL, Redis and the S3 release store, so
whatever the browser sees of a build crossed from the worker through Redis, and its site
through the bucket."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.support.browser import node_site_files
from tests.support.cluster import s3_cluster, signed_in
from tests.support.repos import make_repo

BUILD_SECONDS = 120
LOG_LINES = 10
SITE_TEXT = "Built on a worker"


@pytest.fixture
def cluster(tmp_path, postgres, node_image, docker_client, s3_server):
    with s3_cluster(tmp_path, postgres, node_image, docker_client, s3_server) as cluster:
        yield cluster


@pytest.mark.gen_test(timeout=240)
async def test_a_build_started_through_one_web_process_is_followed_live_on_another(
    cluster, dashboard_dir, page, page_errors, screenshot, tmp_path
):
    # Every process is given the same public URL (as the README asks): A's, standing in for
    # the load balancer. A's own is that by default.
    web_a = cluster.web("web-a")
    dashboard = f"http://localhost:{web_a.port}"
    cluster.web("web-b", SLIPWAY_PUBLIC_URL=dashboard)
    cluster.worker("worker-1", SLIPWAY_PUBLIC_URL=dashboard)
    await page.goto(f"{dashboard}/login#code={cluster.sign_in_code('web-a')}")
    await expect(page.get_by_role("heading", name="Projects")).to_be_visible()

    # The same administrator, signed in on B, creates the project there: its first build is
    # queued at once, for the worker. One line every 300 ms gives the page lines to follow.
    api_b, headers_b, _ = await signed_in(cluster, "web-b")
    repo = make_repo(tmp_path / "relay", node_site_files(SITE_TEXT, log_lines=LOG_LINES,
                                                         delay_ms=300))
    created = await api_b.post("/api/projects", headers=headers_b,
                               json_body={"name": "relay", "repo_url": str(repo)})
    assert created.status == 201, created.body
    build_id = created.json()["latest_build"]["id"]

    await page.goto(f"{dashboard}/builds/{build_id}")
    await expect(page).to_have_title(f"Build #{build_id} · relay · Slipway")
    # Live: some of the build's lines are on the page while it still says Building, and
    # the rest arrive without a reload.
    await page.wait_for_function(
        """lines => {
          const status = document.querySelector('[data-testid="build-status"]');
          const shown = [...document.querySelectorAll('.log-line')]
            .filter(line => /building page \\d+ of /.test(line.textContent)).length;
          return status?.textContent.trim() === 'Building' && shown > 0 && shown < lines;
        }""", arg=LOG_LINES, timeout=BUILD_SECONDS * 1000)
    await screenshot(page, "build-running-on-worker")
    await page.evaluate("window.__notReloaded = true")
    last_line = page.locator(".log-line", has_text=f"building page {LOG_LINES} of {LOG_LINES}")
    await expect(last_line).to_be_visible(timeout=BUILD_SECONDS * 1000)
    await expect(page.get_by_test_id("build-status")).to_have_text(
        "Ready", timeout=BUILD_SECONDS * 1000)
    await expect(page.locator(".log-line-system", has_text="Build passed")).to_be_visible()
    assert await page.evaluate("window.__notReloaded") is True
    await screenshot(page, "build-passed-on-worker")
    page_errors.assert_none()

    # "Visit" opens the site on A, fetched from the bucket: A never shared a directory with
    # the worker that built it.
    visit = page.get_by_role("link", name="Visit")
    await expect(visit).to_have_attribute("href", f"http://relay.localhost:{web_a.port}")
    async with page.expect_popup() as opened:
        await visit.click()
    site = await opened.value
    await expect(site.locator("#content")).to_have_text(SITE_TEXT)
