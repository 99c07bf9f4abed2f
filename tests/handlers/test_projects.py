"""Projects over the real API, with webhook registration observed by the fake GitHub."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import psycopg
import pytest

from tests.support.accounts import sign_in_github_user, sign_in_local_admin
from tests.support.leaks import forbid
from tests.support.repos import add_branch, make_repo


@pytest.fixture
def ada_github(github):
    return github.add_user("ada")


@pytest.fixture
def ada(app_server, api, ada_github, io_loop):
    return io_loop.run_sync(lambda: sign_in_github_user(app_server, api, ada_github.id, "ada",
                                                        ada_github.token))


@pytest.fixture
def site_repo(github, ada_github):
    return github.add_repo(ada_github, "site", default_branch="trunk")


async def _create(api, who, **body):
    return await api.post("/api/projects", json_body=body, headers=who.headers)


def _rows(db_url, query, *params):
    with psycopg.connect(db_url) as conn:
        return conn.execute(query, params).fetchall()


@pytest.mark.gen_test
async def test_creating_a_github_project_registers_its_webhook_and_queues_a_build(
    api, ada, site_repo, github, app_server, db_url
):
    response = await _create(api, ada, name="site", repo_url=site_repo.html_url)

    assert response.status == 201
    project = response.json()
    assert response.headers["Location"] == f"/api/projects/{project['id']}"
    assert project["github_repo"] == "ada/site"
    assert project["branch"] == "trunk"  # the repository's default branch, from GitHub
    assert project["webhook"] == {"status": "active", "error": None}
    assert project["latest_build"]["status"] == "queued"
    assert project["latest_build"]["branch"] == "trunk"

    [(hook_id, hook)] = github.hooks["ada/site"].items()
    assert hook["events"] == ["push"]
    assert hook["config"]["url"] == app_server.app.config.public_url + "/api/webhooks/github"
    assert hook["config"]["content_type"] == "json"
    secret = hook["config"]["secret"]
    assert len(secret) >= 32
    [(stored_id, nonce, ciphertext)] = _rows(
        db_url, "SELECT webhook_id, webhook_secret_nonce, webhook_secret_ciphertext "
        "FROM projects")
    assert stored_id == hook_id
    assert secret.encode() not in bytes(ciphertext)
    box = app_server.app.keys.box
    assert box.open_text(nonce, ciphertext, "webhook-secret", project["id"]) == secret
    forbid(secret)
    assert (await api.get(f"/api/projects/{project['id']}", headers=ada.headers)).status == 200


@pytest.mark.gen_test
async def test_a_webhook_github_refuses_is_shown_and_the_project_still_exists(
    api, ada, ada_github, github
):
    repo = github.add_repo(ada_github, "site")  # on main, the branch assumed without GitHub
    github.fail_api(502, times=2)  # the default-branch lookup and the hook registration
    response = await _create(api, ada, name="site", repo_url=repo.html_url)
    assert response.status == 201
    project = response.json()
    assert project["webhook"]["status"] == "failed"
    assert "GitHub failed" in project["webhook"]["error"]
    assert project["branch"] == "main"
    assert github.hooks.get("ada/site", {}) == {}


@pytest.mark.gen_test
async def test_list_shows_each_project_with_its_latest_build(api, app_server, db_url,
                                                            tmp_path):
    # A repository outside GitHub (no webhook) is a path on this machine: the administrator's.
    admin = await sign_in_local_admin(app_server, api)
    one = make_repo(tmp_path / "one", {"index.html": "one"})
    two = make_repo(tmp_path / "two", {"index.html": "two"})
    add_branch(two, "dev")
    first = (await _create(api, admin, name="one", repo_url=str(one))).json()
    second = (await _create(api, admin, name="two", repo_url=str(two), branch="dev")).json()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO builds (project_id, trigger, branch, status) "
                     "VALUES (%s, 'push', 'trunk', 'running')", (first["id"],))

    listed = (await api.get("/api/projects", headers=admin.headers)).json()

    assert [p["name"] for p in listed] == ["two", "one"]
    assert listed[1]["latest_build"]["status"] == "running"
    assert listed[0]["latest_build"]["branch"] == "dev"
    assert listed[0]["webhook"]["status"] == "none"
    assert listed[0]["live_deployment"] is None
    assert second["id"] == listed[0]["id"]


@pytest.mark.gen_test
async def test_settings_are_validated_normalised_and_updated(api, ada, site_repo, github):
    github.push(site_repo, {"index.html": "release"}, branch="release/1")
    project = (await _create(api, ada, name="site", repo_url=site_repo.html_url,
                             output_dir="./build/", root_dir="apps/web/",
                             build_command="npm run build", framework="vite")).json()
    assert (project["output_dir"], project["root_dir"]) == ("build", "apps/web")

    path = f"/api/projects/{project['id']}"
    changed = await api.request("PATCH", path, headers=ada.headers,
                                json_body={"build_command": None, "branch": "release/1"})
    assert changed.status == 200
    assert changed.json()["build_command"] is None
    assert changed.json()["branch"] == "release/1"
    assert changed.json()["framework"] == "vite"

    for body, field in (({"output_dir": "../../etc"}, "output_dir"),
                        ({"root_dir": "/srv"}, "root_dir"),
                        ({"branch": "bad branch"}, "branch"),
                        ({"framework": "rails"}, "framework"),
                        ({"name": "API"}, "name"),
                        ({"repo_url": "file:///etc"}, "repo_url"),
                        ({"owner_id": 2}, "owner_id"),
                        ({"name": 7}, "name")):
        response = await api.request("PATCH", path, headers=ada.headers, json_body=body)
        assert response.status == 400, body
        assert response.json()["error"]["field"] == field


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("name", "status"),
    [("..", 400), ("API", 400), ("a--b", 400), ("x" * 64, 400), ("ünïcode", 400), ("", 400),
     ("www", 400), (None, 400), (12, 400)],
)
async def test_invalid_names_are_refused(api, ada, name, status):
    response = await _create(api, ada, name=name, repo_url="https://git.example.com/r.git")
    assert response.status == status
    assert response.json()["error"]["field"] == "name"


@pytest.mark.gen_test
async def test_a_rename_cannot_take_another_projects_name_or_site(api, ada, app_server,
                                                                  io_loop, github, site_repo):
    bob_github = github.add_user("bob")
    bob = await sign_in_github_user(app_server, api, bob_github.id, "bob", bob_github.token)
    bobs_repo = github.add_repo(bob_github, "b")
    taken = await _create(api, bob, name="taken", repo_url=bobs_repo.html_url)
    assert taken.status == 201, taken.body
    mine = (await _create(api, ada, name="mine", repo_url=site_repo.html_url))
    response = await api.request("PATCH", f"/api/projects/{mine.json()['id']}",
                                 headers=ada.headers, json_body={"name": "taken"})
    assert response.status == 409
    assert response.json()["error"]["field"] == "name"


@pytest.mark.gen_test
async def test_rename_moves_the_projects_site(api, ada, app_server, site_repo):
    project = (await _create(api, ada, name="old", repo_url=site_repo.html_url))
    sites = app_server.app.config.deployments_dir
    (sites / "old" / "releases").mkdir(parents=True)
    (sites / "new" / "debris").mkdir(parents=True)  # left by something long gone
    response = await api.request("PATCH", f"/api/projects/{project.json()['id']}",
                                 headers=ada.headers, json_body={"name": "new"})
    assert response.json()["name"] == "new"
    assert (sites / "new" / "releases").is_dir()
    assert not (sites / "new" / "debris").exists()
    assert not (sites / "old").exists()


@pytest.mark.gen_test
async def test_two_concurrent_creates_of_one_name_give_one_201_and_one_409(api, ada,
                                                                          app_server, github,
                                                                          site_repo):
    bob_github = github.add_user("bob")
    bob = await sign_in_github_user(app_server, api, bob_github.id, "bob", bob_github.token)
    bobs_repo = github.add_repo(bob_github, "race")
    attempts = [(ada, site_repo), (bob, bobs_repo)] * 2
    responses = await asyncio.gather(
        *(_create(api, who, name="race", repo_url=repo.html_url) for who, repo in attempts))
    assert sorted(r.status for r in responses) == [201, 409, 409, 409]


@pytest.mark.gen_test
async def test_deleting_removes_webhook_site_and_everything_owned(api, ada, site_repo, github,
                                                                   app_server, db_url):
    project = (await _create(api, ada, name="site", repo_url=site_repo.html_url,
                             secrets={"API_KEY": "s3cret"})).json()
    forbid("s3cret")
    sites = app_server.app.config.deployments_dir
    (sites / "site" / "releases" / "1").mkdir(parents=True)
    assert github.hooks["ada/site"]

    response = await api.request("DELETE", f"/api/projects/{project['id']}",
                                 headers=ada.headers)

    assert response.status == 204
    assert github.hooks["ada/site"] == {}
    assert not (sites / "site").exists()
    for table in ("projects", "builds", "secrets"):
        assert _rows(db_url, f"SELECT count(*) FROM {table}") == [(0,)]  # noqa: S608
    again = await api.request("DELETE", f"/api/projects/{project['id']}", headers=ada.headers)
    assert again.status == 404


@pytest.mark.gen_test
async def test_deleting_succeeds_when_github_cannot_remove_the_hook(api, ada, site_repo,
                                                                    github):
    project = (await _create(api, ada, name="site", repo_url=site_repo.html_url)).json()
    github.fail_api(503)
    response = await api.request("DELETE", f"/api/projects/{project['id']}",
                                 headers=ada.headers)
    assert response.status == 204


@pytest.mark.gen_test
async def test_only_the_local_administrator_may_build_a_path_on_this_machine(
    api, app_server, ada, tmp_path
):
    repo = make_repo(tmp_path / "local-site", {"index.html": "local"})
    refused = await _create(api, ada, name="local", repo_url=str(repo))
    assert refused.status == 400
    assert refused.json()["error"]["field"] == "repo_url"

    admin = await sign_in_local_admin(app_server, api)
    created = await _create(api, admin, name="local", repo_url=f"file://{repo}")
    assert created.status == 201
    assert created.json()["repo_url"] == str(repo.resolve())


@pytest.mark.gen_test
async def test_oversized_body_is_a_413(api, ada):
    response = await api.post("/api/projects", headers=ada.headers,
                              body=b'{"name": "' + b"x" * (1024 * 1024) + b'"}')
    assert response.status == 413


@pytest.mark.gen_test
async def test_create_answers_the_project_itself_as_the_readme_says(api, ada, site_repo):
    created = await _create(api, ada, name="site", repo_url=site_repo.html_url)
    assert created.status == 201
    project = created.json()
    assert "project" not in project and project["name"] == "site"
    read = await api.get(created.headers["Location"], headers=ada.headers)
    assert read.json()["id"] == project["id"]
    assert set(read.json()) == set(project)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [row] = [line for line in readme.splitlines() if line.startswith("| POST | `/api/projects` |")]
    assert "201 with the project itself" in row and "{project}" not in row


@pytest.mark.gen_test(timeout=60)
async def test_the_list_pages_newest_first_without_gaps_and_only_the_users_own(api, ada,
                                                                              app_server, db_url):
    rows = _rows(db_url, "INSERT INTO projects (owner_id, name, repo_url) SELECT %s, "
                 "'p-' || n, 'https://example.com/r' FROM generate_series(1, 120) n "
                 "RETURNING id", ada.user["id"])
    theirs = _rows(db_url, "INSERT INTO users (github_id, username) VALUES (999, 'eve') "
                   "RETURNING id")[0][0]
    _rows(db_url, "INSERT INTO projects (owner_id, name, repo_url) VALUES (%s, 'eves', 'r') "
          "RETURNING id", theirs)
    first = (await api.get("/api/projects", headers=ada.headers)).json()
    assert len(first) == 50  # the default page
    seen = [p["id"] for p in first]
    while True:
        page = (await api.get(f"/api/projects?limit=200&before={seen[-1]}",
                              headers=ada.headers)).json()
        seen += [p["id"] for p in page]
        if len(page) < 200:
            break
    assert seen == sorted((r[0] for r in rows), reverse=True)
    for bad in ("limit=201", "limit=0", "before=abc", "before=0"):
        answer = await api.get(f"/api/projects?{bad}", headers=ada.headers)
        assert answer.status == 400, bad
        assert "error" in answer.json()


@pytest.mark.gen_test(timeout=60)
async def test_each_listed_project_is_what_its_own_answer_says(api, ada, db_url):
    # The list's page is built by PostgreSQL, a project's own answer by project_model: they
    # must agree member for member, whatever state a project is in.
    owner = ada.user["id"]
    ids = [row[0] for row in _rows(
        db_url,
        "INSERT INTO projects (owner_id, name, repo_url, github_repo, webhook_id, "
        "webhook_error, install_command, build_command, output_dir, root_dir, framework, "
        "node_version, production_url, preview_password_hash, created_at, updated_at) VALUES "
        "(%s, 'upload-only', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        " NULL, '2024-02-29 23:59:59+00', '2024-03-01 00:00:00.000001+00'), "
        "(%s, 'hooked', 'https://github.com/ada/hooked.git', 'ada/hooked', 42, NULL, 'npm ci', "
        " 'npm run build', 'dist', 'web', 'vite', 20, 'http://hooked.localhost', 'scrypt$x', "
        " '2024-01-01 00:00:00.0001+05', '2024-06-30 12:30:00.5-07'), "
        "(%s, 'refused', 'https://github.com/ada/refused.git', 'ada/refused', NULL, "
        " 'GitHub said: \"Validation Failed\" \\ ünïcode ✓ 🚀' || chr(10) || chr(9) || chr(1), "
        " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, now(), now()) RETURNING id",
        owner, owner, owner)]
    hooked, refused = ids[1], ids[2]
    builds = _rows(
        db_url,
        "INSERT INTO builds (project_id, trigger, branch, status, commit_sha, commit_message, "
        "commit_author, exit_code, error, created_at, started_at, finished_at) VALUES "
        "(%s, 'push', 'main', 'passed', repeat('a', 40), 'first', 'Ada', 0, NULL, "
        " '2024-05-01 10:00:00+00', '2024-05-01 10:00:01.25+00', '2024-05-01 10:01:00+00'), "
        "(%s, 'manual', 'main', 'running', repeat('b', 40), 'Ünïcode “quotes” \\ and ' || "
        " chr(10) || 'a second line', 'Zoë', NULL, NULL, now(), now(), NULL), "
        "(%s, 'hook', 'main', 'failed', NULL, NULL, NULL, 2, 'npm ERR! \"build\" exited', "
        " now(), now(), now()) RETURNING id", hooked, hooked, refused)
    _rows(db_url, "INSERT INTO deployments (project_id, build_id, status, url) VALUES "
          "(%s, %s, 'live', 'http://hooked.localhost'), "
          "(%s, %s, 'superseded', 'http://refused.localhost') RETURNING id",
          hooked, builds[0][0], refused, builds[2][0])

    listed = (await api.get("/api/projects", headers=ada.headers)).json()

    assert [p["id"] for p in listed] == sorted(ids, reverse=True)
    for project in listed:
        own = (await api.get(f"/api/projects/{project['id']}", headers=ada.headers)).json()
        assert project == own
        assert json.dumps(project) == json.dumps(own)  # the members' order too
    by_name = {p["name"]: p for p in listed}
    assert by_name["hooked"]["latest_build"]["status"] == "running"
    assert by_name["hooked"]["live_deployment"]["build_id"] == builds[0][0]
    assert by_name["refused"]["live_deployment"] is None
    assert by_name["upload-only"]["created_at"] == "2024-02-29T23:59:59Z"
    assert by_name["upload-only"]["updated_at"] == "2024-03-01T00:00:00.000001Z"
