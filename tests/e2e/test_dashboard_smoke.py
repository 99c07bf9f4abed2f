"""The browser-test machinery itself, in Chromium: the dashboard loads at `localhost`, client
routes load it too, sites answer at `<project>.localhost`, and GitHub's OAuth redirects go
through the fake GitHub and back, and the site repository builds offline. Nothing here depends
on what the app shows beyond `#app`."""

from __future__ import annotations

import pytest

from engine.deploys.releases import go_live, publish_release
from tests.support.accounts import sign_in_github_user
from tests.support.browser import SITE_TEXT
from tests.support.builds import Builds


@pytest.mark.gen_test(timeout=60)
async def test_chromium_loads_the_dashboard_without_errors(slipway_factory, page, page_errors,
                                                           screenshot):
    app = await slipway_factory()
    assert app.url == f"http://localhost:{app.port}"

    response = await page.goto(app.url + "/")

    assert response.status == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    await page.wait_for_selector("#app", state="attached")
    await page.wait_for_load_state("networkidle")
    await screenshot(page, "home")
    page_errors.assert_none()


@pytest.mark.gen_test(timeout=60)
async def test_a_client_route_loads_the_dashboard(slipway_factory, page, page_errors):
    app = await slipway_factory()

    response = await page.goto(app.url + "/projects/1")

    assert response.status == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    await page.wait_for_selector("#app", state="attached")
    await page.wait_for_load_state("networkidle")
    page_errors.assert_none()


@pytest.mark.gen_test(timeout=60)
async def test_a_site_answers_at_its_localhost_name(slipway_factory, page, tmp_path):
    app = await slipway_factory()
    output = tmp_path / "output"
    output.mkdir()
    (output / "index.html").write_text("<h1 id=content>demo is live</h1>")
    sites = app.running.app.config.deployments_dir
    publish_release(sites, "demo", 7, output)
    go_live(sites, "demo", 7)

    for url in (app.site_url("demo"), app.site_url("demo", build_id=7)):
        response = await page.goto(url + "/")
        assert response.status == 200, url
        assert await page.inner_text("#content") == "demo is live"


@pytest.mark.gen_test(timeout=60)
async def test_github_sign_in_redirects_through_the_fake_github_and_back(slipway_factory, page,
                                                                         github):
    app = await slipway_factory()
    ada = github.add_user("ada")
    github.signed_in = ada

    async with page.expect_response(lambda r: "/api/auth/github/callback" in r.url) as answer:
        await page.goto(app.url + "/api/auth/github")
    callback = await answer.value

    # The state cookie set on localhost came back through 127.0.0.1's redirect (else 400).
    assert callback.status == 302, await callback.text()
    assert callback.headers["location"].startswith("/login#code=")
    assert github.authorizations[-1].user is ada
    assert github.authorizations[-1].redirect_uri == app.url + "/api/auth/github/callback"


@pytest.mark.gen_test(timeout=180)
async def test_the_github_site_builds_offline_and_a_signed_push_redeploys_it(
    slipway, github_site, github, page
):
    # Through the API: the browser scenarios do the same through the dashboard.
    ada = await sign_in_github_user(slipway.running, slipway.api, github_site.user.id, "ada",
                                    github_site.user.token)
    builds = Builds(slipway.running, slipway.api, ada)
    project = await builds.project(github_site.repo.html_url, name="hello")
    first = await builds.finished(project["latest_build"]["id"], seconds=120)
    assert first["status"] == "passed", await builds.text(first["id"])
    assert "building page 10 of 10" in await builds.text(first["id"])

    await page.goto(slipway.site_url("hello") + "/")
    assert await page.inner_text("#content") == SITE_TEXT

    answer = await github_site.push("Version two", message="Ship v2")
    assert answer.status == 202, answer.body
    [decision] = answer.json()["decisions"]
    second = await builds.finished(decision["build_id"], seconds=120)
    assert second["status"] == "passed", await builds.text(second["id"])
    await page.goto(slipway.site_url("hello") + "/")
    assert await page.inner_text("#content") == "Version two"
    await page.goto(slipway.site_url("hello", build_id=first["id"]) + "/")
    assert await page.inner_text("#content") == SITE_TEXT
