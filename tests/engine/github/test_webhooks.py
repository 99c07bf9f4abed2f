"""GitHub deliveries end to end: real payload shapes signed with the secret the fake GitHub was
given, real builds from the fake GitHub's repositories, statuses observed by the fake."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid

import pytest

from tests.support.accounts import sign_in_github_user
from tests.support.webhooks import GitHubSide, push_payload


@pytest.fixture
def github_project(builds, github, io_loop):
    async def setup():
        session = await builds()
        ada_github = github.add_user("ada")
        repo = github.add_repo(ada_github, "site", files={"index.html": "<p>main</p>"})
        ada = await sign_in_github_user(session.running, session.api, ada_github.id, "ada",
                                        ada_github.token)
        session.owner = ada
        project = await session.project(repo.html_url, name="site")
        first = await session.finished(project["latest_build"]["id"])
        assert first["status"] == "passed", await session.text(first["id"])
        return session, GitHubSide(session.api, github, repo), project

    return io_loop.run_sync(setup, timeout=120)


async def _deliveries(session, project) -> list[dict]:
    response = await session.api.get(f"/api/projects/{project['id']}/deliveries",
                                     headers=session.owner.headers)
    return response.json()


@pytest.mark.gen_test(timeout=120)
async def test_a_signed_push_builds_once_and_reports_statuses(github_project, github):
    session, gh, project = github_project
    before = github.head(gh.repo)
    after = github.push(gh.repo, {"index.html": "<p>v2</p>"}, message="Ship v2")
    guid = str(uuid.uuid4())
    payload = push_payload(gh.repo, ref="refs/heads/main", before=before, after=after,
                           messages=("Ship v2",))

    response = await gh.deliver("push", payload, guid=guid)
    assert response.status == 202
    [decision] = response.json()["decisions"]
    build = await session.finished(decision["build_id"])
    assert build["status"] == "passed", await session.text(build["id"])
    assert (build["commit_sha"], build["trigger"]) == (after, "push")
    assert build["commit_message"] == "Ship v2"
    site = {"Host": f"site.localhost:{session.running.port}"}
    assert (await session.api.get("/", headers=site)).body == b"<p>v2</p>"

    states = [(s["sha"], s["state"]) for s in github.statuses if s["sha"] == after]
    assert states == [(after, "pending"), (after, "success")]
    success = [s for s in github.statuses if s["state"] == "success"][-1]
    # The deployment's own, immutable address: exactly what this commit built.
    assert success["target_url"] == f"http://{build['id']}--site.localhost:{session.running.port}"

    replay = await gh.deliver("push", payload, guid=guid)
    assert replay.status == 200
    assert replay.json()["decisions"][0]["decision"] == "duplicate"
    history = (await session.api.get(f"/api/projects/{project['id']}/builds",
                                     headers=session.owner.headers)).json()
    assert [b["commit_sha"] for b in history].count(after) == 1
    decisions = [d["decision"] for d in await _deliveries(session, project)]
    assert decisions == ["duplicate", f"built #{build['id']}"]


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha256=abc", "sha1=deadbeef",
                                       "sha256=" + "a" * 5000, "sha256=é"])
async def test_bad_signatures_are_401_and_recorded_as_rejected(github_project, github,
                                                               signature):
    session, gh, project = github_project
    after = github.push(gh.repo, {"index.html": "x"})
    payload = push_payload(gh.repo, ref="refs/heads/main", before="0" * 40, after=after)
    response = await gh.deliver("push", payload, signature=signature)
    assert response.status == 401
    assert response.json()["error"]["code"] == "unauthorized"
    latest = (await _deliveries(session, project))[0]
    assert latest["decision"].startswith("rejected:")
    assert latest["signature_valid"] is False and latest["replayable"] is False


@pytest.mark.gen_test(timeout=60)
async def test_a_truncated_signature_is_rejected(github_project, github):
    session, gh, project = github_project
    payload = push_payload(gh.repo, ref="refs/heads/main", before="0" * 40,
                           after=github.head(gh.repo))
    body = json.dumps(payload).encode()
    good = "sha256=" + hmac.new(gh.secret().encode(), body, hashlib.sha256).hexdigest()
    assert (await gh.deliver("push", payload, body=body, signature=good[:-1])).status == 401


@pytest.mark.gen_test(timeout=60)
async def test_malformed_and_oversized_deliveries(github_project):
    session, gh, _ = github_project
    assert (await gh.deliver("push", {}, body=b"{not json")).status == 400
    big = b'{"x": "' + b"a" * (1024 * 1024) + b'"}'
    assert (await gh.deliver("push", {}, body=big)).status == 413


@pytest.mark.gen_test(timeout=60)
async def test_ping_tags_empty_pushes_deletions_and_skip_markers_build_nothing(github_project,
                                                                               github):
    session, gh, project = github_project
    head = github.head(gh.repo)
    ping = {"zen": "Keep it logically awesome.", "hook_id": 1,
            "repository": {"full_name": gh.repo.full_name}}
    assert (await gh.deliver("ping", ping)).status == 200
    tag = push_payload(gh.repo, ref="refs/tags/v1.0", before="0" * 40, after=head)
    assert (await gh.deliver("push", tag)).status == 204
    empty = push_payload(gh.repo, ref="refs/heads/main", before=head, after=head, messages=())
    assert (await gh.deliver("push", empty)).status == 204
    deletion = push_payload(gh.repo, ref="refs/heads/old", before=head, after="0" * 40,
                            messages=(), deleted=True)
    assert (await gh.deliver("push", deletion)).status == 204
    skipped = push_payload(gh.repo, ref="refs/heads/main", before=head, after=head,
                           messages=("docs [skip ci]", "typo [skip deploy]"))
    assert (await gh.deliver("push", skipped)).status == 204
    decisions = [d["decision"] for d in await _deliveries(session, project)]
    assert decisions == ["skipped: skip marker in every commit", "ignored: deleted old",
                         "ignored: no commits", "ignored: tag", "ping"]
    builds = (await session.api.get(f"/api/projects/{project['id']}/builds",
                                    headers=session.owner.headers)).json()
    assert len(builds) == 1  # only the first build from creating the project


@pytest.mark.gen_test(timeout=120)
async def test_a_push_to_another_branch_is_a_preview_and_production_stays(github_project,
                                                                         github):
    session, gh, project = github_project
    after = github.push(gh.repo, {"index.html": "<p>feature</p>"}, branch="feature/Login",
                        message="try login")
    response = await gh.deliver("push", push_payload(
        gh.repo, ref="refs/heads/feature/Login", before="0" * 40, after=after))
    assert response.status == 202
    build = await session.finished(response.json()["decisions"][0]["build_id"])
    assert build["status"] == "passed", await session.text(build["id"])
    assert build["preview"] == "feature-login"

    port = session.running.port
    preview = {"Host": f"git-feature-login--site.localhost:{port}"}
    production = {"Host": f"site.localhost:{port}"}
    assert (await session.api.get("/", headers=preview)).body == b"<p>feature</p>"
    assert (await session.api.get("/", headers=production)).body == b"<p>main</p>"
    live = (await session.api.get(f"/api/projects/{project['id']}",
                                  headers=session.owner.headers)).json()["live_deployment"]
    assert live["build_id"] != build["id"]

    deletion = push_payload(gh.repo, ref="refs/heads/feature/Login", before=after,
                            after="0" * 40, messages=(), deleted=True)
    assert (await gh.deliver("push", deletion)).status == 204
    assert (await session.api.get("/", headers=preview)).status == 404
    assert (await session.api.get("/", headers=production)).body == b"<p>main</p>"


@pytest.mark.gen_test(timeout=120)
async def test_every_project_tracking_the_repository_builds(github_project, github):
    session, gh, first = github_project
    second = await session.project(gh.repo.html_url, name="site-copy")
    await session.finished(second["latest_build"]["id"])
    # Each project registered its own hook with its own secret; GitHub sends each hook's
    # delivery signed with that hook's secret.
    after = github.push(gh.repo, {"index.html": "<p>both</p>"})
    payload = push_payload(gh.repo, ref="refs/heads/main", before="0" * 40, after=after)
    body = json.dumps(payload).encode()
    built = set()
    for hook in github.hooks[gh.repo.full_name].values():
        digest = hmac.new(hook["config"]["secret"].encode(), body, hashlib.sha256).hexdigest()
        response = await gh.deliver("push", payload, body=body, signature=f"sha256={digest}")
        assert response.status == 202
        built |= {d["project_id"] for d in response.json()["decisions"]}
    assert built == {first["id"], second["id"]}


@pytest.mark.gen_test(timeout=120)
async def test_a_stored_delivery_can_be_redelivered(github_project, github):
    session, gh, project = github_project
    after = github.push(gh.repo, {"index.html": "<p>again</p>"})
    payload = push_payload(gh.repo, ref="refs/heads/main", before="0" * 40, after=after)
    first = await gh.deliver("push", payload)
    await session.finished(first.json()["decisions"][0]["build_id"])
    delivery = (await _deliveries(session, project))[0]
    assert delivery["replayable"] is True

    again = await session.api.post(f"/api/deliveries/{delivery['id']}/redeliver",
                                   headers=session.owner.headers)
    assert again.status == 202
    rebuilt = await session.finished(again.json()["decisions"][0]["build_id"])
    assert rebuilt["commit_sha"] == after


@pytest.mark.gen_test(timeout=120)
async def test_a_build_passes_even_when_github_refuses_its_statuses(github_project, github):
    session, gh, project = github_project
    after = github.push(gh.repo, {"index.html": "<p>v3</p>"})
    github.fail_api(502, times=10)
    response = await gh.deliver("push", push_payload(gh.repo, ref="refs/heads/main",
                                                     before="0" * 40, after=after))
    build = await session.finished(response.json()["decisions"][0]["build_id"])
    assert build["status"] == "passed"
    assert not [s for s in github.statuses if s["sha"] == after]


@pytest.mark.gen_test
async def test_the_inbox_keeps_200_valid_and_50_rejected_deliveries_per_project(app_server, api,
                                                                                github):
    from sql.deliveries import list_deliveries, record_delivery

    ada = github.add_user("ada")
    repo = github.add_repo(ada, "r")
    owner = await sign_in_github_user(app_server, api, ada.id, "ada", ada.token)
    project = (await api.post("/api/projects", headers=owner.headers, json_body={
        "name": "inbox", "repo_url": repo.html_url})).json()

    async def record(conn, guid, valid):
        await record_delivery(conn, project["id"], guid=guid, event="push", repository="r",
                              ref=None, commit_sha=None, signature_valid=valid,
                              decision="ping" if valid else "rejected: bad signature",
                              body=b"{}" if valid else None)

    async with app_server.app.db.pool.connection() as conn:
        for n in range(205):
            await record(conn, f"v{n}", True)
        # A flood of forged deliveries afterwards evicts none of the valid ones.
        for n in range(205):
            await record(conn, f"r{n}", False)
        kept = await list_deliveries(conn, project["id"], 1000)
    valid = [d["delivery_guid"] for d in kept if d["signature_valid"]]
    rejected = [d["delivery_guid"] for d in kept if not d["signature_valid"]]
    assert valid == [f"v{n}" for n in range(204, 4, -1)]
    assert rejected == [f"r{n}" for n in range(204, 154, -1)]
    listed = (await api.get(f"/api/projects/{project['id']}/deliveries",
                            headers=owner.headers)).json()
    assert len(listed) == 250
