"""Personal access tokens: shown once, stored hashed, limited by scope, expiring, revocable,
accepted by the API and by Socket.io, and never reaching another user's resources."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timedelta

import psycopg
import pytest
import socketio

from tests.support.accounts import sign_in_github_user
from tests.support.leaks import forbid
from tests.support.repos import make_repo


@pytest.fixture
def project(api, owner, io_loop, tmp_path):
    """The owner's project (its first build stays queued) with one superseded deployment."""
    repo = make_repo(tmp_path / "site", {"index.html": "<p>site</p>"})

    async def create():
        response = await api.post("/api/projects", headers=owner.headers, json_body={
            "name": "site", "repo_url": str(repo)})
        assert response.status == 201, response.body
        return response.json()

    return io_loop.run_sync(create)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _mint(api, who, scopes, **extra) -> dict:
    response = await api.post("/api/tokens", headers=who.headers,
                              json_body={"name": f"ci {'+'.join(scopes)}", "scopes": scopes,
                                         **extra})
    assert response.status == 201, response.body
    created = response.json()
    forbid(created["token"])  # from here on, no answer may contain it
    return created


def _count(db_url, sql, *params):
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def _superseded_deployment(db_url, project) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "INSERT INTO deployments (project_id, build_id, status, url) "
            "VALUES (%s, %s, 'superseded', 'http://x') RETURNING id",
            (project["id"], project["latest_build"]["id"])).fetchone()[0]


@pytest.mark.gen_test
async def test_a_token_is_shown_once_and_stored_only_as_its_hash(api, owner, db_url):
    response = await api.post("/api/tokens", headers=owner.headers,
                              json_body={"name": "GitHub Actions", "scopes": ["deploy", "read"]})
    assert response.status == 201
    created = response.json()
    token = created["token"]
    assert token.startswith("slw_") and len(token) >= 4 + 43  # 32 random bytes, base64
    assert created["name"] == "GitHub Actions"
    assert created["scopes"] == ["read", "deploy"]
    assert token.startswith(created["prefix"]) and len(created["prefix"]) < 16
    assert created["expires_at"] is None and created["last_used_at"] is None
    forbid(token)

    listed = await api.get("/api/tokens", headers=owner.headers)
    assert listed.status == 200
    [row] = listed.json()
    assert "token" not in row
    assert row == {key: value for key, value in created.items() if key != "token"}

    with psycopg.connect(db_url) as conn:
        stored_hash, prefix = conn.execute("SELECT token_hash, prefix FROM api_tokens").fetchone()
        everything = str(conn.execute("SELECT * FROM api_tokens").fetchall())
    assert bytes(stored_hash) == hashlib.sha256(token.encode()).digest()
    assert token[len(prefix):] not in everything


@pytest.mark.gen_test
async def test_expiry_is_counted_in_days_from_creation(api, owner):
    created = await _mint(api, owner, ["read"], expires_in_days=90)
    made = datetime.fromisoformat(created["created_at"])
    expires = datetime.fromisoformat(created["expires_at"])
    assert expires - made == timedelta(days=90)


@pytest.mark.gen_test
@pytest.mark.parametrize("body", [
    {"scopes": ["read"]},
    {"name": "", "scopes": ["read"]},
    {"name": "   ", "scopes": ["read"]},
    {"name": "x" * 101, "scopes": ["read"]},
    {"name": "ci"},
    {"name": "ci", "scopes": []},
    {"name": "ci", "scopes": ["write"]},
    {"name": "ci", "scopes": "read"},
    {"name": "ci", "scopes": [1]},
    {"name": "ci", "scopes": ["read"], "expires_in_days": 0},
    {"name": "ci", "scopes": ["read"], "expires_in_days": 3651},
    {"name": "ci", "scopes": ["read"], "expires_in_days": 1.5},
    {"name": "ci", "scopes": ["read"], "expires_in_days": "30"},
    {"name": "ci", "scopes": ["read"], "expires_in_days": True},
    {"name": "ci", "scopes": ["read"], "owner_id": 2},
])
async def test_a_bad_request_is_a_400_and_creates_nothing(api, owner, db_url, body):
    response = await api.post("/api/tokens", headers=owner.headers, json_body=body)
    assert response.status == 400, response.body
    assert response.json()["error"]["code"] == "validation_failed"
    assert _count(db_url, "SELECT count(*) FROM api_tokens") == 0


@pytest.mark.gen_test
async def test_a_read_token_reads_but_cannot_build_or_change_secrets(api, owner, project,
                                                                   db_url):
    token = (await _mint(api, owner, ["read"]))["token"]
    listed = await api.get("/api/projects", headers=_bearer(token))
    assert listed.status == 200
    assert [p["name"] for p in listed.json()] == ["site"]
    assert (await api.get(f"/api/projects/{project['id']}/builds",
                          headers=_bearer(token))).status == 200
    builds_before = _count(db_url, "SELECT count(*) FROM builds")

    build = await api.post(f"/api/projects/{project['id']}/builds", headers=_bearer(token))
    assert build.status == 403
    assert build.json()["error"] == {
        "code": "insufficient_scope",
        "message": f"this token's scopes (read) do not allow POST "
                   f"/api/projects/{project['id']}/builds; it needs deploy"}
    secret = await api.request("PUT", f"/api/projects/{project['id']}/secrets/KEY",
                               headers=_bearer(token), json_body={"value": "v"})
    assert secret.status == 403
    assert secret.json()["error"]["code"] == "insufficient_scope"
    assert "it needs admin" in secret.json()["error"]["message"]

    assert _count(db_url, "SELECT count(*) FROM builds") == builds_before
    assert _count(db_url, "SELECT count(*) FROM secrets") == 0


@pytest.mark.gen_test
async def test_a_deploy_token_builds_cancels_and_rolls_back_but_manages_nothing(
        api, owner, project, db_url):
    token = (await _mint(api, owner, ["deploy"]))["token"]
    deployment_id = _superseded_deployment(db_url, project)

    queued = await api.post(f"/api/projects/{project['id']}/builds", headers=_bearer(token))
    assert queued.status == 202, queued.body
    build_id = queued.json()["build"]["id"]
    canceled = await api.post(f"/api/builds/{build_id}/cancel", headers=_bearer(token))
    assert canceled.status == 202
    assert canceled.json()["build"]["status"] == "canceled"
    # Its release is not on disk, so rolling back queues a rebuild of its commit.
    rolled = await api.post(f"/api/deployments/{deployment_id}/rollback", headers=_bearer(token))
    assert rolled.status == 202, rolled.body
    assert rolled.json()["build"]["trigger"] == "rollback"

    for method, path, body in [
        ("POST", "/api/tokens", {"name": "more", "scopes": ["read"]}),
        ("GET", "/api/tokens", None),
        ("PATCH", f"/api/projects/{project['id']}", {"build_command": "rm -rf /"}),
        ("DELETE", f"/api/projects/{project['id']}", None),
    ]:
        refused = await api.request(method, path, headers=_bearer(token), json_body=body)
        assert refused.status == 403, (method, path)
        assert refused.json()["error"]["code"] == "insufficient_scope"
    assert _count(db_url, "SELECT count(*) FROM api_tokens") == 1
    assert _count(db_url, "SELECT count(*) FROM projects WHERE build_command IS NULL") == 1


@pytest.mark.gen_test
async def test_an_admin_token_does_what_a_session_does(api, owner, project, db_url):
    token = (await _mint(api, owner, ["admin"]))["token"]
    changed = await api.request("PATCH", f"/api/projects/{project['id']}",
                                headers=_bearer(token), json_body={"build_command": "make"})
    assert changed.status == 200, changed.body
    secret = await api.request("PUT", f"/api/projects/{project['id']}/secrets/KEY",
                               headers=_bearer(token), json_body={"value": "v"})
    assert secret.status == 201
    minted = await api.post("/api/tokens", headers=_bearer(token),
                            json_body={"name": "child", "scopes": ["read"]})
    assert minted.status == 201
    forbid(minted.json()["token"])
    names = [t["name"] for t in (await api.get("/api/tokens", headers=_bearer(token))).json()]
    assert names == ["ci admin", "child"]


@pytest.mark.gen_test
async def test_an_expired_token_and_a_revoked_one_get_401(api, owner, db_url):
    expiring = await _mint(api, owner, ["admin"], expires_in_days=30)
    revoked = await _mint(api, owner, ["admin"])
    assert (await api.get("/api/me", headers=_bearer(expiring["token"]))).status == 200
    assert (await api.get("/api/me", headers=_bearer(revoked["token"]))).status == 200

    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' "
                     "WHERE id = %s", (expiring["id"],))
    deleted = await api.request("DELETE", f"/api/tokens/{revoked['id']}", headers=owner.headers)
    assert deleted.status == 204

    for token in (expiring["token"], revoked["token"]):
        response = await api.get("/api/me", headers=_bearer(token))
        assert response.status == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert [t["id"] for t in (await api.get("/api/tokens", headers=owner.headers)).json()] \
        == [expiring["id"]]


@pytest.mark.gen_test
async def test_another_users_token_is_a_404_and_keeps_working(api, owner, app_server):
    bob = await sign_in_github_user(app_server, api, 2002, "bob")
    bobs = await _mint(api, bob, ["read"])

    stolen = await api.request("DELETE", f"/api/tokens/{bobs['id']}", headers=owner.headers)
    missing = await api.request("DELETE", f"/api/tokens/{bobs['id'] + 1000}",
                                headers=owner.headers)
    assert stolen.status == missing.status == 404
    assert stolen.json() == missing.json()
    assert (await api.get("/api/tokens", headers=owner.headers)).json() == []
    assert (await api.get("/api/me", headers=_bearer(bobs["token"]))).status == 200


@pytest.mark.gen_test
async def test_a_token_never_reaches_another_users_projects(api, owner, project, app_server):
    bob = await sign_in_github_user(app_server, api, 2003, "bob")
    token = (await _mint(api, bob, ["admin"]))["token"]
    assert (await api.get("/api/projects", headers=_bearer(token))).json() == []
    for method, path in [("GET", f"/api/projects/{project['id']}"),
                         ("POST", f"/api/projects/{project['id']}/builds"),
                         ("DELETE", f"/api/projects/{project['id']}")]:
        response = await api.request(method, path, headers=_bearer(token))
        assert response.status == 404, (method, path)
    assert (await api.get(f"/api/projects/{project['id']}", headers=owner.headers)).status == 200


@pytest.mark.gen_test
async def test_logout_is_for_sessions_and_a_token_cannot_end_them(api, owner, db_url):
    token = (await _mint(api, owner, ["admin"]))["token"]
    response = await api.post("/api/auth/logout", headers=_bearer(token))
    assert response.status == 403
    assert response.json()["error"]["code"] == "session_required"
    assert (await api.get("/api/me", headers=owner.headers)).status == 200

    assert (await api.post("/api/auth/logout", headers=owner.headers)).status == 204
    assert (await api.get("/api/me", headers=owner.headers)).status == 401
    assert (await api.get("/api/me", headers=_bearer(token))).status == 200, \
        "signing out ends sessions; tokens are revoked one by one"


@pytest.mark.gen_test
async def test_last_use_is_recorded_at_most_about_once_a_minute(api, owner, db_url):
    created = await _mint(api, owner, ["read"])
    await api.get("/api/projects", headers=_bearer(created["token"]))
    [row] = (await api.get("/api/tokens", headers=owner.headers)).json()
    assert row["last_used_at"] is not None

    def set_last_use(ago: str) -> datetime:
        with psycopg.connect(db_url) as conn:
            return conn.execute("UPDATE api_tokens SET last_used_at = now() - %s::interval "
                                "RETURNING last_used_at", (ago,)).fetchone()[0]

    def last_use() -> datetime:
        return _count(db_url, "SELECT last_used_at FROM api_tokens")

    recent = set_last_use("30 seconds")
    await api.get("/api/projects", headers=_bearer(created["token"]))
    assert last_use() == recent, "a use within the minute writes nothing"

    stale = set_last_use("2 minutes")
    await api.get("/api/projects", headers=_bearer(created["token"]))
    assert last_use() > stale


class _Socket:
    """A Socket.io client as the CLI's `logs --follow` uses it, with the token in `auth`."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.refusals: list = []
        self.client.on("connect_error", self.refusals.append)

    async def connect(self, url: str, token: str) -> None:
        await self.client.connect(url, transports=["websocket"], auth={"token": token},
                                  wait_timeout=5)


@pytest.mark.gen_test
async def test_a_socket_connects_with_a_token_and_revoking_it_closes_and_refuses(
        api, owner, app_server):
    created = await _mint(api, owner, ["read"])
    sockets = [_Socket(), _Socket()]
    try:
        await sockets[0].connect(app_server.url, created["token"])
        assert sockets[0].client.connected
        received: asyncio.Queue = asyncio.Queue()
        sockets[0].client.on("buildStatusUpdate", received.put_nowait)
        app_server.app.events.emit(owner.user["id"], "buildStatusUpdate", {"buildId": 1})
        assert await asyncio.wait_for(received.get(), 5) == {"buildId": 1}

        assert (await api.request("DELETE", f"/api/tokens/{created['id']}",
                                  headers=owner.headers)).status == 204
        for _ in range(50):
            if not sockets[0].client.connected:
                break
            await asyncio.sleep(0.05)
        assert not sockets[0].client.connected
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sockets[1].connect(app_server.url, created["token"])
        assert sockets[1].refusals == [
            {"message": "unauthorized: a valid session token is required"}]
    finally:
        for socket in sockets:
            await socket.client.disconnect()
