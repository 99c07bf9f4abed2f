"""Protected previews as visitors and owners see them, over real HTTP against the real app:
preview and build-id hosts of a protected project ask for the password, a right one gives a
host-only signed cookie, production stays public, and the hash never leaves the server."""

from __future__ import annotations

from urllib.parse import urlencode

import psycopg
import pytest

from engine.deploys.releases import go_live_preview
from tests.support.leaks import forbid
from tests.support.repos import make_repo
from tests.support.sites import publish_site

PASSWORD = "open sesame 42"
PREVIEW, BUILD, LIVE = "git-feature--{}.localhost", "7--{}.localhost", "{}.localhost"


def _create(api, owner, io_loop, tmp_path, app_server, name):
    repo = make_repo(tmp_path / name, {"index.html": "<p>repo</p>"})

    async def create():
        response = await api.post("/api/projects", headers=owner.headers,
                                  json_body={"name": name, "repo_url": str(repo)})
        assert response.status == 201, response.body
        return response.json()

    project = io_loop.run_sync(create)
    sites = app_server.app.config.deployments_dir
    publish_site(sites, name, {"index.html": f"<p>{name} build 7</p>"}, release="7")
    publish_site(sites, name, {"index.html": f"<p>{name} live</p>"}, release="1")
    go_live_preview(sites, name, "feature", 7)
    return project


@pytest.fixture
def site(api, owner, io_loop, tmp_path, app_server):
    forbid(PASSWORD, "an0ther-secret")
    return _create(api, owner, io_loop, tmp_path, app_server, "site")


@pytest.fixture
def other(api, owner, io_loop, tmp_path, app_server):
    return _create(api, owner, io_loop, tmp_path, app_server, "other")


async def _protect(api, owner, project, password):
    return await api.request("PATCH", f"/api/projects/{project['id']}", headers=owner.headers,
                             json_body={"preview_password": password})


async def _visit(api, host, path="/", cookie=None):
    headers = {"Host": host} | ({"Cookie": cookie} if cookie else {})
    return await api.get(path, headers=headers)


async def _unlock(api, host, password, next_path="/"):
    return await api.post("/.slipway/unlock", body=urlencode({"password": password,
                                                              "next": next_path}),
                          headers={"Host": host,
                                   "Content-Type": "application/x-www-form-urlencoded"})


def _cookie(response):
    """The unlock cookie's `name=value` and its attributes, lower-cased."""
    [set_cookie] = response.headers.get_list("Set-Cookie")
    pair, *attributes = [part.strip() for part in set_cookie.split(";")]
    return pair, {attribute.lower() for attribute in attributes}


@pytest.mark.gen_test
async def test_preview_and_build_hosts_ask_for_the_password_and_production_stays_public(
        api, owner, site):
    assert site["preview_protected"] is False
    changed = await _protect(api, owner, site, PASSWORD)
    assert changed.status == 200 and changed.json()["preview_protected"] is True

    for host in (PREVIEW.format("site"), BUILD.format("site")):
        locked = await _visit(api, host, "/about?x=1")
        assert locked.status == 401, host
        page = locked.body.decode()
        assert "site build 7" not in page
        assert 'action="/.slipway/unlock"' in page and 'value="/about?x=1"' in page
        assert locked.headers["Cache-Control"] == "no-store"
        policy = locked.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "form-action 'self'" in policy
        assert "http" not in page and " src=" not in page  # nothing loaded from elsewhere
    live = await _visit(api, LIVE.format("site"))
    assert live.status == 200 and live.body == b"<p>site live</p>"


@pytest.mark.gen_test
async def test_the_right_password_gives_a_host_only_cookie_that_opens_the_preview(
        api, owner, site):
    await _protect(api, owner, site, PASSWORD)
    host = PREVIEW.format("site")
    wrong = await _unlock(api, host, "not the password", "/about?x=1")
    assert wrong.status == 401
    assert "not right" in wrong.body.decode() and 'value="/about?x=1"' in wrong.body.decode()
    assert not wrong.headers.get_list("Set-Cookie")

    right = await _unlock(api, host, PASSWORD, "/about?x=1")
    assert right.status == 303 and right.headers["Location"] == "/about?x=1"
    cookie, attributes = _cookie(right)
    assert {"httponly", "samesite=lax", "path=/"} <= attributes
    assert not any(a.startswith("domain") for a in attributes)
    assert "secure" not in attributes  # plain http here; https adds it
    opened = await _visit(api, host, "/", cookie)
    assert opened.status == 200 and opened.body == b"<p>site build 7</p>"
    # No shared cache may keep what only the password opens.
    assert opened.headers.get_list("Cache-Control") == ["private, no-cache"]
    assert (await _visit(api, host, "/", cookie + "x")).status == 401  # tampered


@pytest.mark.gen_test
async def test_a_cookie_of_one_projects_preview_does_not_open_another_project(
        api, owner, site, other):
    await _protect(api, owner, site, PASSWORD)
    await _protect(api, owner, other, PASSWORD)
    cookie, _ = _cookie(await _unlock(api, PREVIEW.format("site"), PASSWORD))
    assert (await _visit(api, PREVIEW.format("site"), "/", cookie)).status == 200
    assert (await _visit(api, PREVIEW.format("other"), "/", cookie)).status == 401
    assert (await _visit(api, BUILD.format("other"), "/", cookie)).status == 401


@pytest.mark.gen_test
async def test_changing_the_password_ends_old_cookies_and_removing_it_opens_the_hosts(
        api, owner, site):
    await _protect(api, owner, site, PASSWORD)
    host = PREVIEW.format("site")
    cookie, _ = _cookie(await _unlock(api, host, PASSWORD))
    assert (await _visit(api, host, "/", cookie)).status == 200

    assert (await _protect(api, owner, site, "an0ther-secret")).status == 200
    assert (await _visit(api, host, "/", cookie)).status == 401
    assert (await _unlock(api, host, PASSWORD)).status == 401
    cookie, _ = _cookie(await _unlock(api, host, "an0ther-secret"))
    assert (await _visit(api, host, "/", cookie)).status == 200

    removed = await _protect(api, owner, site, None)
    assert removed.status == 200 and removed.json()["preview_protected"] is False
    for host in (PREVIEW.format("site"), BUILD.format("site")):
        assert (await _visit(api, host)).status == 200


@pytest.mark.gen_test
async def test_guessing_is_throttled_per_project_and_address(api, owner, site, other):
    await _protect(api, owner, site, PASSWORD)
    await _protect(api, owner, other, PASSWORD)
    host = PREVIEW.format("site")
    for attempt in range(5):
        assert (await _unlock(api, host, f"guess number {attempt}")).status == 401
    throttled = await _unlock(api, host, PASSWORD)
    assert throttled.status == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert not throttled.headers.get_list("Set-Cookie")
    assert (await _unlock(api, BUILD.format("site"), PASSWORD)).status == 429
    assert (await _unlock(api, PREVIEW.format("other"), PASSWORD)).status == 303


@pytest.mark.gen_test
@pytest.mark.parametrize("next_path", ["//evil.example/x", "https://evil.example/",
                                       "/\\evil.example", "/.slipway/unlock", "javascript:x"])
async def test_unlocking_only_returns_to_paths_on_the_same_host(api, owner, site, next_path):
    await _protect(api, owner, site, PASSWORD)
    right = await _unlock(api, PREVIEW.format("site"), PASSWORD, next_path)
    assert right.status == 303 and right.headers["Location"] == "/"


@pytest.mark.gen_test
@pytest.mark.parametrize("password", ["short", "x" * 201, 12345678, ""])
async def test_preview_passwords_of_the_wrong_length_or_type_are_refused(api, owner, site,
                                                                         password):
    refused = await _protect(api, owner, site, password)
    assert refused.status == 400
    assert refused.json()["error"]["field"] == "preview_password"
    project = (await api.get(f"/api/projects/{site['id']}", headers=owner.headers)).json()
    assert project["preview_protected"] is False


@pytest.mark.gen_test
async def test_the_password_hash_never_appears_in_an_api_answer(api, owner, site, db_url):
    await _protect(api, owner, site, PASSWORD)
    with psycopg.connect(db_url) as conn:
        [stored] = conn.execute("SELECT preview_password_hash FROM projects "
                                "WHERE id = %s", (site["id"],)).fetchone()
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    salt, digest = stored.split("$")[-2:]
    for path in ("/api/projects", f"/api/projects/{site['id']}"):
        body = (await api.get(path, headers=owner.headers)).body.decode()
        assert "preview_protected" in body
        assert "scrypt" not in body and salt not in body and digest not in body


@pytest.mark.gen_test
async def test_a_renamed_protected_project_stays_locked_at_its_new_hosts(api, owner, site):
    await _protect(api, owner, site, PASSWORD)
    renamed = await api.request("PATCH", f"/api/projects/{site['id']}", headers=owner.headers,
                                json_body={"name": "renamed"})
    assert renamed.status == 200 and renamed.json()["preview_protected"] is True
    assert (await _visit(api, PREVIEW.format("renamed"))).status == 401
    assert (await _visit(api, LIVE.format("renamed"))).status == 200
    cookie, _ = _cookie(await _unlock(api, PREVIEW.format("renamed"), PASSWORD))
    assert (await _visit(api, PREVIEW.format("renamed"), "/", cookie)).body \
        == b"<p>site build 7</p>"
