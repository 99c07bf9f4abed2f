"""Ownership: another user's resources answer exactly as missing ones do (404) and stay
unchanged; without a session every private endpoint answers 401. One table, every endpoint."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.accounts import sign_in_github_user, sign_in_local_admin
from tests.support.repos import make_repo

# (method, path template, JSON body); {p} is the owner's project, {h} its deploy hook,
# {b} its build, {d} its deployment, {w} a webhook delivery.
OWNED_ENDPOINTS = [
    ("GET", "/api/projects/{p}", None),
    ("PATCH", "/api/projects/{p}", {"name": "stolen"}),
    ("DELETE", "/api/projects/{p}", None),
    ("GET", "/api/projects/{p}/secrets", None),
    ("PUT", "/api/projects/{p}/secrets/API_KEY", {"value": "overwritten"}),
    ("DELETE", "/api/projects/{p}/secrets/API_KEY", None),
    ("POST", "/api/projects/{p}/deploy-hook", None),
    ("GET", "/api/projects/{p}/deploy-hooks", None),
    ("DELETE", "/api/projects/{p}/deploy-hooks/{h}", None),
    ("POST", "/api/projects/{p}/builds", None),
    ("GET", "/api/projects/{p}/builds", None),
    ("DELETE", "/api/projects/{p}/build-cache", None),
    ("GET", "/api/builds/{b}", None),
    ("GET", "/api/builds/{b}/logs", None),
    ("POST", "/api/builds/{b}/cancel", None),
    ("GET", "/api/projects/{p}/deployments", None),
    ("POST", "/api/deployments/{d}/rollback", None),
    ("GET", "/api/projects/{p}/deliveries", None),
    ("POST", "/api/deliveries/{w}/redeliver", None),
]
SIGNED_IN_ENDPOINTS = OWNED_ENDPOINTS + [
    ("GET", "/api/projects", None),
    ("POST", "/api/projects", {"name": "x", "repo_url": "https://git.example.com/x.git"}),
    ("GET", "/api/me", None),
    ("POST", "/api/auth/logout", None),
    ("GET", "/api/github/repos", None),
]


@pytest.fixture
def owned(app_server, api, io_loop, github, tmp_path):
    """The owner's project with a secret and a deploy hook, and a second, unrelated user."""
    repo = make_repo(tmp_path / "mine", {"index.html": "<p>mine</p>"})

    async def setup():
        owner = await sign_in_local_admin(app_server, api)
        other = await sign_in_github_user(app_server, api, 4242, "mallory")
        project = (await api.post("/api/projects", headers=owner.headers, json_body={
            "name": "mine", "repo_url": str(repo),
            "secrets": {"API_KEY": "original"}})).json()
        await api.post(f"/api/projects/{project['id']}/deploy-hook", headers=owner.headers)
        hooks = (await api.get(f"/api/projects/{project['id']}/deploy-hooks",
                               headers=owner.headers)).json()
        async with app_server.app.db.pool.connection() as conn:
            cursor = await conn.execute(
                "INSERT INTO deployments (project_id, build_id, status, url) "
                "VALUES (%s, %s, 'superseded', 'http://x') RETURNING id",
                (project["id"], project["latest_build"]["id"]))
            deployment_id = (await cursor.fetchone())[0]
            cursor = await conn.execute(
                "INSERT INTO webhook_deliveries (project_id, delivery_guid, event, "
                "signature_valid, decision, body) VALUES (%s, 'g', 'push', true, 'ping', "
                "'{}') RETURNING id", (project["id"],))
            delivery_id = (await cursor.fetchone())[0]
        return owner, other, {"p": project["id"], "h": hooks[0]["id"],
                              "b": project["latest_build"]["id"], "d": deployment_id,
                              "w": delivery_id}

    return io_loop.run_sync(setup)


def _snapshot(db_url):
    with psycopg.connect(db_url) as conn:
        return [conn.execute(q).fetchall() for q in (
            "SELECT id, name, owner_id, updated_at FROM projects ORDER BY id",
            "SELECT project_id, name, ciphertext, updated_at FROM secrets ORDER BY id",
            "SELECT id, project_id FROM deploy_hooks ORDER BY id",
            "SELECT id, status, finished_at FROM builds ORDER BY id",
            "SELECT id, status FROM deployments ORDER BY id",
            "SELECT id, decision FROM webhook_deliveries ORDER BY id",
            "SELECT id, token_version FROM users ORDER BY id")]


@pytest.mark.gen_test
@pytest.mark.parametrize(("method", "path", "body"), OWNED_ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in OWNED_ENDPOINTS])
async def test_another_user_gets_404_and_changes_nothing(api, owned, db_url, method, path,
                                                         body):
    owner, other, ids = owned
    before = _snapshot(db_url)
    response = await api.request(method, path.format(**ids), json_body=body,
                                 headers=other.headers)
    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"
    assert _snapshot(db_url) == before

    missing = {key: value + 100000 for key, value in ids.items()}
    not_there = await api.request(method, path.format(**missing), json_body=body,
                                  headers=owner.headers)
    assert (not_there.status, not_there.json()) == (response.status, response.json()), \
        "someone else's resource must look exactly like a missing one"


@pytest.mark.gen_test
@pytest.mark.parametrize(("method", "path", "body"), SIGNED_IN_ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _ in SIGNED_IN_ENDPOINTS])
async def test_no_session_gets_401_and_changes_nothing(api, owned, db_url, method, path, body):
    _, _, ids = owned
    before = _snapshot(db_url)
    response = await api.request(method, path.format(**ids), json_body=body)
    assert response.status == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert _snapshot(db_url) == before


@pytest.mark.gen_test
async def test_lists_show_only_the_users_own_projects(api, owned):
    owner, other, _ = owned
    assert [p["name"] for p in (await api.get("/api/projects", headers=owner.headers)).json()] \
        == ["mine"]
    assert (await api.get("/api/projects", headers=other.headers)).json() == []
