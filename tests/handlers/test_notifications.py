"""Deploy notifications through the API, delivered over real HTTP to a server of the test's
own on 127.0.0.1: signed JSON, Slack and Discord shapes, retries, restarts, owners only."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import psycopg
import pytest

from tests.support.accounts import sign_in_github_user, sign_in_local_admin
from tests.support.app import close_app, open_app
from tests.support.http import ApiClient
from tests.support.leaks import forbid
from tests.support.receiver import Receiver
from tests.support.repos import make_repo

FAST_RETRIES = (0.05,) * 5
ALL_EVENTS = ["deploy_succeeded", "deploy_failed", "build_started"]


@pytest.fixture
def project(api, owner, io_loop, tmp_path):
    repo = make_repo(tmp_path / "site", {"index.html": "<p>site</p>"})

    async def create():
        response = await api.post("/api/projects", headers=owner.headers,
                                  json_body={"name": "site", "repo_url": str(repo)})
        assert response.status == 201, response.body
        return response.json()

    return io_loop.run_sync(create)


@pytest.fixture
def receiver(io_loop):
    server = Receiver()
    yield server
    io_loop.run_sync(server.close)


def _base(project) -> str:
    return f"/api/projects/{project['id']}/notifications"


async def _add(api, who, project, **body):
    return await api.post(_base(project), headers=who.headers, json_body=body)


async def _added(api, who, project, **body) -> dict:
    response = await _add(api, who, project, **body)
    assert response.status == 201, response.body
    return response.json()["notification"]


async def _test(api, who, project, notification) -> dict:
    response = await api.post(f"{_base(project)}/{notification['id']}/test", headers=who.headers)
    assert response.status == 202, response.body
    return response.json()["delivery"]


async def _log(api, who, project, notification) -> list[dict]:
    response = await api.get(f"{_base(project)}/{notification['id']}/deliveries",
                             headers=who.headers)
    assert response.status == 200, response.body
    return response.json()


async def _settled(api, who, project, notification, seconds: float = 20) -> list[dict]:
    """The delivery log once nothing in it is pending any more."""
    deadline = time.monotonic() + seconds
    while True:
        log = await _log(api, who, project, notification)
        if log and all(d["status"] != "pending" for d in log):
            return log
        assert time.monotonic() < deadline, f"deliveries still pending: {log}"
        await asyncio.sleep(0.05)


@pytest.mark.gen_test(timeout=60)
async def test_a_json_delivery_is_signed_over_its_raw_body(api, owner, project, receiver):
    created = await _added(api, owner, project, url=receiver.url, events=ALL_EVENTS,
                           format="json")
    secret = created["secret"]
    assert secret and created["signed"] and created["url"] == receiver.url
    forbid(secret)  # from here on, no answer may show it again

    queued = await _test(api, owner, project, created)
    [request] = await receiver.received(1)

    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Slipway-Signature-256"] == expected
    assert request.headers["X-Slipway-Event"] == "test"
    assert request.headers["X-Slipway-Delivery"] == str(queued["id"])
    assert request.headers["Content-Type"] == "application/json"
    payload = json.loads(request.body)
    assert payload["event"] == "test"
    assert payload["project"] == {"id": project["id"], "name": "site"}
    build = project["latest_build"]
    assert payload["build"]["id"] == build["id"]
    assert payload["build"]["branch"] == "main" and payload["build"]["trigger"] == "manual"
    assert payload["deployment"] is None
    assert payload["url"].endswith(f"/builds/{build['id']}")

    [delivery] = await _settled(api, owner, project, created)
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == (
        "delivered", 1, 200)
    listed = (await api.get(_base(project), headers=owner.headers)).json()
    assert [(n["id"], n["format"], n["signed"]) for n in listed] == [(created["id"], "json",
                                                                       True)]
    assert "secret" not in listed[0]


@pytest.mark.gen_test(timeout=60)
async def test_slack_and_discord_get_their_webhook_shapes(api, owner, project, app_server,
                                                          io_loop):
    slack, discord = Receiver(), Receiver()
    try:
        await _added(api, owner, project, url=slack.url, events=["deploy_succeeded"],
                     format="slack")
        await _added(api, owner, project, url=discord.url, events=["deploy_succeeded"],
                     format="discord")
        build_id = project["latest_build"]["id"]
        # What the deployer emits when a preview of a branch goes live.
        app_server.app.events.emit(owner.user["id"], "deploymentUpdate", {
            "projectId": project["id"], "buildId": build_id, "deploymentId": None,
            "status": "preview", "url": "http://git-feature--site.localhost:8080"})
        [to_slack], [to_discord] = await slack.received(1), await discord.received(1)
    finally:
        await slack.close()
        await discord.close()

    message = json.loads(to_slack.body)
    assert "site: deployed" in message["text"]
    assert message["blocks"][0]["type"] == "section"
    assert f"/builds/{build_id}|" in message["blocks"][0]["text"]["text"]
    assert "git-feature--site.localhost" in message["blocks"][1]["elements"][0]["text"]
    assert "X-Slipway-Signature-256" not in to_slack.headers  # Slack's URL is its credential

    message = json.loads(to_discord.body)
    [embed] = message["embeds"]
    assert "site: deployed" in message["content"]
    assert embed["title"] == "site: deployed"
    assert embed["url"].endswith(f"/builds/{build_id}")
    assert embed["color"] == 0x2DA44E
    assert f"Build #{build_id} of main" in embed["description"]


@pytest.mark.gen_test(timeout=60)
async def test_only_the_events_asked_for_are_sent(api, owner, project, app_server, receiver):
    notification = await _added(api, owner, project, url=receiver.url,
                                events=["deploy_failed"], format="json")
    emit = app_server.app.events.emit
    build = {"projectId": project["id"], "buildId": project["latest_build"]["id"],
             "exitCode": None, "error": None, "startedAt": None, "finishedAt": None}
    emit(owner.user["id"], "buildStatusUpdate", {**build, "status": "running"})
    emit(owner.user["id"], "buildStatusUpdate", {**build, "status": "failed"})
    await app_server.app.events.idle()

    [request] = await receiver.received(1)
    assert request.headers["X-Slipway-Event"] == "deploy_failed"
    assert json.loads(request.body)["event"] == "deploy_failed"
    assert [d["event"] for d in await _settled(api, owner, project, notification)] == [
        "deploy_failed"]


@pytest.mark.gen_test(timeout=60)
async def test_a_500_is_retried_with_the_same_signed_body(api, owner, project, app_server):
    app_server.app.notification_worker.retry_delays = FAST_RETRIES
    receiver = Receiver(statuses=[500])
    try:
        notification = await _added(api, owner, project, url=receiver.url,
                                    events=ALL_EVENTS, format="json")
        await _test(api, owner, project, notification)
        first, second = await receiver.received(2)
        [delivery] = await _settled(api, owner, project, notification)
    finally:
        await receiver.close()
    assert first.body == second.body
    assert (first.headers["X-Slipway-Signature-256"]
            == second.headers["X-Slipway-Signature-256"])
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == (
        "delivered", 2, 200)
    assert delivery["delivered_at"] is not None


@pytest.mark.gen_test(timeout=60)
async def test_a_target_that_keeps_failing_is_given_up_on(api, owner, project, app_server):
    app_server.app.notification_worker.retry_delays = (0.05, 0.05)
    receiver = Receiver(statuses=[503] * 10)
    try:
        notification = await _added(api, owner, project, url=receiver.url,
                                    events=ALL_EVENTS, format="slack")
        await _test(api, owner, project, notification)
        [delivery] = await _settled(api, owner, project, notification)
    finally:
        await receiver.close()
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == (
        "failed", 3, 503)
    assert delivery["error"] == "answered HTTP 503"
    assert len(receiver.requests) == 3


@pytest.mark.gen_test(timeout=60)
async def test_a_pending_delivery_survives_a_restart(config, io_loop, tmp_path, db_url):
    repo = make_repo(tmp_path / "site", {"index.html": "<p>site</p>"})
    receiver = Receiver(statuses=[500])
    first = await open_app(config)
    api = ApiClient(first.url)
    try:
        admin = await sign_in_local_admin(first, api)
        project = (await api.post("/api/projects", headers=admin.headers, json_body={
            "name": "site", "repo_url": str(repo)})).json()
        # Long enough that this instance is closed before its retry is due.
        first.app.notification_worker.retry_delays = (3.0,)
        notification = await _added(api, admin, project, url=receiver.url,
                                    events=ALL_EVENTS, format="json")
        await _test(api, admin, project, notification)
        await receiver.received(1)
        while (await _log(api, admin, project, notification))[0]["attempts"] < 1:
            await asyncio.sleep(0.02)
    finally:
        api.close()
        await close_app(first)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT status, attempts FROM notification_deliveries").fetchall() \
            == [("pending", 1)]

    second = await open_app(config)
    api = ApiClient(second.url)
    try:
        admin = await sign_in_local_admin(second, api)
        [delivery] = await _settled(api, admin, project, notification)
        assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == (
            "delivered", 2, 200)
        assert len(receiver.requests) == 2
    finally:
        api.close()
        await close_app(second)
        await receiver.close()


@pytest.mark.gen_test
@pytest.mark.parametrize(("body", "field"), [
    ({"url": "ftp://example.com/hook", "events": ALL_EVENTS}, "url"),
    ({"url": "https://example.com/" + "x" * 2030, "events": ALL_EVENTS}, "url"),
    ({"url": "https://", "events": ALL_EVENTS}, "url"),
    ({"url": "https://example.com/a b", "events": ALL_EVENTS}, "url"),
    ({"url": "https://example.com:port/", "events": ALL_EVENTS}, "url"),
    ({"url": "https://example.com/hook", "events": []}, "events"),
    ({"url": "https://example.com/hook", "events": ["deploy_exploded"]}, "events"),
    ({"url": "https://example.com/hook", "events": [{"no": 1}]}, "events"),
    ({"url": "https://example.com/hook", "events": "deploy_failed"}, "events"),
    ({"url": "https://example.com/hook"}, "events"),
    ({"url": "https://example.com/hook", "events": ALL_EVENTS, "format": "xml"}, "format"),
    ({"events": ALL_EVENTS}, "url"),
])
async def test_bad_notifications_are_refused_with_the_field_at_fault(api, owner, project, body,
                                                                     field):
    response = await _add(api, owner, project, **body)
    assert response.status == 400, response.body
    assert response.json()["error"]["field"] == field
    assert (await api.get(_base(project), headers=owner.headers)).json() == []


@pytest.mark.gen_test(timeout=60)
async def test_a_chat_url_is_shown_in_full_only_once_and_can_be_changed(api, owner, project):
    url = "https://hooks.slack.com/services/T0000/B0000/abcdefghijklmnopqrstuvwx"
    created = await _added(api, owner, project, url=url, events=["deploy_failed"],
                           format="slack")
    assert created["url"] == url and "secret" not in created and not created["signed"]
    forbid("abcdefghijklmnopqrst")
    [listed] = (await api.get(_base(project), headers=owner.headers)).json()
    assert listed["url"] == "https://hooks.slack.com/services/…uvwx"

    changed = await api.request("PATCH", f"{_base(project)}/{created['id']}",
                                headers=owner.headers,
                                json_body={"events": ["deploy_failed", "build_started"],
                                           "format": "json"})
    assert changed.status == 200, changed.body
    answer = changed.json()["notification"]
    assert answer["events"] == ["deploy_failed", "build_started"]
    assert answer["signed"] and answer["secret"].startswith("whsec_")  # made now, shown once

    removed = await api.request("DELETE", f"{_base(project)}/{created['id']}",
                                headers=owner.headers)
    assert removed.status == 204
    assert (await api.get(_base(project), headers=owner.headers)).json() == []


@pytest.mark.gen_test(timeout=60)
async def test_another_users_notifications_are_not_found(api, owner, project, app_server,
                                                         receiver):
    notification = await _added(api, owner, project, url=receiver.url, events=ALL_EVENTS,
                                format="json")
    stranger = await sign_in_github_user(app_server, api, 4242, "stranger")
    base, one = _base(project), f"{_base(project)}/{notification['id']}"
    attempts = [
        await api.get(base, headers=stranger.headers),
        await api.post(base, headers=stranger.headers,
                       json_body={"url": receiver.url, "events": ALL_EVENTS}),
        await api.request("PATCH", one, headers=stranger.headers,
                          json_body={"events": ["deploy_failed"]}),
        await api.get(f"{one}/deliveries", headers=stranger.headers),
        await api.post(f"{one}/test", headers=stranger.headers),
        await api.request("DELETE", one, headers=stranger.headers),
        await api.get(f"{base}/{notification['id'] + 1}/deliveries", headers=owner.headers),
        await api.post(f"{base}/99999999999999999999/test", headers=owner.headers),
    ]
    assert [a.status for a in attempts] == [404] * 8
    assert len((await api.get(base, headers=owner.headers)).json()) == 1
    assert receiver.requests == []


@pytest.mark.gen_test(timeout=60)
@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "https://10.1.2.3/hook",
                                 "http://169.254.169.254/latest/meta-data",
                                 "http://[::1]:8080/hook", "http://localhost/hook"])
async def test_a_github_user_cannot_notify_the_hosts_own_network(api, app_server, github, url):
    ada_github = github.add_user("ada")
    ada = await sign_in_github_user(app_server, api, ada_github.id, "ada", ada_github.token)
    repo = github.add_repo(ada_github, "site")
    project = (await api.post("/api/projects", headers=ada.headers, json_body={
        "name": "site", "repo_url": repo.html_url})).json()

    response = await _add(api, ada, project, url=url, events=ALL_EVENTS)

    assert response.status == 422, response.body
    error = response.json()["error"]
    assert error["field"] == "url" and "a notification URL may not name" in error["message"]
    assert (await api.get(_base(project), headers=ada.headers)).json() == []


@pytest.mark.gen_test(timeout=60)
async def test_a_github_users_delivery_is_checked_again_when_sent(api, app_server, github,
                                                                  receiver, db_url):
    """A name that resolved to a public address when saved may resolve to 127.0.0.1 when
    sent (DNS rebinding): the row is written here as if it had."""
    app_server.app.notification_worker.retry_delays = ()
    ada_github = github.add_user("ada")
    ada = await sign_in_github_user(app_server, api, ada_github.id, "ada", ada_github.token)
    repo = github.add_repo(ada_github, "site")
    project = (await api.post("/api/projects", headers=ada.headers, json_body={
        "name": "site", "repo_url": repo.html_url})).json()
    with psycopg.connect(db_url) as conn:
        [(notification_id,)] = conn.execute(
            "INSERT INTO notifications (project_id, url, events, format) "
            "VALUES (%s, %s, %s, 'slack') RETURNING id",
            (project["id"], receiver.url, ALL_EVENTS)).fetchall()

    await _test(api, ada, project, {"id": notification_id})
    [delivery] = await _settled(api, ada, project, {"id": notification_id})

    assert (delivery["status"], delivery["response_status"]) == ("failed", None)
    assert "resolves to a loopback address (127.0.0.1)" in delivery["error"]
    assert receiver.requests == []
