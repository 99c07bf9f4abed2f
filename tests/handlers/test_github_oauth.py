"""GitHub sign-in, driven as a browser would: Slipway → fake GitHub → Slipway, over real HTTP."""

from __future__ import annotations

from dataclasses import replace
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from tests.support.app import close_app, open_app, start_app, stop_app
from tests.support.http import ApiClient


class Browser:
    """Follows one redirect at a time and keeps cookies per host, like a browser tab."""

    def __init__(self) -> None:
        self.client = ApiClient("")
        self.cookies: dict[str, SimpleCookie] = {}

    async def get(self, url: str):
        host = urlsplit(url).netloc
        jar = self.cookies.setdefault(host, SimpleCookie())
        path = urlsplit(url).path
        cookie = "; ".join(f"{k}={m.value}" for k, m in jar.items()
                           if path.startswith(m["path"] or "/"))
        response = await self.client.get(url, headers={"Cookie": cookie} if cookie else {})
        for header in response.headers.get_list("Set-Cookie"):
            jar.load(header)
        return response

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def oauth_app(oauth_config, io_loop):
    running = start_app(oauth_config, io_loop)
    yield running
    stop_app(running, io_loop)


@pytest.fixture
def browser():
    tab = Browser()
    yield tab
    tab.close()


@pytest.fixture
def api_for(oauth_app):
    client = ApiClient(oauth_app.url)
    yield client
    client.close()


async def _sign_in_with_github(browser, oauth_app, github):
    """Click "Continue with GitHub" and follow redirects until Slipway's /login#code=."""
    start = await browser.get(oauth_app.url + "/api/auth/github")
    assert start.status == 302
    authorize = await browser.get(start.headers["Location"])
    assert authorize.status == 302, authorize.body
    callback = await browser.get(authorize.headers["Location"])
    return start, authorize, callback


def _code_from(callback) -> str:
    assert callback.status == 302, callback.body
    location = callback.headers["Location"]
    assert location.startswith("/login#code=")
    return location.split("#code=", 1)[1]


def _user_count(db_url) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT count(*) FROM users WHERE github_id IS NOT NULL").fetchone()[0]


@pytest.mark.gen_test
async def test_full_github_sign_in_round_trip(oauth_app, browser, github, api_for, db_url):
    ada = github.add_user("ada", name="Ada Lovelace", public_email=False)
    github.signed_in = ada

    start, authorize, callback = await _sign_in_with_github(browser, oauth_app, github)

    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert start.headers["Location"].startswith(github.url + "/login/oauth/authorize?")
    assert query["scope"] == ["read:user user:email repo admin:repo_hook"]
    assert query["redirect_uri"] == [oauth_app.app.config.public_url + "/api/auth/github/callback"]
    cookie = start.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Domain" not in cookie

    code = _code_from(callback)
    session = await api_for.post("/api/auth/session", json_body={"code": code})
    assert session.status == 200
    user = session.json()["user"]
    assert (user["username"], user["github_id"], user["email"]) == ("ada", ada.id,
                                                                  "ada@example.com")
    assert user["github_linked"] is True

    token = session.json()["token"]
    me = await api_for.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == user
    for answer in (start, authorize, callback, session, me):
        assert ada.token.encode() not in answer.body
        assert ada.token not in str(answer.headers)


@pytest.mark.gen_test
async def test_the_github_token_travels_only_in_headers_and_is_stored_encrypted(
    oauth_app, browser, github, db_url
):
    ada = github.add_user("ada")
    github.signed_in = ada
    _code_from((await _sign_in_with_github(browser, oauth_app, github))[2])

    exchange = next(r for r in github.requests if r.path == "/login/oauth/access_token")
    assert b"client_secret=" in exchange.body
    assert "client_secret" not in str(exchange.query)
    api_calls = [r for r in github.requests if r.path.startswith("/api/v3/")]
    assert api_calls
    for request in api_calls:
        assert request.headers["Authorization"] == f"Bearer {ada.token}"
    for request in github.requests:
        assert ada.token not in request.path + str(request.query)
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT access_token_ciphertext FROM users "
                              "WHERE github_id = %s", (ada.id,)).fetchone()[0]
    assert ada.token.encode() not in bytes(stored)


@pytest.mark.gen_test
async def test_signing_in_again_updates_the_same_user(oauth_app, browser, github, db_url,
                                                      api_for):
    ada = github.add_user("ada")
    github.signed_in = ada
    first = _code_from((await _sign_in_with_github(browser, oauth_app, github))[2])
    second = _code_from((await _sign_in_with_github(browser, oauth_app, github))[2])
    ids = {(await api_for.post("/api/auth/session", json_body={"code": c})).json()["user"]["id"]
           for c in (first, second)}
    assert len(ids) == 1
    assert _user_count(db_url) == 1


@pytest.mark.gen_test
async def test_callback_with_another_browsers_state_is_refused(oauth_app, browser, github,
                                                               db_url):
    github.signed_in = github.add_user("mallory")
    start = await browser.get(oauth_app.url + "/api/auth/github")
    authorize = await browser.get(start.headers["Location"])
    victim = Browser()  # the victim never started a sign-in: no state cookie
    try:
        response = await victim.get(authorize.headers["Location"])
    finally:
        victim.close()
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_state"
    assert _user_count(db_url) == 0


@pytest.mark.gen_test
@pytest.mark.parametrize("tamper", ["wrong", "missing"])
async def test_callback_with_wrong_or_missing_state_is_refused(oauth_app, browser, github,
                                                               db_url, tamper):
    github.signed_in = github.add_user("ada")
    start = await browser.get(oauth_app.url + "/api/auth/github")
    authorize = await browser.get(start.headers["Location"])
    callback = urlsplit(authorize.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(callback.query).items()}
    if tamper == "wrong":
        params["state"] = "forged-state"
    else:
        del params["state"]
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = await browser.get(f"{oauth_app.url}{callback.path}?{query}")
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_state"
    assert _user_count(db_url) == 0


@pytest.mark.gen_test
async def test_declining_on_github_returns_to_sign_in(oauth_app, browser):
    start = await browser.get(oauth_app.url + "/api/auth/github")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    response = await browser.get(
        f"{oauth_app.url}/api/auth/github/callback?error=access_denied&state={state}")
    assert response.status == 302
    assert response.headers["Location"] == "/login#error=github_denied"


@pytest.mark.gen_test
async def test_a_code_github_refuses_is_a_401_and_creates_no_user(oauth_app, browser, github,
                                                                  db_url):
    github.signed_in = github.add_user("ada")
    start = await browser.get(oauth_app.url + "/api/auth/github")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    response = await browser.get(
        f"{oauth_app.url}/api/auth/github/callback?code=never-issued&state={state}")
    assert response.status == 401
    assert response.json()["error"]["message"].startswith("GitHub refused the sign-in code")
    assert _user_count(db_url) == 0


@pytest.mark.gen_test
async def test_github_failing_is_a_503_with_a_clear_message(oauth_app, browser, github, db_url):
    github.signed_in = github.add_user("ada")
    start = await browser.get(oauth_app.url + "/api/auth/github")
    authorize = await browser.get(start.headers["Location"])
    github.fail_api(502)
    response = await browser.get(authorize.headers["Location"])
    assert response.status == 503
    assert "GitHub failed" in response.json()["error"]["message"]
    assert _user_count(db_url) == 0


@pytest.mark.gen_test
async def test_github_unreachable_is_a_503_naming_the_address(oauth_config, browser):
    unreachable = "http://127.0.0.1:9"  # the discard port: nothing listens
    running = await open_app(replace(oauth_config, github_url=unreachable,
                                     github_api_url=unreachable + "/api/v3"))
    try:
        start = await browser.get(running.url + "/api/auth/github")
        state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
        response = await browser.get(
            f"{running.url}/api/auth/github/callback?code=abc&state={state}")
    finally:
        await close_app(running)
    assert response.status == 503
    assert response.json()["error"]["message"].startswith(
        "GitHub is not reachable at http://127.0.0.1:9")


@pytest.mark.gen_test
async def test_repositories_are_listed_through_the_users_token(oauth_app, browser, github,
                                                               api_for):
    ada = github.add_user("ada")
    github.signed_in = ada
    for n in range(31):
        github.add_repo(ada, f"site-{n:02d}", private=n % 2 == 0)
    code = _code_from((await _sign_in_with_github(browser, oauth_app, github))[2])
    token = (await api_for.post("/api/auth/session", json_body={"code": code})).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}

    first = (await api_for.get("/api/github/repos", headers=headers)).json()
    second = (await api_for.get("/api/github/repos?page=2", headers=headers)).json()

    assert len(first["repos"]) == 30 and first["next_page"] == 2
    assert [r["name"] for r in second["repos"]] == ["site-00"] and second["next_page"] is None
    assert first["repos"][0]["name"] == "site-30"  # most recently updated first
    assert set(first["repos"][0]) == {"name", "full_name", "default_branch", "private",
                                      "updated_at", "clone_url", "html_url"}
    assert (await api_for.get("/api/github/repos?page=0", headers=headers)).status == 400

    ada.token = "gho_revoked"  # GitHub no longer knows the token Slipway stored
    revoked = await api_for.get("/api/github/repos", headers=headers)
    assert revoked.status == 401
    assert revoked.json()["error"]["code"] == "github_reauth"
