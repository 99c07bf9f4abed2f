"""Protected previews in Chromium: the owner sets a preview password in Settings, a visitor of
the preview URL gets the password page, types the password, lands on the page first asked
for, and stays in after a reload (the unlock cookie).

Screenshots are saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from engine.deploys.releases import go_live_preview
from tests.support.browser import create_project, sign_in_local_admin
from tests.support.leaks import forbid
from tests.support.repos import make_repo
from tests.support.sites import publish_site

PASSWORD = "blue harbour 19"


@pytest.mark.gen_test(timeout=90)
async def test_a_visitor_types_the_preview_password_once_and_sees_the_preview(
    slipway_factory, page, page_errors, screenshot, tmp_path
):
    forbid(PASSWORD)
    app = await slipway_factory()
    session = await sign_in_local_admin(page, app)
    repo = make_repo(tmp_path / "blog", {"index.html": "<p>blog</p>"})
    project = await create_project(app, session, "blog", repo)
    sites = app.running.app.config.deployments_dir
    publish_site(sites, "blog", {"index.html": "<h1>Preview home</h1>",
                                 "about.html": "<h1>About the preview</h1>"}, release="900")
    go_live_preview(sites, "blog", "feature", 900)

    await page.goto(f"{app.url}/projects/{project['id']}/settings")
    protection = page.get_by_role("form", name="Protect previews with a password")
    await expect(protection.get_by_test_id("preview-protection-status")) \
        .to_have_text("Previews are public.")
    await protection.get_by_label("Preview password").fill(PASSWORD)
    await protection.get_by_role("button", name="Protect previews").click()
    await expect(protection.get_by_test_id("preview-protection-status")) \
        .to_have_text("Previews are protected.")
    await expect(protection.get_by_role("button", name="Remove protection")).to_be_visible()
    await screenshot(page, "settings-protected")

    preview = f"http://git-feature--blog.{app.running.app.config.domain}:{app.port}"
    await page.goto(preview + "/about")
    await expect(page.get_by_role("heading", name="This preview is protected")).to_be_visible()
    await expect(page.get_by_text("About the preview")).to_have_count(0)
    await screenshot(page, "password-page")
    await page.get_by_label("Password").fill("not it at all")
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("alert")).to_have_text("That password is not right.")

    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name="About the preview")).to_be_visible()
    assert page.url == preview + "/about"
    await page.reload()
    await expect(page.get_by_role("heading", name="About the preview")).to_be_visible()
    await screenshot(page, "preview-open")
    page_errors.assert_none(ignore=["401", "favicon.ico"])
