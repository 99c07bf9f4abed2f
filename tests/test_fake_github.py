"""The fake GitHub behaves as GitHub does for what Slipway uses: real HTTP, real `git`."""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import tornado.ioloop

from tests.support.fake_github import FakeGitHub, FakeUser
from tests.support.http import ApiClient, Response

CALLBACK = "http://127.0.0.1:9/auth/github/callback?next=%2Fapps"


@pytest.fixture
def github(io_loop: tornado.ioloop.IOLoop, tmp_path: Path) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(tmp_path / "github")
    fake.start()
    yield fake
    io_loop.run_sync(fake.stop)


@pytest.fixture
def client(github: FakeGitHub) -> Iterator[ApiClient]:
    api = ApiClient(github.url)
    yield api
    api.close()


@pytest.fixture
def ada(github: FakeGitHub) -> FakeUser:
    return github.add_user("ada", name="Ada Lovelace")


def bearer(user: FakeUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}"}


class GitCli:
    """The real git CLI, run without blocking the loop that serves the fake, isolated from the
    machine's configuration. A token is given only through GIT_ASKPASS, never in argv or a URL."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir()
        self.askpass = home / "askpass.sh"
        self.askpass.write_text(
            '#!/bin/sh\ncase "$1" in\n  Username*) echo x-access-token ;;\n'
            '  *) echo "$FAKE_GITHUB_TOKEN" ;;\nesac\n'
        )
        self.askpass.chmod(0o755)

    async def __call__(self, *args: str, cwd: Path | None = None, token: str | None = None
                       ) -> tuple[int, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
        }
        if token is not None:
            env |= {"GIT_ASKPASS": str(self.askpass), "FAKE_GITHUB_TOKEN": token}
        process = await asyncio.create_subprocess_exec(
            "git", *args, cwd=cwd or self.home, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        return process.returncode or 0, out.decode()


@pytest.fixture
def git(tmp_path: Path) -> GitCli:
    return GitCli(tmp_path / "git-home")


async def authorize(client: ApiClient, github: FakeGitHub, **params: str) -> Response:
    query = {"client_id": github.CLIENT_ID, "redirect_uri": CALLBACK, "scope": "repo user:email",
             "state": "s-123"} | params
    return await client.get("/login/oauth/authorize?" + urlencode(query))


async def exchange(client: ApiClient, github: FakeGitHub, code: str, *,
                   secret: str | None = None, accept: str = "application/json") -> Response:
    form = {"client_id": github.CLIENT_ID, "client_secret": secret or github.CLIENT_SECRET,
            "code": code}
    return await client.post("/login/oauth/access_token", body=urlencode(form), headers={
        "Accept": accept, "Content-Type": "application/x-www-form-urlencoded"})


# -- OAuth ------------------------------------------------------------------------------------


@pytest.mark.gen_test
async def test_authorize_redirects_with_a_code_keeping_state_and_query(github, client, ada):
    github.signed_in = ada
    response = await authorize(client, github)
    assert response.status == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/github/callback"
    query = parse_qs(location.query)
    assert query["next"] == ["/apps"]
    assert query["state"] == ["s-123"]
    assert len(query["code"][0]) == 20
    assert github.authorizations[-1].scope == "repo,user:email"


@pytest.mark.gen_test
async def test_authorize_needs_the_known_app_and_a_signed_in_user(github, client, ada):
    assert (await authorize(client, github)).status == 403
    github.signed_in = ada
    response = await authorize(client, github, client_id="someone-else")
    assert response.status == 404
    assert response.json()["message"] == "Not Found"


@pytest.mark.gen_test
async def test_code_exchanges_once_for_the_users_token(github, client, ada):
    github.signed_in = ada
    code = parse_qs(urlsplit((await authorize(client, github)).headers["Location"]).query)["code"]
    first = await exchange(client, github, code[0])
    assert first.status == 200
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert first.json() == {"access_token": ada.token, "token_type": "bearer",
                            "scope": "repo,user:email"}
    again = await exchange(client, github, code[0])
    assert again.status == 200  # GitHub reports exchange errors with a 200
    assert again.json()["error"] == "bad_verification_code"


@pytest.mark.gen_test
async def test_code_exchange_refuses_a_wrong_secret_and_an_expired_code(github, client, ada):
    github.signed_in = ada
    location = (await authorize(client, github)).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    wrong = await exchange(client, github, code, secret="not-the-secret")
    assert wrong.json()["error"] == "incorrect_client_credentials"
    real_clock = github.clock
    github.clock = lambda: real_clock() + FakeGitHub.CODE_LIFETIME + 1
    assert (await exchange(client, github, code)).json()["error"] == "bad_verification_code"


@pytest.mark.gen_test
async def test_code_exchange_answers_form_encoded_unless_json_is_accepted(github, client, ada):
    github.signed_in = ada
    location = (await authorize(client, github, scope="")).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    response = await exchange(client, github, code, accept="*/*")
    assert response.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert parse_qs(response.body.decode()) == {"access_token": [ada.token],
                                                "token_type": ["bearer"]}


# -- REST API ---------------------------------------------------------------------------------


@pytest.mark.gen_test
async def test_user_needs_a_valid_token_in_either_scheme(github, client, ada):
    anonymous = await client.get("/api/v3/user")
    assert anonymous.status == 401
    assert anonymous.json()["message"] == "Bad credentials"
    bad = await client.get("/api/v3/user", headers={"Authorization": "Bearer gho_nope"})
    assert bad.status == 401
    for scheme in ("Bearer", "token"):
        response = await client.get("/api/v3/user",
                                    headers={"Authorization": f"{scheme} {ada.token}"})
        assert response.status == 200
        assert response.json() | {"avatar_url": None, "html_url": None} == {
            "id": ada.id, "login": "ada", "name": "Ada Lovelace", "email": "ada@example.com",
            "type": "User", "avatar_url": None, "html_url": None}
    assert [r.headers.get("Authorization") for r in github.requests][-1] == f"token {ada.token}"


@pytest.mark.gen_test
async def test_user_emails_put_the_primary_verified_address_among_others(github, client):
    grace = github.add_user("grace", email="grace@navy.example", public_email=False)
    assert (await client.get("/api/v3/user", headers=bearer(grace))).json()["email"] is None
    emails = (await client.get("/api/v3/user/emails", headers=bearer(grace))).json()
    assert len(emails) == 2
    assert [e["email"] for e in emails if e["primary"] and e["verified"]] == ["grace@navy.example"]


@pytest.mark.gen_test
async def test_user_repos_are_paginated_with_a_link_header(github, client, ada):
    names = ["delta", "alpha", "echo", "charlie", "bravo"]
    for name in names:
        github.add_repo(ada, name)
    github.add_repo(github.add_user("grace"), "not-adas")
    first = await client.get("/api/v3/user/repos?per_page=2&affiliation=owner",
                             headers=bearer(ada))
    assert [repo["name"] for repo in first.json()] == ["alpha", "bravo"]
    base = f"{github.api_url}/user/repos?per_page=2&affiliation=owner"
    assert first.headers["Link"] == f'<{base}&page=2>; rel="next", <{base}&page=3>; rel="last"'
    last = await client.get("/api/v3/user/repos?per_page=2&affiliation=owner&page=3",
                            headers=bearer(ada))
    assert [repo["full_name"] for repo in last.json()] == ["ada/echo"]
    assert 'rel="next"' not in last.headers["Link"]
    newest = await client.get("/api/v3/user/repos?sort=updated", headers=bearer(ada))
    assert [repo["name"] for repo in newest.json()] == names[::-1]
    assert "Link" not in newest.headers
    repo = newest.json()[0]
    assert repo["owner"] == {"login": "ada", "id": ada.id, "type": "User"}
    assert repo["clone_url"] == f"{github.url}/ada/bravo.git"
    assert repo["updated_at"].endswith("Z")


@pytest.mark.gen_test
async def test_private_repo_is_not_found_for_other_users(github, client, ada):
    github.add_repo(ada, "secret", private=True)
    grace = github.add_user("grace")
    assert (await client.get("/api/v3/repos/ada/secret", headers=bearer(ada))).status == 200
    hidden = await client.get("/api/v3/repos/ada/secret", headers=bearer(grace))
    assert hidden.status == 404
    assert hidden.json()["message"] == "Not Found"


@pytest.mark.gen_test
async def test_branch_names_with_slashes_and_commits_resolve(github, client, ada):
    repo = github.add_repo(ada, "site")
    sha = github.push(repo, {"index.html": "<h1>hi</h1>"}, branch="feature/new-look",
                      message="New look\n\nWith details.", author="Grace Hopper <grace@ex.com>")
    for branch in ("feature/new-look", "feature%2Fnew-look"):
        response = await client.get(f"/api/v3/repos/ada/site/branches/{branch}",
                                    headers=bearer(ada))
        assert response.status == 200
        assert response.json()["name"] == "feature/new-look"
        commit = response.json()["commit"]
        assert commit["sha"] == sha
        assert commit["commit"]["message"] == "New look\n\nWith details."
        assert commit["commit"]["author"]["name"] == "Grace Hopper"
        assert commit["commit"]["author"]["date"].endswith("Z")
        assert commit["parents"] == [{"sha": github.head(repo)}]
    missing = await client.get("/api/v3/repos/ada/site/branches/nope", headers=bearer(ada))
    assert missing.status == 404
    by_sha = await client.get(f"/api/v3/repos/ada/site/commits/{sha}", headers=bearer(ada))
    assert by_sha.json()["sha"] == sha


@pytest.mark.gen_test
async def test_hooks_are_created_by_the_owner_and_deleted(github, client, ada):
    github.add_repo(ada, "site")
    hook = {"name": "web", "active": True, "events": ["push"],
            "config": {"url": "http://slipway.test/hooks/github", "content_type": "json",
                       "secret": "s3cret", "insecure_ssl": "0"}}
    grace = github.add_user("grace")
    assert (await client.post("/api/v3/repos/ada/site/hooks", json_body=hook,
                              headers=bearer(grace))).status == 404
    created = await client.post("/api/v3/repos/ada/site/hooks", json_body=hook,
                                headers=bearer(ada))
    assert created.status == 201
    hook_id = created.json()["id"]
    assert created.json()["config"]["secret"] == "********"
    listed = await client.get("/api/v3/repos/ada/site/hooks", headers=bearer(ada))
    assert [h["id"] for h in listed.json()] == [hook_id]
    assert github.hooks == {"ada/site": {hook_id: hook}}
    gone = await client.request("DELETE", f"/api/v3/repos/ada/site/hooks/{hook_id}",
                                headers=bearer(ada))
    assert (gone.status, gone.body) == (204, b"")
    assert github.hooks == {"ada/site": {}}
    again = await client.request("DELETE", f"/api/v3/repos/ada/site/hooks/{hook_id}",
                                 headers=bearer(ada))
    assert again.status == 404


@pytest.mark.gen_test
async def test_statuses_need_a_known_state_and_commit(github, client, ada):
    repo = github.add_repo(ada, "site")
    sha = github.head(repo)
    status = {"state": "success", "target_url": "http://slipway.test/builds/1",
              "description": "Deployed", "context": "slipway"}
    url = f"/api/v3/repos/ada/site/statuses/{sha}"
    created = await client.post(url, json_body=status, headers=bearer(ada))
    assert created.status == 201
    assert github.statuses == [{"repo": "ada/site", "sha": sha, **status}]
    invalid = await client.post(url, json_body={**status, "state": "deployed"},
                                headers=bearer(ada))
    assert invalid.status == 422
    assert invalid.json()["errors"][0]["field"] == "state"
    unknown = await client.post("/api/v3/repos/ada/site/statuses/" + "0" * 40,
                                json_body=status, headers=bearer(ada))
    assert unknown.status == 422
    assert len(github.statuses) == 1


@pytest.mark.gen_test
async def test_fail_api_makes_the_next_api_calls_fail(github, client, ada):
    github.fail_api(times=2)
    first = await client.get("/api/v3/user", headers=bearer(ada))
    assert first.status == 502
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert first.json()["message"] == "Bad Gateway"
    assert (await exchange(client, github, "any")).status == 502
    assert (await client.get("/api/v3/user", headers=bearer(ada))).status == 200


@pytest.mark.gen_test
async def test_unknown_paths_and_methods_are_json_404s_and_recorded(github, client, ada):
    for method, path in [("GET", "/nope"), ("GET", "/api/v3/nope"),
                         ("PUT", "/api/v3/user"), ("GET", "/login/oauth/access_token")]:
        response = await client.request(method, path, body=b"x" if method == "PUT" else None,
                                        headers=bearer(ada))
        assert (response.status, response.json()["message"]) == (404, "Not Found")
    assert [(r.method, r.path) for r in github.requests][-2:] == [
        ("PUT", "/api/v3/user"), ("GET", "/login/oauth/access_token")]
    assert github.requests[-2].body == b"x"


# -- git over HTTP ----------------------------------------------------------------------------


@pytest.mark.gen_test
async def test_public_repo_clones_anonymously(github, ada, git, tmp_path):
    repo = github.add_repo(ada, "site", files={"index.html": "<h1>v1</h1>", "a dir/x.txt": "x"})
    code, output = await git("clone", "--depth", "1", repo.clone_url, str(tmp_path / "out"))
    assert code == 0, output
    assert (tmp_path / "out" / "index.html").read_text() == "<h1>v1</h1>"
    assert (tmp_path / "out" / "a dir" / "x.txt").read_text() == "x"
    assert all("Authorization" not in r.headers for r in github.requests)
    # git 2.18+ speaks protocol v2, which only works if the backend was told of it.
    assert github.requests[0].headers.get("Git-Protocol") == "version=2"


@pytest.mark.gen_test
async def test_private_repo_clones_only_with_the_owners_token(github, ada, git, tmp_path):
    repo = github.add_repo(ada, "secret", private=True)
    code, output = await git("clone", repo.clone_url, str(tmp_path / "anonymous"))
    assert code != 0
    assert "terminal prompts disabled" in output
    code, output = await git("clone", repo.clone_url, str(tmp_path / "wrong"), token="gho_bad")
    assert code != 0
    assert "Authentication failed" in output
    grace = github.add_user("grace")
    code, output = await git("clone", repo.clone_url, str(tmp_path / "other"), token=grace.token)
    assert code != 0
    assert "not found" in output
    code, output = await git("clone", repo.clone_url, str(tmp_path / "out"), token=ada.token)
    assert code == 0, output
    assert (tmp_path / "out" / "README.md").exists()
    for request in github.requests:
        assert ada.token not in request.path + repr(request.query)
    sent = {r.headers.get("Authorization") for r in github.requests}
    assert "Basic " + base64.b64encode(f"x-access-token:{ada.token}".encode()).decode() in sent


@pytest.mark.gen_test
@pytest.mark.parametrize("protocol", ["2", "0"])
async def test_an_older_pushed_commit_is_fetched_by_sha(github, ada, git, tmp_path, protocol):
    repo = github.add_repo(ada, "site")
    work = tmp_path / "work"
    code, output = await git("clone", "--depth", "1", repo.clone_url, str(work))
    assert code == 0, output
    second = github.push(repo, {"index.html": "<h1>v2</h1>"}, message="v2")
    github.push(repo, {"index.html": "<h1>v3</h1>"}, message="v3")
    # No longer a branch tip: protocol v0 serves it only because the repository allows any
    # sha in wants.
    code, output = await git("-c", f"protocol.version={protocol}", "fetch", "--depth", "1",
                             "origin", second, cwd=work)
    assert code == 0, output
    code, output = await git("show", "FETCH_HEAD:index.html", cwd=work)
    assert output == "<h1>v2</h1>"


@pytest.mark.gen_test
async def test_gzipped_upload_pack_requests_are_inflated(github, client, ada):
    repo = github.add_repo(ada, "site")
    ls_refs = b"0014command=ls-refs\n" + b"0001" + b"0000"
    response = await client.post("/ada/site.git/git-upload-pack", body=gzip.compress(ls_refs),
                                 headers={"Content-Encoding": "gzip", "Git-Protocol": "version=2",
                                          "Content-Type": "application/x-git-upload-pack-request"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/x-git-upload-pack-result"
    assert f"{github.head(repo)} refs/heads/main".encode() in response.body


@pytest.mark.gen_test
async def test_git_answers_match_githubs(github, client, ada):
    github.add_repo(ada, "secret", private=True)
    challenge = await client.get("/ada/secret.git/info/refs?service=git-upload-pack")
    assert challenge.status == 401
    assert challenge.headers["WWW-Authenticate"] == 'Basic realm="GitHub"'
    missing = await client.get("/ada/nothing.git/info/refs?service=git-upload-pack")
    assert missing.status == 401  # anonymous callers cannot tell missing from private
    basic = "Basic " + base64.b64encode(f"x:{ada.token}".encode()).decode()
    push = await client.get("/ada/secret.git/info/refs?service=git-receive-pack",
                            headers={"Authorization": basic})
    assert push.status == 403
    refs = await client.get("/ada/secret.git/info/refs?service=git-upload-pack",
                            headers={"Authorization": basic, "Git-Protocol": "version=2"})
    assert refs.status == 200
    assert refs.headers["Content-Type"] == "application/x-git-upload-pack-advertisement"
    assert b"version 2\n" in refs.body


# -- one fake per session -----------------------------------------------------------------------


@pytest.mark.gen_test
async def test_reset_forgets_everything_a_test_did(github, client, ada, git, tmp_path):
    repo = github.add_repo(ada, "site")
    github.signed_in = ada
    github.fail_api()
    github.clock = lambda: 0.0
    github.reset()
    assert github.clock() > 0
    assert not repo.path.exists()
    assert (github.users, github.repos, github.requests, github.signed_in) == ({}, {}, [], None)
    assert (await client.get("/api/v3/user", headers=bearer(ada))).status == 401
    again = github.add_repo(github.add_user("ada"), "site")
    code, output = await git("clone", again.clone_url, str(tmp_path / "out"))
    assert code == 0, output
