"""Local sign-in and sessions: one-time codes, tokens, /api/me, logout revoking everything."""

import time

import jwt
import psycopg
import pytest

from engine.accounts.login_codes import issue_login_code, local_sign_in_link


async def _local_code(app_server):
    link = await local_sign_in_link(app_server.app.db.pool, app_server.app.config.public_url)
    assert link.startswith(app_server.app.config.public_url + "/login#code=")
    return link.split("#code=", 1)[1]


async def _sign_in(api, code):
    return await api.post("/api/auth/session", json_body={"code": code})


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.gen_test
async def test_local_link_signs_in_the_administrator(api, app_server):
    response = await _sign_in(api, await _local_code(app_server))
    assert response.status == 200
    body = response.json()
    assert body["user"]["username"] == "admin"
    assert body["user"]["is_local_admin"] is True

    me = await api.get("/api/me", headers=_bearer(body["token"]))
    assert me.status == 200
    assert me.json() == body["user"]


@pytest.mark.gen_test
async def test_a_code_works_once(api, app_server):
    code = await _local_code(app_server)
    assert (await _sign_in(api, code)).status == 200
    again = await _sign_in(api, code)
    assert again.status == 401
    assert again.json()["error"]["code"] == "invalid_code"


@pytest.mark.gen_test
async def test_an_expired_code_is_refused(api, app_server, db_url):
    code = await _local_code(app_server)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE login_codes SET expires_at = now() - interval '1 second'")
    assert (await _sign_in(api, code)).status == 401


@pytest.mark.gen_test
async def test_oauth_codes_expire_after_a_minute_and_local_ones_after_fifteen(app_server,
                                                                             db_url):
    pool = app_server.app.db.pool
    admin_link = await local_sign_in_link(pool, "http://x")
    assert admin_link
    with psycopg.connect(db_url) as conn:
        admin = conn.execute("SELECT id FROM users WHERE is_local_admin").fetchone()[0]
    await issue_login_code(pool, admin, "oauth")
    with psycopg.connect(db_url) as conn:
        lifetimes = dict(conn.execute(
            "SELECT purpose, round(extract(epoch FROM expires_at - created_at)) "
            "FROM login_codes").fetchall())
    assert lifetimes == {"local": 900, "oauth": 60}


@pytest.mark.gen_test
@pytest.mark.parametrize("body", [{"code": "made-up"}, {"code": ""}, {"code": "x" * 200}])
async def test_unknown_codes_are_refused(api, body):
    assert (await _sign_in(api, body["code"])).status == 401


@pytest.mark.gen_test
async def test_session_needs_a_code_field(api):
    response = await api.post("/api/auth/session", json_body={"token": "x"})
    assert response.status == 400
    assert response.json()["error"]["field"] == "token"


@pytest.mark.gen_test
async def test_requests_without_a_valid_token_get_401(api, app_server):
    key = app_server.app.keys.jwt
    expired = jwt.encode({"sub": "1", "ver": 0, "exp": int(time.time()) - 5}, key, "HS256")
    forged = jwt.encode({"sub": "1", "ver": 0, "exp": int(time.time()) + 60}, b"k" * 32, "HS256")
    for headers in ({}, {"Authorization": "Basic YWRtaW46YWRtaW4="}, _bearer(""),
                    _bearer("not-a-jwt"), _bearer(expired), _bearer(forged)):
        response = await api.get("/api/me", headers=headers)
        assert response.status == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.gen_test
async def test_a_token_for_a_deleted_user_is_refused(api, app_server, db_url):
    token = (await _sign_in(api, await _local_code(app_server))).json()["token"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM users")
    assert (await api.get("/api/me", headers=_bearer(token))).status == 401


@pytest.mark.gen_test
async def test_logout_revokes_every_session_of_the_user(api, app_server):
    first = (await _sign_in(api, await _local_code(app_server))).json()["token"]
    second = (await _sign_in(api, await _local_code(app_server))).json()["token"]

    response = await api.post("/api/auth/logout", headers=_bearer(first))
    assert response.status == 204

    for token in (first, second):
        assert (await api.get("/api/me", headers=_bearer(token))).status == 401
    fresh = (await _sign_in(api, await _local_code(app_server))).json()["token"]
    assert (await api.get("/api/me", headers=_bearer(fresh))).status == 200


@pytest.mark.gen_test
async def test_logout_needs_a_session(api):
    assert (await api.post("/api/auth/logout")).status == 401


@pytest.mark.gen_test
async def test_github_endpoints_explain_when_github_is_not_configured(api, app_server):
    assert not app_server.app.config.github_oauth_enabled
    response = await api.get("/api/auth/github")
    assert response.status == 404
    assert "GITHUB_CLIENT_ID" in response.json()["error"]["message"]


@pytest.mark.gen_test
async def test_repos_for_an_account_without_github_is_a_clear_409(api, app_server):
    token = (await _sign_in(api, await _local_code(app_server))).json()["token"]
    response = await api.get("/api/github/repos", headers=_bearer(token))
    assert response.status == 409
    assert response.json()["error"]["code"] == "github_not_linked"
