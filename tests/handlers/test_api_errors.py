"""Every API error a client can meet is a JSON body {"error": {"code", "message"}}."""

import gzip
import json

import pytest
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web

from handlers.base import API404Handler, APIHandler, Field
from tests.support.http import ApiClient


class EchoHandler(APIHandler):
    """A stand-in endpoint that validates a body the way real endpoints will."""

    max_body_bytes = 1024

    async def post(self):
        body = self.read_json({
            "name": Field(str, required=True, max_length=8),
            "count": Field(int),
            "tags": Field(list, nullable=True),
        })
        self.write_json({"echo": body}, 201)


class BrokenHandler(APIHandler):
    async def get(self):
        raise RuntimeError("database password is hunter2")


@pytest.fixture
def echo_api(io_loop):
    app = tornado.web.Application([
        (r"/api/echo", EchoHandler),
        (r"/api/broken", BrokenHandler),
        (r"/api/.*", API404Handler),
    ])
    [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets([sock])
    client = ApiClient(f"http://127.0.0.1:{sock.getsockname()[1]}")
    yield client
    client.close()
    server.stop()
    io_loop.run_sync(server.close_all_connections)


def assert_error(response, status, code):
    assert response.status == status
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


@pytest.mark.gen_test
async def test_valid_body_is_accepted(echo_api):
    response = await echo_api.post("/api/echo", json_body={"name": "demo", "count": 2})
    assert response.status == 201
    assert response.json() == {"echo": {"name": "demo", "count": 2}}


@pytest.mark.gen_test
@pytest.mark.parametrize("body", ["{not json", "[1, 2]", "", "\xff\xfe"])
async def test_malformed_json_is_a_400(echo_api, body):
    response = await echo_api.post("/api/echo", body=body.encode("latin-1"))
    assert_error(response, 400, "invalid_json")


@pytest.mark.gen_test
@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "name", "name is required"),
        ({"name": 5}, "name", "name must be a string"),
        ({"name": "x" * 9}, "name", "name must be at most 8 characters"),
        ({"name": "ok", "count": "3"}, "count", "count must be an integer"),
        ({"name": "ok", "count": True}, "count", "count must be an integer"),
        ({"name": None}, "name", "name must not be null"),
        ({"name": "ok", "colour": "red"}, "colour", "unknown field 'colour'"),
    ],
)
async def test_invalid_fields_are_a_400_naming_the_field(echo_api, body, field, message):
    error = assert_error(await echo_api.post("/api/echo", json_body=body), 400,
                         "validation_failed")
    assert error["field"] == field
    assert error["message"] == message


@pytest.mark.gen_test
async def test_body_over_the_limit_is_a_413(echo_api):
    response = await echo_api.post("/api/echo", body=b'{"name": "' + b"x" * 5000 + b'"}')
    assert_error(response, 413, "payload_too_large")


@pytest.mark.gen_test
async def test_chunked_body_over_the_limit_is_a_413(echo_api):
    async def producer(write):
        for _ in range(10):
            await write(b"x" * 500)

    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

    request = HTTPRequest(echo_api.base_url + "/api/echo", method="POST",
                          body_producer=producer, request_timeout=10)
    client = AsyncHTTPClient(force_instance=True)
    try:
        with pytest.raises(HTTPClientError) as error:
            await client.fetch(request)
    finally:
        client.close()
    assert error.value.code == 413


@pytest.mark.gen_test
async def test_unexpected_exception_is_a_json_500_without_details(echo_api):
    response = await echo_api.get("/api/broken")
    error = assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.body.decode()
    assert "Traceback" not in response.body.decode()
    assert error["message"] == "Internal Server Error"


@pytest.mark.gen_test
async def test_unknown_api_path_is_a_json_404(api):
    for method in ("GET", "POST", "DELETE"):
        response = await api.request(method, "/api/no/such/thing")
        error = assert_error(response, 404, "not_found")
        assert "/api/no/such/thing" in error["message"]


@pytest.mark.gen_test
async def test_wrong_method_is_a_json_405_with_allow(api):
    response = await api.request("DELETE", "/api/health")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET"


class LargeHandler(APIHandler):
    async def get(self):
        self.write_json({"lines": [f"line {n} " + "x" * 50 for n in range(2000)]})


@pytest.mark.gen_test
async def test_large_answers_are_gzipped_for_clients_that_accept_it(io_loop):
    app = tornado.web.Application([(r"/api/large", LargeHandler), (r"/api/echo", EchoHandler)])
    [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets([sock])
    client = tornado.httpclient.AsyncHTTPClient(force_instance=True)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    try:
        plain = await client.fetch(base + "/large", decompress_response=False)
        packed = await client.fetch(base + "/large", decompress_response=False,
                                    headers={"Accept-Encoding": "gzip"})
        small = await client.fetch(base + "/echo", method="POST", decompress_response=False,
                                   body=json.dumps({"name": "x"}),
                                   headers={"Accept-Encoding": "gzip"})
    finally:
        client.close()
        server.stop()
        await server.close_all_connections()
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert len(packed.body) < len(plain.body) / 5
    assert gzip.decompress(packed.body) == plain.body
    assert json.loads(plain.body)["lines"][1999].startswith("line 1999 ")
    assert "Content-Encoding" not in small.headers
