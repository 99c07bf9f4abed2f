"""A project without Git in Chromium: created from the New project page's "No Git" choice,
published with `slipway deploy` (a real process, with an API token), and shown live on its
page the moment the upload lands, without a reload.

Screenshots are saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.support.browser import PageErrors, sign_in_local_admin

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.gen_test(timeout=120)
async def test_a_project_without_git_goes_live_from_the_cli(slipway_factory, new_page,
                                                            screenshot, tmp_path):
    app = await slipway_factory()
    page = await new_page()
    errors = PageErrors.watch(page)
    session = await sign_in_local_admin(page, app)

    await page.get_by_role("link", name="New project").first.click()
    await page.get_by_role("tab", name="No Git: deploy from CI").click()
    await page.get_by_label("Project name").fill("from-ci")
    await expect(page.get_by_text("slipway deploy dist --project from-ci")).to_be_visible()
    await page.get_by_role("button", name="Create project").click()
    await page.wait_for_url(re.compile(r"/projects/\d+$"))
    await expect(page.get_by_text("No Git repository")).to_be_visible()
    await expect(page.get_by_role("button", name="Deploy now")).to_have_count(0)
    await expect(page.get_by_text("Nothing is live yet: run slipway deploy")).to_be_visible()

    created = await app.api.post("/api/tokens", json_body={"name": "ci", "scopes": ["deploy"]},
                                 headers={"Authorization": f"Bearer {session['token']}"})
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text('<h1 id="content">Sent from CI</h1>')
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "slipway_cli", "deploy", str(dist), "--project", "from-ci",
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SLIPWAY_URL": app.url,
             "SLIPWAY_TOKEN": created.json()["token"]},
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await cli.communicate()
    assert cli.returncode == 0, err.decode()
    assert out.decode().strip() == app.site_url("from-ci")

    # The page hears the deployment over Socket.io: the live link appears by itself.
    await expect(page.get_by_role("link", name="Visit")).to_be_visible()
    await screenshot(page, "project-without-git")
    errors.assert_none()
    await page.get_by_role("navigation", name="Project sections").get_by_role(
        "link", name="Deployments").click()
    await expect(page.get_by_test_id("deployment-row").first).to_contain_text("Upload")
    await page.goto(app.site_url("from-ci") + "/")
    await expect(page.locator("#content")).to_have_text("Sent from CI")
