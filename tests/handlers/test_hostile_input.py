"""Input built to break a parser gets the API's 400 (or 414, 431) as JSON, never a 500 or a
dropped connection: absurd nesting, huge numbers, lone surrogates, NUL, oversized request lines
and headers, and request targets in absolute form."""

import asyncio
import json

import pytest

from tests.handlers.test_api_errors import assert_error
from tests.support.repos import make_repo

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5000
# Raw JSON text of each hostile value: the test bodies are spliced by hand, since json.dumps
# would refuse to write some of them.
HOSTILE_VALUES = {
    "deep nesting": DEEP,
    "5000-digit integer": HUGE_INT,
    "lone surrogate": '"\\ud800"',
    "NUL character": '"a\\u0000b"',
    "NaN": "NaN",
    "huge exponent": "1e99999",
}


def _body(field: str, raw_value: str, **others: str) -> bytes:
    members = [f'"{name}": "{value}"' for name, value in others.items()]
    members.append(f'"{field}": {raw_value}')
    return ("{" + ", ".join(members) + "}").encode()


@pytest.mark.gen_test
@pytest.mark.parametrize("raw", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
async def test_hostile_json_in_a_sign_in_is_a_400(api, raw):
    response = await api.post("/api/auth/session", body=_body("code", raw))
    assert_error(response, 400, "invalid_json")


@pytest.mark.gen_test
@pytest.mark.parametrize("raw", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
async def test_hostile_json_in_project_fields_is_a_400(api, owner, raw, tmp_path):
    repo = str(make_repo(tmp_path / "repo", {"index.html": "<p>demo</p>"}))
    created = await api.post("/api/projects", headers=owner.headers, body=_body(
        "build_command", raw, name="demo", repo_url=repo))
    assert_error(created, 400, "invalid_json")
    project = await api.post("/api/projects", headers=owner.headers, json_body={
        "name": "demo", "repo_url": repo})
    assert project.status == 201
    changed = await api.request("PATCH", f"/api/projects/{project.json()['id']}",
                                headers=owner.headers, body=_body("name", raw))
    assert_error(changed, 400, "invalid_json")
    # A lone surrogate inside the secrets object, a level down, is refused as well.
    nested = await api.post("/api/projects", headers=owner.headers, body=(
        b'{"name": "other", "repo_url": "' + repo.encode() + b'", '
        b'"secrets": {"KEY": "\\udfff"}}'))
    assert_error(nested, 400, "invalid_json")


@pytest.mark.gen_test
async def test_moderate_nesting_and_long_numbers_are_not_refused_as_json(api):
    # Well within the limits: the body parses, and the field check answers.
    body = b'{"code": ' + b"[" * 50 + b"1" + b"]" * 50 + b"}"
    error = assert_error(await api.post("/api/auth/session", body=body), 400,
                         "validation_failed")
    assert error["field"] == "code"


@pytest.mark.gen_test
async def test_huge_numbers_in_ids_and_query_arguments_are_not_a_500(api, owner, tmp_path):
    missing = await api.get("/api/projects/" + HUGE_INT, headers=owner.headers)
    assert_error(missing, 404, "not_found")
    repo = make_repo(tmp_path / "repo", {"index.html": "<p>demo</p>"})
    project = (await api.post("/api/projects", headers=owner.headers, json_body={
        "name": "demo", "repo_url": str(repo)})).json()
    for value in (HUGE_INT, "²", "1" * 30):
        builds = await api.get(f"/api/projects/{project['id']}/builds?before={value}",
                               headers=owner.headers)
        assert_error(builds, 400, "bad_request")


async def _send(app_server, request: bytes) -> bytes:
    """Send `request` as is over a fresh connection; all that comes back until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", app_server.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def _raw(app_server, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """The status line, headers and body of the answer to `request`."""
    head, _, body = (await _send(app_server, request)).partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


@pytest.mark.gen_test
async def test_an_oversized_header_is_a_json_431(app_server):
    status, headers, body = await _raw(app_server, (
        b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"X-Padding: " + b"a" * 70_000 + b"\r\n\r\n"))
    assert status.startswith("HTTP/1.1 431 ")
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "header_too_large"


@pytest.mark.gen_test
async def test_an_oversized_url_is_a_json_414(app_server):
    status, headers, body = await _raw(app_server, (
        b"GET /api/health?" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: localhost\r\n"
        b"Connection: close\r\n\r\n"))
    assert status.startswith("HTTP/1.1 414 ")
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["code"] == "uri_too_long"


@pytest.mark.gen_test
async def test_headers_far_over_the_limit_still_get_an_answer(app_server):
    # Up to the ceiling Tornado reads (1 MiB), where it would drop the connection itself.
    status, _, body = await _raw(app_server, (
        b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        + b"X-Padding: " + b"a" * 1_000_000 + b"\r\n\r\n"))
    assert status.startswith("HTTP/1.1 431 ")
    assert json.loads(body)["error"]["code"] == "header_too_large"


@pytest.mark.gen_test
async def test_the_connection_stays_usable_below_the_limits(app_server):
    # Two requests on one connection, each with headers and a target just under the limits.
    request = (b"GET /api/health?" + b"q" * 16_000 + b" HTTP/1.1\r\nHost: localhost\r\n"
               b"X-Padding: " + b"a" * 60_000 + b"\r\n\r\n")
    answers = await _send(app_server, request + request.replace(
        b"Host: localhost", b"Host: localhost\r\nConnection: close"))
    assert answers.count(b"HTTP/1.1 200 OK\r\n") == 2


@pytest.mark.gen_test
async def test_a_request_target_in_absolute_form_is_routed_by_its_path(app_server, owner):
    status, headers, body = await _raw(app_server, (
        b"GET http://localhost/api/me HTTP/1.1\r\nHost: localhost\r\n"
        b"Authorization: Bearer " + owner.token.encode() + b"\r\nConnection: close\r\n\r\n"))
    assert status.startswith("HTTP/1.1 200 "), body
    assert b'"is_local_admin":true' in body
    status, headers, body = await _raw(app_server, (
        b"GET http://example.com/api/nothing-here?x=1 HTTP/1.1\r\nHost: localhost\r\n"
        b"Connection: close\r\n\r\n"))
    assert status.startswith("HTTP/1.1 404 ")
    assert headers["content-type"].startswith("application/json")
    assert b"/api/nothing-here" in body
    # The target's host wins over the Host header, as RFC 9112 asks: this one is a site's.
    status, _, body = await _raw(app_server, (
        b"GET http://demo.localhost/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
    assert status.startswith("HTTP/1.1 404 ")
    assert b"No site is published" in body
