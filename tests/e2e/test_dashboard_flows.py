"""What a user does in the dashboard, in Chromium, against the real Slipway, the fake GitHub
and the real Docker engine: sign in with GitHub, import a repository, watch its first build's
log live, visit the site, push a change and see the new build arrive without reloading, roll
back, keep a secret's value out of the page, and see nothing of another user's projects.

Screenshots of each main page are saved under test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from playwright.async_api import Page, expect

from handlers.realtime import disconnect_user
from tests.support.accounts import sign_in_github_user
from tests.support.browser import SITE_TEXT, BrowserApp, node_site_files, sign_in_local_admin
from tests.support.browser import sign_in_with_github as oauth_sign_in
from tests.support.repos import make_repo

BUILD_SECONDS = 120
SECRET_VALUE = "s3cr3t-value-never-shown"


async def site_text(page: Page, url: str) -> str:
    response = await page.goto(url + "/")
    assert response.status == 200, url
    return await page.inner_text("#content")


async def signed_in_admin(page: Page, app: BrowserApp) -> dict:
    """The local administrator, signed in through the dashboard, on the projects page."""
    session = await sign_in_local_admin(page, app)
    await expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    return session


async def stored_line_count(app: BrowserApp, token: str, build_id: int) -> int:
    response = await app.api.get(f"/api/builds/{build_id}/logs?limit=5000",
                                 headers={"Authorization": f"Bearer {token}"})
    return len(response.json()["lines"])


@pytest.mark.gen_test(timeout=400)
async def test_a_github_user_deploys_pushes_rolls_back_and_sets_a_secret(
    slipway, github, github_site, page, page_errors, screenshot, new_page
):
    # A slower first version, so its log can be watched while the build runs.
    github.push(github_site.repo, node_site_files(SITE_TEXT, log_lines=24, delay_ms=250),
                message="First version")

    # Sign in through GitHub from the sign-in page.
    await page.goto(slipway.url + "/")
    await page.wait_for_url("**/login")
    continue_with_github = page.get_by_role("link", name="Continue with GitHub")
    await expect(continue_with_github).to_be_visible()
    await screenshot(page, "sign-in")
    session = await oauth_sign_in(page, slipway, github, github_site.user,
                                  start=continue_with_github.click)
    await expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    await expect(page.get_by_text("No projects yet")).to_be_visible()
    assert session["user"]["username"] == "ada"
    assert "token" not in page.url and "code=" not in page.url

    # Import the repository from the picker.
    await page.get_by_role("link", name="New project").first.click()
    await page.get_by_label("Search repositories").fill("hello")
    await page.get_by_role("button", name="Import ada/hello-site").click()
    await expect(page.get_by_label("Project name")).to_have_value("hello-site")
    await expect(page.get_by_label("Branch")).to_have_value("main")
    await page.get_by_label("Project name").fill("hello")
    await screenshot(page, "new-project")
    await page.get_by_role("button", name="Deploy").click()

    # Creating it lands on the first build, whose lines arrive while it runs.
    await page.wait_for_url(re.compile(r"/builds/\d+$"))
    first_build = int(page.url.rsplit("/", 1)[1])
    await expect(page).to_have_title(f"Build #{first_build} · hello · Slipway")
    status = page.get_by_test_id("build-status")
    await expect(page.locator(".log-line", has_text="building page 4 of 24")).to_be_visible(
        timeout=BUILD_SECONDS * 1000)
    await expect(status).to_have_text("Building")
    await screenshot(page, "build-running")
    await expect(status).to_have_text("Ready", timeout=BUILD_SECONDS * 1000)
    await expect(page.locator(".log-line", has_text="wrote dist/index.html")).to_be_visible()
    # Slipway's own lines look the same followed live as replayed.
    await expect(page.locator(".log-line-system", has_text="Build passed")).to_be_visible()
    await screenshot(page, "build-passed")

    # The lines followed live are exactly the stored ones: a replay shows the same count.
    stored = await stored_line_count(slipway, session["token"], first_build)
    line_count = page.get_by_text(re.compile(r"^[\d,]+ lines$"))
    await expect(line_count).to_have_text(f"{stored:,} lines")
    await page.reload()
    await expect(line_count).to_have_text(f"{stored:,} lines")

    site = await new_page()
    assert await site_text(site, slipway.site_url("hello")) == SITE_TEXT

    # The project page, then a signed push: the new build appears without a reload.
    await page.get_by_role("link", name="hello", exact=True).click()
    await expect(page.get_by_role("heading", name=re.compile("^hello"))).to_be_visible()
    await expect(page.get_by_test_id("build-row")).to_have_count(1)
    await expect(page.get_by_test_id("project-status")).to_have_text("Live")
    await screenshot(page, "project")
    # The project list, in another tab, follows the new build too.
    projects = await page.context.new_page()
    await projects.goto(slipway.url + "/")
    card = projects.get_by_test_id("project-card").filter(has_text="hello")
    await expect(card.get_by_test_id("project-status")).to_have_text("Live")
    await page.evaluate("window.__notReloaded = true")
    answer = await github_site.push("Version two", message="Ship version two")
    assert answer.status == 202, answer.body
    new_row = page.get_by_test_id("build-row").filter(has_text="Ship version two")
    await expect(new_row).to_be_visible()
    await expect(card).to_contain_text("Ship version two")
    await expect(new_row.get_by_text("Ready")).to_be_visible(timeout=BUILD_SECONDS * 1000)
    await expect(card.get_by_test_id("project-status")).to_have_text("Live")
    assert await page.evaluate("window.__notReloaded") is True
    assert await site_text(site, slipway.site_url("hello")) == "Version two"
    await screenshot(projects, "projects")
    await projects.close()

    # A push to another branch builds a preview at its own address; production is untouched.
    answer = await github_site.push("A preview", message="Try a feature", branch="feature/x")
    assert answer.status == 202, answer.body
    preview_row = page.get_by_test_id("build-row").filter(has_text="Try a feature")
    await expect(preview_row.get_by_text("Ready")).to_be_visible(timeout=BUILD_SECONDS * 1000)

    # Roll back to the first deployment, confirmed in a dialog: the old content is served.
    await page.get_by_role("link", name="Deployments", exact=True).click()
    first_row = page.locator(f'[data-testid="deployment-row"][data-build="{first_build}"]')
    await expect(first_row.get_by_text("Superseded")).to_be_visible()
    await first_row.get_by_role("button", name="Roll back").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await screenshot(page, "rollback-confirm")
    await dialog.get_by_role("button", name="Roll back").click()
    await expect(page.get_by_text(f"Build #{first_build} is live again.")).to_be_visible()
    await expect(first_row.get_by_text("Live")).to_be_visible()
    previews = page.get_by_role("list", name="Preview branches")
    await expect(previews).to_contain_text("feature/x")
    await screenshot(page, "deployments")
    assert await site_text(site, slipway.site_url("hello")) == SITE_TEXT
    preview_url = await previews.get_by_role("link", name=re.compile("^git-")).get_attribute("href")
    assert await site_text(site, preview_url) == "A preview"
    # The preview's build page leads with the preview's address.
    await previews.get_by_role("link", name=re.compile(r"^Build #")).click()
    preview_at = page.locator(".fact", has_text="Preview at")
    await expect(preview_at.get_by_role("link")).to_have_attribute("href", preview_url)
    await expect(page.get_by_test_id("build-own-address")).to_have_count(0)
    await screenshot(page, "preview-build")
    await page.go_back()

    # A secret: its name is listed, its value never appears in the page again.
    await page.get_by_role("link", name="Environment", exact=True).click()
    await page.get_by_label("Name", exact=True).fill("API_TOKEN")
    await page.get_by_label("Value", exact=True).fill(SECRET_VALUE)
    await page.get_by_role("group", name="Environments of the new value") \
        .get_by_label("Production").uncheck()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_test_id("secret-row").filter(has_text="API_TOKEN")).to_be_visible()
    assert await page.get_by_label("Value", exact=True).input_value() == ""
    await screenshot(page, "environment")
    for _ in range(2):
        assert SECRET_VALUE not in await page.content()
        assert SECRET_VALUE not in await page.evaluate("JSON.stringify(localStorage)")
        await page.reload()
        await expect(page.get_by_test_id("secret-row")).to_have_count(1)
    # Only for previews, as chosen; the row's checkboxes move it without its value.
    where = page.get_by_role("group", name="Environments of API_TOKEN")
    await expect(where.get_by_label("Production")).not_to_be_checked()
    await expect(where.get_by_label("Preview")).to_be_checked()
    await where.get_by_label("Production").check()
    await expect(where.get_by_label("Preview")).to_be_enabled()
    await page.reload()
    await expect(where.get_by_label("Production")).to_be_checked()
    await expect(where.get_by_label("Preview")).to_be_checked()

    await page.get_by_role("button", name="Delete").click()
    await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    await expect(page.get_by_text("No environment variables")).to_be_visible()

    # "Deploy now" opens the new build, which can be canceled.
    await page.get_by_role("button", name="Deploy now").click()
    await page.wait_for_url(re.compile(r"/builds/\d+$"))
    await page.get_by_role("button", name="Cancel build").click()
    await expect(page.get_by_test_id("build-status")).to_have_text("Canceled",
                                                                   timeout=BUILD_SECONDS * 1000)
    await page.go_back()

    # The webhook inbox shows the push and its decision; settings show the deploy hook tools.
    await page.get_by_role("link", name="Webhooks", exact=True).click()
    await expect(page.get_by_text(re.compile(r"built #\d+"))).to_be_visible()
    await screenshot(page, "webhooks")
    await page.get_by_role("link", name="Settings", exact=True).click()
    await expect(page.get_by_role("button", name="Delete project")).to_be_visible()
    await screenshot(page, "settings")

    # At phone width the pages fit the screen.
    await page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/", f"/builds/{first_build}"):
        await page.goto(slipway.url + path)
        await page.wait_for_load_state("networkidle")
        assert await page.evaluate(
            "document.documentElement.scrollWidth <= window.innerWidth"), path
    await screenshot(page, "build-phone")
    page_errors.assert_none()


@pytest.mark.gen_test(timeout=120)
async def test_another_user_sees_none_of_the_first_users_projects(
    slipway_factory, github, page, page_errors, screenshot
):
    app = await slipway_factory()
    ada = github.add_user("ada")
    bob = github.add_user("bob")
    repo = github.add_repo(ada, "private-site", private=True)
    owner = await sign_in_github_user(app.running, app.api, ada.id, "ada", ada.token)
    created = await app.api.post("/api/projects", headers=owner.headers,
                                 json_body={"name": "adas-site", "repo_url": repo.html_url})
    assert created.status == 201, created.body
    project = created.json()

    await oauth_sign_in(page, app, github, bob)
    await expect(page.get_by_text("No projects yet")).to_be_visible()
    assert "adas-site" not in await page.content()
    await page.goto(f"{app.url}/projects/{project['id']}")
    await expect(page.get_by_text("Project not found")).to_be_visible()
    await page.goto(f"{app.url}/builds/{project['latest_build']['id']}")
    await expect(page.get_by_text("Build not found")).to_be_visible()
    await screenshot(page, "other-users-build")
    assert "adas-site" not in await page.content()
    page_errors.assert_none(ignore=["404"])


@pytest.mark.gen_test(timeout=60)
async def test_names_are_checked_as_typed_and_the_servers_conflict_is_shown(
    slipway_factory, page, page_errors, tmp_path
):
    app = await slipway_factory()
    session = await signed_in_admin(page, app)
    repo = make_repo(tmp_path / "repo", {"index.html": "<p>site</p>"})
    taken = await app.api.post("/api/projects",
                               headers={"Authorization": f"Bearer {session['token']}"},
                               json_body={"name": "taken", "repo_url": str(repo)})
    assert taken.status == 201, taken.body

    await page.get_by_role("link", name="New project").first.click()
    # The local administrator is not linked to GitHub: a URL (or a path) is asked for.
    await page.get_by_label("Git repository URL").fill(str(repo))
    name = page.get_by_label("Project name")
    await name.fill("My Site")
    await expect(page.get_by_text("Use lowercase letters only.")).to_be_visible()
    await name.fill("api")
    await expect(page.get_by_text("“api” is reserved by Slipway.")).to_be_visible()
    await name.fill("taken")
    await expect(page.get_by_role("alert")).to_have_count(0)
    await page.get_by_role("button", name="Deploy").click()
    await expect(page.get_by_role("alert")).to_have_text("the name taken is already taken")
    assert page.url.endswith("/new")
    page_errors.assert_none(ignore=["409"])


@pytest.mark.gen_test(timeout=60)
async def test_a_revoked_session_returns_to_sign_in_with_a_message(
    slipway_factory, page, page_errors
):
    app = await slipway_factory()
    session = await signed_in_admin(page, app)

    # Signing out everywhere (another tab, another device) revokes this tab's token too.
    revoked = await app.api.post("/api/auth/logout",
                                 headers={"Authorization": f"Bearer {session['token']}"})
    assert revoked.status == 204
    ended = page.get_by_text("Your session has ended. Sign in again to continue.")
    await expect(ended).to_be_visible()
    assert page.url.endswith("/login")
    assert await page.evaluate("localStorage.getItem('slipway.token')") is None
    page_errors.assert_none(ignore=["401"])


@pytest.mark.gen_test(timeout=60)
async def test_a_reload_keeps_the_session_signing_out_revokes_it_and_sign_in_returns_to_the_page(
    slipway_factory, page, page_errors
):
    app = await slipway_factory()
    session = await signed_in_admin(page, app)
    await page.reload()
    await expect(page.get_by_role("heading", name="Projects")).to_be_visible()

    await page.get_by_role("button", name=re.compile("admin")).click()
    await page.get_by_role("menuitem", name="Sign out").click()
    await expect(page.get_by_text("You have signed out.")).to_be_visible()
    me = await app.api.get("/api/me", headers={"Authorization": f"Bearer {session['token']}"})
    assert me.status == 401

    # A page asked for while signed out is where signing in lands.
    await page.goto(app.url + "/new")
    await page.wait_for_url("**/login")
    await sign_in_local_admin(page, app)
    await expect(page.get_by_role("heading", name="New project")).to_be_visible()
    assert page.url == app.url + "/new"
    page_errors.assert_none()


async def local_admin_project(app: BrowserApp, page: Page, **fields) -> dict:
    """Sign the browser in as the local administrator and create a project with its token."""
    session = await signed_in_admin(page, app)
    created = await app.api.post("/api/projects", json_body=fields,
                                 headers={"Authorization": f"Bearer {session['token']}"})
    assert created.status == 201, created.body
    return created.json()


@pytest.mark.gen_test(timeout=90)
async def test_settings_rename_override_create_a_deploy_hook_and_delete_with_the_name_typed(
    slipway_factory, page, page_errors, screenshot, tmp_path
):
    app = await slipway_factory()
    repo = make_repo(tmp_path / "blog", {"index.html": "<p>blog</p>"})
    project = await local_admin_project(app, page, name="blog", repo_url=str(repo))
    await page.goto(f"{app.url}/projects/{project['id']}/settings")

    await page.get_by_label("Project name").fill("journal")
    await page.get_by_label("Build command").fill("npm run build:site")
    await page.get_by_label("Output directory").fill("../outside")
    await page.get_by_role("button", name="Save", exact=True).click()
    # The field is named by its label, not by the API's key (output_dir).
    await expect(page.get_by_role("alert")).to_have_text(
        "Output directory must stay inside the repository")
    await page.get_by_label("Output directory").fill("public")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    await expect(page.get_by_role("heading", name=re.compile("^journal"))).to_be_visible()
    saved = (await app.api.get(f"/api/projects/{project['id']}", headers={
        "Authorization": f"Bearer {await page.evaluate('localStorage.getItem(`slipway.token`)')}"
    })).json()
    assert (saved["name"], saved["build_command"], saved["output_dir"]) == (
        "journal", "npm run build:site", "public")

    # A deploy hook's URL is shown once, then only its existence.
    await page.get_by_role("button", name="Create deploy hook").click()
    hook_url = page.locator(".hook-url")
    await expect(hook_url).to_contain_text(f"{app.url}/api/hooks/")
    await expect(page.get_by_text("Hook #1")).to_be_visible()
    await page.get_by_role("button", name="Clear build cache").click()
    await expect(page.get_by_text("Cache cleared")).to_be_visible()
    await screenshot(page, "settings")
    await page.reload()
    await expect(page.get_by_text("Hook #1")).to_be_visible()
    await expect(hook_url).to_have_count(0)

    # Deleting asks for the name, typed; Escape backs out.
    await page.get_by_role("button", name="Delete project").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await page.get_by_role("button", name="Delete project").click()
    confirm = dialog.get_by_role("button", name="Delete project")
    await expect(confirm).to_be_disabled()
    await dialog.get_by_label(re.compile("Type journal to confirm")).fill("journa")
    await expect(confirm).to_be_disabled()
    await dialog.get_by_label(re.compile("Type journal to confirm")).fill("journal")
    await confirm.click()
    await expect(page.get_by_text("No projects yet")).to_be_visible()
    page_errors.assert_none(ignore=["400"])


FAILING_BUILD = """\
console.log('\\x1b[32mcompiled\\x1b[0m 3 modules');
console.error('warning: something on stderr');
console.log('the needle is here');
for (let i = 0; i < 40; i++) console.log('filler line ' + i);
console.error('\\x1b[31mError: could not render page\\x1b[0m');
process.exit(2);
"""


@pytest.mark.gen_test(timeout=180)
async def test_a_failed_build_shows_its_reason_and_its_log_can_be_searched_linked_and_downloaded(
    slipway, page, page_errors, screenshot, tmp_path
):
    repo = make_repo(tmp_path / "broken", {
        "package.json": json.dumps({"name": "broken", "version": "1.0.0",
                                    "scripts": {"build": "node build.js"}}),
        "build.js": FAILING_BUILD,
    })
    project = await local_admin_project(slipway, page, name="broken", repo_url=str(repo))
    build_id = project["latest_build"]["id"]
    await page.goto(f"{slipway.url}/builds/{build_id}")

    await expect(page.get_by_test_id("build-status")).to_have_text(
        "Failed", timeout=BUILD_SECONDS * 1000)
    reason = "the build command exited with code 2"
    banner = page.get_by_test_id("build-error")
    await expect(banner).to_have_text(f"Build failed {reason}")
    await expect(page.locator(".fact", has_text="Exit code")).to_contain_text("2")
    # The banner, first under the header, is the one place outside the log with the reason.
    details = page.get_by_role("region", name="Build details")
    assert (await banner.bounding_box())["y"] < (await details.bounding_box())["y"]
    outside_log = await page.evaluate("""() => {
        const main = document.querySelector("main").cloneNode(true);
        main.querySelectorAll("[data-testid=log-view]").forEach((log) => log.remove());
        return main.innerText;
    }""")
    assert outside_log.count(reason) == 1, outside_log

    # Colours are rendered, escape codes are not, stderr is marked (search brings each line
    # into view: the log is virtualised, only the rows in view exist).
    search = page.get_by_label("Search log")
    await search.fill("compiled 3 modules")
    compiled = page.locator(".log-line-current")
    await expect(compiled.locator("span[style*='color']")).to_have_text("compiled")
    assert "\x1b" not in await compiled.inner_text()
    assert "[32m" not in await page.content()
    await search.fill("warning: something on stderr")
    await expect(page.locator(".log-line-current")).to_have_class(re.compile("log-line-err"))

    # Search finds the line and scrolls to it.
    await search.fill("needle")
    await expect(page.get_by_text("1 of 1")).to_be_visible()
    needle = page.locator(".log-line-current")
    await expect(needle).to_contain_text("the needle is here")
    line = await needle.get_attribute("data-line")

    # A line link survives a reload and selects the line.
    await needle.locator(".log-number").click()
    assert page.url.endswith(f"#L{line}")
    await page.reload()
    selected = page.locator(".log-line-selected")
    await expect(selected).to_contain_text("the needle is here")
    await expect(selected).to_be_in_viewport()
    await screenshot(page, "failed-build")

    # The download is the plain text of every line.
    async with page.expect_download() as waiting:
        await page.get_by_role("button", name="Download").click()
    download = await waiting.value
    text = (tmp_path / "log.txt")
    await download.save_as(text)
    content = text.read_text()
    assert "the needle is here\n" in content
    assert "Error: could not render page" in content
    assert "\x1b" not in content
    assert download.suggested_filename == f"slipway-build-{build_id}.log"
    page_errors.assert_none()


@pytest.mark.gen_test(timeout=60)
async def test_the_dashboard_can_be_used_with_the_keyboard(slipway_factory, page, page_errors,
                                                          tmp_path):
    app = await slipway_factory()
    repo = make_repo(tmp_path / "site", {"index.html": "<p>site</p>"})
    await signed_in_admin(page, app)

    focused = []
    for _ in range(12):
        await page.keyboard.press("Tab")
        focused.append(await page.evaluate("document.activeElement.textContent.trim()"))
        if focused[-1] == "New project":
            break
    assert focused[0] == "Skip to content", focused
    assert focused[-1] == "New project", focused
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="New project")).to_be_visible()
    await page.get_by_label("Git repository URL").focus()
    await page.keyboard.type(str(repo))
    await page.keyboard.press("Tab")
    await page.keyboard.type("keyboard-site")
    await page.keyboard.press("Enter")  # submits the form
    await page.wait_for_url(re.compile(r"/builds/\d+$"))
    page_errors.assert_none()


@pytest.mark.gen_test(timeout=60)
async def test_the_repository_picker_pages_and_searches_every_page(
    slipway_factory, github, page, page_errors
):
    app = await slipway_factory()
    ada = github.add_user("ada")
    github.add_repo(ada, "zebra-site")  # the oldest: on the last page
    for n in range(35):
        github.add_repo(ada, f"repo-{n:02}")
    await oauth_sign_in(page, app, github, ada)
    await expect(page.get_by_role("heading", name="Projects")).to_be_visible()

    await page.get_by_role("link", name="New project").first.click()
    repos = page.get_by_role("list", name="Repositories").get_by_role("listitem")
    await expect(repos).to_have_count(30)
    await page.get_by_role("button", name="Load more repositories").click()
    await expect(repos).to_have_count(36)
    await expect(page.get_by_role("button", name="Load more repositories")).to_have_count(0)

    await page.reload()
    await expect(repos).to_have_count(30)
    await page.get_by_label("Search repositories").fill("zebra")
    await expect(repos).to_have_count(1)
    await page.get_by_role("button", name="Import ada/zebra-site").click()
    await expect(page.get_by_label("Project name")).to_have_value("zebra-site")
    page_errors.assert_none()


@pytest.mark.gen_test(timeout=180)
async def test_the_live_log_has_no_gap_or_duplicate_after_the_socket_drops(
    slipway, page, page_errors, tmp_path
):
    repo = make_repo(tmp_path / "slow", node_site_files("slow", log_lines=60, delay_ms=100))
    project = await local_admin_project(slipway, page, name="slow", repo_url=str(repo))
    session_user = await page.evaluate("JSON.parse(localStorage.getItem('slipway.user')).id")
    build_id = project["latest_build"]["id"]
    await page.goto(f"{slipway.url}/builds/{build_id}")
    await expect(page.locator(".log-line", has_text="building page 5 of 60")).to_be_visible(
        timeout=BUILD_SECONDS * 1000)

    # The server drops the socket; the dashboard asks whether the session holds (slowly, so
    # lines are sent while it is away), reconnects and fetches what it missed.
    async def slow_me(route):
        await asyncio.sleep(1.5)
        await route.continue_()

    await page.route("**/api/me", slow_me)
    await disconnect_user(slipway.running.app.sio, session_user)
    await expect(page.get_by_text("Reconnecting…")).to_be_visible()
    await expect(page.get_by_text("Reconnecting…")).to_be_hidden(timeout=10_000)
    await expect(page.get_by_test_id("build-status")).to_have_text(
        "Ready", timeout=BUILD_SECONDS * 1000)

    token = await page.evaluate("localStorage.getItem('slipway.token')")
    stored = await stored_line_count(slipway, token, build_id)
    await expect(page.get_by_text(re.compile(r"^[\d,]+ lines$"))).to_have_text(f"{stored:,} lines")
    # It kept following the end throughout.
    await expect(page.get_by_role("button", name="Following", exact=True)).to_be_visible()
    await expect(page.locator(f'.log-line[data-line="{stored}"]')).to_be_attached()
    assert await page.get_by_test_id("log-view").evaluate(
        "el => el.scrollTop + el.clientHeight >= el.scrollHeight - 2")
    page_errors.assert_none()
