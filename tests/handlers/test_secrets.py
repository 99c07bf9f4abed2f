"""Secrets are write-only: set, replace, list by name, delete; stored sealed to their place."""

from __future__ import annotations

import psycopg
import pytest

from engine.crypto import DecryptionError
from tests.support.leaks import forbid
from tests.support.repos import make_repo


@pytest.fixture
def project(api, owner, io_loop, tmp_path):
    repo = make_repo(tmp_path / "site", {"index.html": "<p>site</p>"})

    async def create():
        response = await api.post("/api/projects", headers=owner.headers, json_body={
            "name": "site", "repo_url": str(repo),
            "secrets": {"FIRST": "value-one"}})
        assert response.status == 201
        return response.json()

    forbid("value-one")
    return io_loop.run_sync(create)


def _path(project, name=""):
    return f"/api/projects/{project['id']}/secrets" + (f"/{name}" if name else "")


@pytest.mark.gen_test
async def test_secrets_are_set_replaced_listed_by_name_and_deleted(api, owner, project):
    forbid("tok-1", "tok-2")
    created = await api.request("PUT", _path(project, "API_TOKEN"), headers=owner.headers,
                                json_body={"value": "tok-1"})
    assert created.status == 201
    replaced = await api.request("PUT", _path(project, "API_TOKEN"), headers=owner.headers,
                                 json_body={"value": "tok-2"})
    assert replaced.status == 204

    listed = (await api.get(_path(project), headers=owner.headers)).json()
    assert [s["name"] for s in listed] == ["API_TOKEN", "FIRST"]
    assert set(listed[0]) == {"name", "environments", "created_at", "updated_at"}
    assert listed[0]["updated_at"] >= listed[0]["created_at"]

    assert (await api.request("DELETE", _path(project, "API_TOKEN"),
                              headers=owner.headers)).status == 204
    missing = await api.request("DELETE", _path(project, "API_TOKEN"), headers=owner.headers)
    assert missing.status == 404
    assert [s["name"] for s in (await api.get(_path(project), headers=owner.headers)).json()] \
        == ["FIRST"]


@pytest.mark.gen_test
async def test_a_secret_is_for_both_environments_unless_told_and_keeps_them_on_update(
        api, owner, project):
    forbid("p-1", "p-2", "b-1")
    put = lambda name, body: api.request("PUT", _path(project, name),  # noqa: E731
                                         headers=owner.headers, json_body=body)
    assert (await put("PREVIEW_KEY", {"value": "p-1", "environments": ["preview"]})).status \
        == 201
    assert (await put("BOTH", {"value": "b-1"})).status == 201
    assert (await put("PREVIEW_KEY", {"value": "p-2"})).status == 204

    listed = (await api.get(_path(project), headers=owner.headers)).json()
    assert {s["name"]: s["environments"] for s in listed} == {
        "BOTH": ["production", "preview"], "FIRST": ["production", "preview"],
        "PREVIEW_KEY": ["preview"]}

    both_ways = await put("PREVIEW_KEY", {"value": "p-2",
                                          "environments": ["preview", "production"]})
    assert both_ways.status == 204
    assert (await put("BOTH", {"value": "b-1", "environments": ["production"]})).status == 204
    listed = (await api.get(_path(project), headers=owner.headers)).json()
    assert {s["name"]: s["environments"] for s in listed}["PREVIEW_KEY"] == \
        ["production", "preview"]
    assert {s["name"]: s["environments"] for s in listed}["BOTH"] == ["production"]


@pytest.mark.gen_test
async def test_environments_alone_change_where_a_secret_goes_and_keep_its_value(
        api, owner, project, app_server, db_url):
    path = _path(project, "FIRST")
    changed = await api.request("PUT", path, headers=owner.headers,
                                json_body={"environments": ["preview"]})
    assert changed.status == 204
    listed = (await api.get(_path(project), headers=owner.headers)).json()
    assert listed[0]["environments"] == ["preview"]
    with psycopg.connect(db_url) as conn:
        nonce, ciphertext = conn.execute(
            "SELECT nonce, ciphertext FROM secrets WHERE name = 'FIRST'").fetchone()
    box = app_server.app.keys.box
    assert box.open_text(nonce, ciphertext, "secret", project["id"], "FIRST") == "value-one"

    new = await api.request("PUT", _path(project, "NEW"), headers=owner.headers,
                            json_body={"environments": ["preview"]})
    assert new.status == 400 and new.json()["error"]["field"] == "value"
    empty = await api.request("PUT", path, headers=owner.headers, json_body={})
    assert empty.status == 400 and empty.json()["error"]["field"] == "value"
    assert [s["name"] for s in (await api.get(_path(project), headers=owner.headers)).json()] \
        == ["FIRST"]


@pytest.mark.gen_test
@pytest.mark.parametrize("environments", [[], ["staging"], "preview", [1], None,
                                          ["preview", "preview", "production"]])
async def test_invalid_environments_are_refused_and_change_nothing(api, owner, project,
                                                                   environments):
    response = await api.request("PUT", _path(project, "FIRST"), headers=owner.headers,
                                 json_body={"value": "changed", "environments": environments})
    assert response.status == 400
    error = response.json()["error"]
    assert error["field"] == "environments" and error["message"]
    listed = (await api.get(_path(project), headers=owner.headers)).json()
    assert [(s["name"], s["environments"], s["updated_at"] == s["created_at"])
            for s in listed] == [("FIRST", ["production", "preview"], True)]


@pytest.mark.gen_test
async def test_values_are_sealed_to_their_project_and_name(api, owner, project, app_server,
                                                           db_url):
    forbid("hunter2")
    await api.request("PUT", _path(project, "DB_PASSWORD"), headers=owner.headers,
                      json_body={"value": "hunter2"})
    with psycopg.connect(db_url) as conn:
        nonce, ciphertext = conn.execute(
            "SELECT nonce, ciphertext FROM secrets WHERE name = 'DB_PASSWORD'").fetchone()
    assert b"hunter2" not in bytes(ciphertext)
    box = app_server.app.keys.box
    assert box.open_text(nonce, ciphertext, "secret", project["id"], "DB_PASSWORD") == "hunter2"
    for context in (("secret", project["id"] + 1, "DB_PASSWORD"),
                    ("secret", project["id"], "FIRST")):
        with pytest.raises(DecryptionError):
            box.open(nonce, ciphertext, *context)


@pytest.mark.gen_test
@pytest.mark.parametrize("name", ["1ABC", "A-B", "%20", "A.B"])
async def test_invalid_secret_names_are_refused(api, owner, project, name):
    response = await api.request("PUT", _path(project, name), headers=owner.headers,
                                 json_body={"value": "x"})
    assert response.status == 400
    assert response.json()["error"]["field"] == "name"


@pytest.mark.gen_test
async def test_values_must_be_strings_of_at_most_64_kib(api, owner, project):
    not_text = await api.request("PUT", _path(project, "N"), headers=owner.headers,
                                 json_body={"value": 5})
    assert not_text.status == 400
    assert not_text.json()["error"]["field"] == "value"
    too_big = await api.request("PUT", _path(project, "BIG"), headers=owner.headers,
                                json_body={"value": "x" * (64 * 1024 + 1)})
    assert too_big.status == 400
    assert too_big.json()["error"]["field"] == "value"
    assert "64 KiB" in too_big.json()["error"]["message"]
    far_too_big = await api.request("PUT", _path(project, "HUGE"), headers=owner.headers,
                                    body=b'{"value": "' + b"x" * (200 * 1024) + b'"}')
    assert far_too_big.status == 413


@pytest.mark.gen_test
async def test_secrets_given_at_creation_are_validated_and_errors_name_the_variable(api, owner):
    # The field is the variable's own path, never `name`: that is the project's name field.
    for secrets in ({"BAD-NAME": "x"}, {"ESCAPE": "a\u001bb"}, {"BIG": "x" * (64 * 1024 + 1)},
                    {"NUMBER": 5}):
        response = await api.post("/api/projects", headers=owner.headers, json_body={
            "name": "other", "repo_url": "https://git.example.com/o.git", "secrets": secrets})
        assert response.status == 400, secrets
        assert response.json()["error"]["field"] == f"secrets.{next(iter(secrets))}"
    assert (await api.get("/api/projects", headers=owner.headers)).json() == []
