"""A small HTTP client for tests: real requests to a real server, answers as plain values."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.httputil import HTTPHeaders

from tests.support import leaks


@dataclass
class Response:
    status: int
    headers: HTTPHeaders  # case-insensitive, as HTTP header names are
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ApiClient:
    """Sends requests to `base_url`; never raises for an HTTP status, so tests can assert it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = AsyncHTTPClient(force_instance=True)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        if json_body is not None:
            body = json.dumps(json_body)
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""
        request = HTTPRequest(
            self.base_url + path, method=method, body=body, headers=headers,
            follow_redirects=False, allow_nonstandard_methods=True, request_timeout=30,
        )
        try:
            answer = await self._client.fetch(request)
        except HTTPClientError as exc:
            if exc.response is None:
                raise
            answer = exc.response
        leaks.check(request.url, str(answer.headers), answer.body or b"")
        return Response(answer.code, answer.headers, answer.body or b"")

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Response:
        return await self.request("POST", path, **kwargs)

    def close(self) -> None:
        self._client.close()
