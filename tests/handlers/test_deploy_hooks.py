"""Deploy hooks: a secret URL that queues a build, shown once, revocable."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
import pytest

from tests.support.repos import add_branch, make_repo


@pytest.fixture
def project(api, owner, io_loop, tmp_path):
    repo = make_repo(tmp_path / "site", {"index.html": "<p>site</p>"})
    add_branch(repo, "release")

    async def create():
        response = await api.post("/api/projects", headers=owner.headers, json_body={
            "name": "site", "repo_url": str(repo), "branch": "release"})
        assert response.status == 201, response.body
        return response.json()

    return io_loop.run_sync(create)


@pytest.mark.gen_test
async def test_a_deploy_hook_queues_a_build_of_the_branch(api, owner, project, app_server,
                                                          db_url):
    created = await api.post(f"/api/projects/{project['id']}/deploy-hook",
                             headers=owner.headers)
    assert created.status == 201
    url = created.json()["url"]
    assert url.startswith(app_server.app.config.public_url + "/api/hooks/dh_")

    triggered = await api.post(urlsplit(url).path)  # public: no Authorization header
    assert triggered.status == 202
    build = triggered.json()["build"]
    assert (build["status"], build["trigger"], build["branch"]) == ("queued", "hook", "release")
    assert build["project_id"] == project["id"]

    token = urlsplit(url).path.rsplit("/", 1)[1]
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT token_hash FROM deploy_hooks").fetchone()[0]
    assert token.encode() not in bytes(stored)

    listed = (await api.get(f"/api/projects/{project['id']}/deploy-hooks",
                            headers=owner.headers)).json()
    assert len(listed) == 1 and "url" not in listed[0]
    assert listed[0]["last_used_at"] is not None


@pytest.mark.gen_test
@pytest.mark.parametrize("token", ["dh_wrong", "wrong", "dh_" + "x" * 200, "%00"])
async def test_a_wrong_token_is_a_404(api, token):
    response = await api.post(f"/api/hooks/{token}")
    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.gen_test
async def test_a_revoked_hook_stops_working(api, owner, project):
    url = (await api.post(f"/api/projects/{project['id']}/deploy-hook",
                          headers=owner.headers)).json()["url"]
    hook_id = (await api.get(f"/api/projects/{project['id']}/deploy-hooks",
                             headers=owner.headers)).json()[0]["id"]
    revoked = await api.request("DELETE", f"/api/projects/{project['id']}/deploy-hooks/{hook_id}",
                                headers=owner.headers)
    assert revoked.status == 204
    assert (await api.post(urlsplit(url).path)).status == 404


@pytest.mark.gen_test
async def test_hook_urls_never_reach_the_access_log(api, owner, project, caplog):
    url = (await api.post(f"/api/projects/{project['id']}/deploy-hook",
                          headers=owner.headers)).json()["url"]
    token = urlsplit(url).path.rsplit("/", 1)[1]
    caplog.set_level("INFO", logger="slipway.access")
    await api.post(urlsplit(url).path)
    assert any("/api/hooks/[token]" in r.getMessage() for r in caplog.records)
    assert not any(token in r.getMessage() for r in caplog.records)
