"""What a new user meets first, in Chromium against the real Slipway: the New project form
(the site's real address, a name suggested from the pasted repository, errors shown at the
input at fault in the words of its label), a deployed build's page leading with the production
address, the live build marked in the Builds tab, the detected build settings in Settings, and
no preview branches offered for a repository on this machine.

Screenshots of each page are saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.support.browser import (
    SITE_TEXT,
    BrowserApp,
    create_project,
    node_site_files,
    sign_in_local_admin,
)
from tests.support.repos import make_repo

BUILD_SECONDS = 120


async def signed_in_admin(page: Page, app: BrowserApp) -> dict:
    session = await sign_in_local_admin(page, app)
    await expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    return session


@pytest.mark.gen_test(timeout=60)
async def test_new_project_shows_the_real_address_suggests_a_name_and_puts_errors_at_their_input(
    slipway_factory, page, page_errors, screenshot, tmp_path
):
    app = await slipway_factory()
    repo = make_repo(tmp_path / "Hello", {"index.html": "<p>hello</p>"})
    await signed_in_admin(page, app)
    await page.get_by_role("link", name="New project").first.click()

    hint = page.locator("#name-help")
    await expect(hint).to_contain_text(f"(name.localhost:{app.port})")
    name = page.get_by_label("Project name")

    # A pasted path (or URL) suggests its last segment, lower-cased, until a name is typed
    # (pressing Deploy first, which asks for a name, types none).
    await page.get_by_role("button", name="Deploy").click()
    await expect(page.get_by_text("A name is required.")).to_be_visible()
    await page.get_by_label("Git repository URL").fill(str(repo))
    await expect(name).to_have_value("hello")
    await expect(hint).to_contain_text(f"(hello.localhost:{app.port})")
    await page.get_by_label("Git repository URL").fill("https://github.com/ada/My_Site.git")
    await expect(name).to_have_value("my-site")
    await name.fill("mine")
    await page.get_by_label("Git repository URL").fill(str(repo))
    await expect(name).to_have_value("mine")
    await expect(hint).to_contain_text(f"(mine.localhost:{app.port})")

    # A bad variable name is reported at the variable, and the project's name stays valid.
    await page.get_by_role("button", name="Add variable").click()
    await page.get_by_label("Variable 1 name").fill("MY-VAR")
    await page.get_by_label("Variable 1 value").fill("x")
    await page.get_by_role("button", name="Deploy").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_have_count(1)
    await expect(alert).to_contain_text("a secret's name must be letters, digits and _")
    await expect(page.get_by_label("Variable 1 name")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Variable 1 value")).to_have_attribute("aria-invalid", "false")
    await expect(name).to_have_attribute("aria-invalid", "false")
    row_error_id = await page.get_by_label("Variable 1 name").get_attribute("aria-describedby")
    assert await alert.get_attribute("id") == row_error_id
    await screenshot(page, "new-project-variable-error")

    # Editing the variable clears its error; a field error names the field by its label.
    await page.get_by_label("Variable 1 name").fill("MY_VAR")
    await expect(alert).to_have_count(0)
    await page.get_by_label("Git repository URL").fill("http://example.com/ada/site.git")
    await page.get_by_role("button", name="Deploy").click()
    await expect(alert).to_have_text("Repository must use https://, not http://")
    await screenshot(page, "new-project-repository-error")
    assert page.url.endswith("/new")
    page_errors.assert_none(ignore=["400"])


@pytest.mark.gen_test(timeout=300)
async def test_a_local_project_shows_its_production_address_live_build_and_detected_settings(
    slipway, page, page_errors, screenshot, tmp_path
):
    repo = make_repo(tmp_path / "hello", node_site_files(SITE_TEXT, log_lines=2, delay_ms=50))
    session = await signed_in_admin(page, slipway)
    headers = {"Authorization": f"Bearer {session['token']}"}
    project = await create_project(slipway, session, "hello", repo)
    first = project["latest_build"]["id"]
    production = slipway.site_url("hello")
    immutable = slipway.site_url("hello", build_id=first)

    # Watched live: the build page leads with the production address once it is deployed.
    await page.goto(f"{slipway.url}/builds/{first}")
    await expect(page.get_by_test_id("build-status")).to_have_text(
        "Ready", timeout=BUILD_SECONDS * 1000)
    await expect(page.locator(".fact", has_text="Deployed at")).to_be_visible()
    deployed_at = page.get_by_test_id("build-address")
    await expect(deployed_at.get_by_role("link")).to_have_attribute("href", production)
    own = page.get_by_test_id("build-own-address")
    await expect(own).to_contain_text("This build's own address")
    await expect(own.get_by_role("link")).to_have_attribute("href", immutable)
    await expect(page.get_by_role("link", name="Visit")).to_have_attribute("href", production)
    # And the same after a reload, from the stored deployment.
    await page.reload()
    await expect(deployed_at.get_by_role("link")).to_have_text(production.removeprefix("http://"))
    await expect(own.get_by_role("link")).to_have_text(immutable.removeprefix("http://"))
    await screenshot(page, "deployed-build")

    # The Builds tab marks the build production serves, and moves the mark with a new deploy.
    await page.goto(f"{slipway.url}/projects/{project['id']}")
    rows = page.get_by_test_id("build-row")
    await expect(rows.and_(page.locator(f"[data-build='{first}']")).get_by_text(
        "Live", exact=True)).to_be_visible()
    queued = await slipway.api.post(f"/api/projects/{project['id']}/builds", headers=headers)
    assert queued.status == 202, queued.body
    second = queued.json()["build"]["id"]
    second_row = rows.and_(page.locator(f"[data-build='{second}']"))
    await expect(second_row.get_by_text("Live", exact=True)).to_be_visible(
        timeout=BUILD_SECONDS * 1000)
    await expect(page.locator(".tag-live")).to_have_count(1)
    await screenshot(page, "builds-tab-live")

    # Settings: empty overrides show what the latest build detected, not "detected".
    await page.goto(f"{slipway.url}/projects/{project['id']}/settings")
    await expect(page.get_by_test_id("detected-from")).to_contain_text(
        f"Empty fields use what build #{second} detected")
    await expect(page.get_by_label("Install command")).to_have_attribute(
        "placeholder", "npm install")
    await expect(page.get_by_label("Build command")).to_have_attribute(
        "placeholder", "npm run build")
    await expect(page.get_by_label("Output directory")).to_have_attribute("placeholder", "dist")
    await expect(page.get_by_label("Framework").locator("option").first).to_have_text(
        "Detect automatically (detected: static site)")
    await screenshot(page, "settings-detected")

    # A repository on this machine never receives pushes: no preview branches are offered.
    await page.goto(f"{slipway.url}/projects/{project['id']}/deployments")
    await expect(page.get_by_test_id("previews-unavailable")).to_contain_text(
        "Not available for a repository on this machine")
    await expect(page.get_by_text("Pushes to branches other than")).to_have_count(0)
    await screenshot(page, "deployments-local-repository")
    page_errors.assert_none()
