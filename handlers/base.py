"""What every JSON endpoint shares: errors as JSON, body limits, and validated JSON bodies.

Every error an API client can see, from a validation failure to an unexpected exception, is
`{"error": {"code", "message"}}` with a fitting status: never an HTML page or a stack trace.
Bodies are streamed so an oversized request is refused with a 413 from its Content-Length
before it is read, instead of being buffered first.
"""

from __future__ import annotations

import functools
import gzip
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import tornado.web

from engine.accounts.credentials import Credential, authenticate_bearer
from engine.accounts.scopes import ADMIN, READ, SESSION, TOKEN_SCOPES
from engine.errors import Conflict, Invalid, NotFound, Refused, SlipwayError, Unavailable
from handlers.access_log import loggable_path
from sql.database import OUTAGE_ERRORS, describe_error

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_ID = 2**63 - 1  # ids are bigint
# Far deeper than any request or GitHub payload nests, far shallower than Python's recursion
# limit, which a deeply nested body would otherwise hit (a 500).
MAX_JSON_DEPTH = 64
_TOO_DEEP = f"the request body nests deeper than {MAX_JSON_DEPTH} levels"
_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")  # ASCII digits only, and never past bigint
# JSON answers at least this large are gzipped for clients that accept it.
GZIP_MIN_BYTES = 8 * 1024

# How each kind of engine error reaches an API client.
_ENGINE_ERROR_STATUS: dict[type[SlipwayError], tuple[int, str]] = {
    Invalid: (400, "validation_failed"),
    NotFound: (404, "not_found"),
    Conflict: (409, "conflict"),
    Refused: (422, "refused"),
    Unavailable: (503, "unavailable"),
}

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    431: "header_too_large",
    500: "internal_error",
    503: "unavailable",
}

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "an object",
    list: "an array",
}


class APIError(tornado.web.HTTPError):
    """An error for the client: status, a stable machine code, and a message for people."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.code = code or ERROR_CODES.get(status, "error")
        self.message = message
        self.field = field
        # Sent with the error (Retry-After, say): headers set before it are cleared by Tornado.
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Field:
    """One member of a JSON request body: its type and limits."""

    kind: type
    required: bool = False
    nullable: bool = False
    max_length: int | None = None


@tornado.web.stream_request_body
class APIHandler(tornado.web.RequestHandler):
    """Base of every `/api/...` handler."""

    max_body_bytes = DEFAULT_MAX_BODY_BYTES
    credential: Credential | None = None  # set by `authenticate`

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    async def prepare(self) -> None:
        self._body_parts: list[bytes] = []
        self._body_size = 0
        declared = self.request.headers.get("Content-Length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise self._too_large()

    def data_received(self, chunk: bytes) -> None:
        # Reached for chunked bodies too, whose size is only known while they arrive. Past the
        # limit the rest is dropped, so memory stays bounded; reading `body` then answers 413.
        self._body_size += len(chunk)
        if self._body_size <= self.max_body_bytes:
            self._body_parts.append(chunk)
        else:
            self._body_parts.clear()

    @property
    def body(self) -> bytes:
        """The request body; a 413 if it went over `max_body_bytes` while streaming in."""
        if self._body_size > self.max_body_bytes:
            raise self._too_large()
        return b"".join(self._body_parts)

    def read_json(self, fields: Mapping[str, Field]) -> dict[str, Any]:
        """The request body as a JSON object whose members match `fields`, else a 400."""
        body = self.body
        if not body.strip():
            raise APIError(400, "the request body must be a JSON object", code="invalid_json")
        data = decode_json(body)
        if not isinstance(data, dict):
            raise APIError(400, "the request body must be a JSON object", code="invalid_json")
        for name in data:
            if name not in fields:
                raise APIError(400, f"unknown field '{name}'", code="validation_failed",
                               field=name)
        for name, spec in fields.items():
            if name in data:
                _check_field(name, data[name], spec)
            elif spec.required:
                raise APIError(400, f"{name} is required", code="validation_failed", field=name)
        return data

    def int_argument(self, name: str, default: int | None, low: int, high: int) -> int | None:
        """A whole-number query argument within [low, high], else a 400 naming it."""
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        if not _WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
            raise APIError(400, f"{name} must be a whole number from {low} to {high}",
                           field=name)
        return int(raw)

    async def authenticate(self, scope: str | None = None) -> dict[str, Any]:
        """The user named by the request's Bearer credential (a session JWT or an `slw_` API
        token), or a 401; a 403 when the credential lacks `scope` (default: READ for GET and
        HEAD, ADMIN for anything else). The credential is kept in `self.credential`."""
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise APIError(401, "sign-in required: send Authorization: Bearer <token>")
        app = self.application
        credential = await authenticate_bearer(app.db.pool, app.keys.jwt, token.strip())
        if credential is None:
            raise APIError(401, "the session or API token is invalid, expired or revoked")
        self.credential = credential
        self.require_scope(scope or default_scope(self.request.method))
        return credential.user

    def require_scope(self, scope: str) -> None:
        """A 403 unless the request's credential allows `scope`."""
        credential = self.credential
        if credential is None or credential.allows(scope):
            return
        action = f"{self.request.method} {self.request.path}"
        if scope == SESSION:
            raise APIError(403, f"{action} needs a sign-in session, not an API token; "
                                "an API token is revoked with DELETE /api/tokens/{id}",
                           code="session_required")
        raise APIError(403, f"this token's scopes ({', '.join(credential.scopes)}) do not "
                            f"allow {action}; it needs {scope}", code="insufficient_scope")

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        # Engine errors carry no HTTP status; this is the one place they get theirs.
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, SlipwayError):
            error = api_error_for(exc)
            kwargs["exc_info"] = (APIError, error, None)
            status_code = error.status_code
        elif isinstance(exc, OUTAGE_ERRORS):
            error = APIError(503, "the database is not reachable; try again in a moment",
                             code="database_unavailable")
            kwargs["exc_info"] = (APIError, error, None)
            status_code = 503
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # The path as the access log writes it: a deploy hook's path is its bearer token.
        path = loggable_path(self.request.path)
        if isinstance(value, SlipwayError):
            log.info("%s %s: %s", self.request.method, path, value.message)
            return
        if isinstance(value, OUTAGE_ERRORS):  # one line per request, not a stack trace
            log.warning("%s %s: database unavailable: %s", self.request.method, path,
                        describe_error(value))
            return
        if isinstance(value, tornado.web.HTTPError):  # an answer, logged only if it says why
            if value.log_message:
                log.warning("%s %s: %d %s", self.request.method, path, value.status_code,
                            value.log_message % value.args if value.args else value.log_message)
            return
        log.error("uncaught exception in %s %s", self.request.method, path,
                  exc_info=(typ, value, tb))

    def write_json(self, value: Any, status: int = 200) -> None:
        self.write_json_text(_encode(value), status)

    def write_json_text(self, text: str, status: int = 200) -> None:
        """Answer JSON that is already encoded (a page PostgreSQL built), written as-is."""
        self.set_status(status)
        body = text.encode()
        if len(body) >= GZIP_MIN_BYTES:
            # Large answers (a page of 5,000 log lines is ~700 KB) shrink ~15x; level 1 costs
            # ~2 ms on the loop for such a page. Safe against BREACH: the API authenticates with
            # a Bearer header, never an ambient cookie.
            self.set_header("Vary", "Accept-Encoding")
            if "gzip" in self.request.headers.get("Accept-Encoding", ""):
                body = gzip.compress(body, compresslevel=1, mtime=0)
                self.set_header("Content-Encoding", "gzip")
        self.finish(body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error: dict[str, Any] = {
            "code": ERROR_CODES.get(status_code, "error"),
            "message": _status_phrase(status_code),
        }
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, APIError):
            error.update(code=exc.code, message=exc.message)
            if exc.field:
                error["field"] = exc.field
            for name, value in exc.headers.items():
                self.set_header(name, value)
        elif isinstance(exc, tornado.web.HTTPError) and exc.log_message and status_code < 500:
            # Tornado's own 4xx (a missing query argument, say): its text is safe to show.
            error["message"] = exc.log_message % exc.args if exc.args else exc.log_message
        if status_code == 405:
            self.set_header("Allow", ", ".join(self._allowed_methods()))
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="slipway"')
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(_encode({"error": error}))

    def _allowed_methods(self) -> list[str]:
        own = type(self)
        return [
            method for method in self.SUPPORTED_METHODS
            if getattr(own, method.lower(), None) is not getattr(APIHandler, method.lower(), None)
        ]

    def _too_large(self) -> APIError:
        return APIError(413, f"the request body is larger than {self.max_body_bytes} bytes")


def api_error_for(exc: SlipwayError) -> APIError:
    for kind, (status, code) in _ENGINE_ERROR_STATUS.items():
        if isinstance(exc, kind):
            return APIError(status, exc.message, code=code, field=exc.field)
    return APIError(400, exc.message, field=exc.field)


def path_id(value: str) -> int:
    """An id from the URL; one no row can have is a 404, as a missing one is."""
    if not _WHOLE_NUMBER.fullmatch(value) or int(value) > MAX_ID:
        raise APIError(404, "not found")
    return int(value)


def default_scope(method: str) -> str:
    """The scope a handler method needs unless it declares one: reading is `read`,
    everything else (changing settings, secrets, tokens, deleting) is `admin`."""
    return READ if method in ("GET", "HEAD") else ADMIN


def authenticated(
    method: Callable[..., Awaitable[None]] | None = None, *, scope: str | None = None,
) -> Any:
    """Run the handler method only for a signed-in user, available as `self.current_user`
    (and the credential, session or API token, as `self.credential`).

    Sign-in sessions hold every scope; personal access tokens only those they were created
    with (`admin` includes `deploy`, which includes `read`). What a method needs:

        @authenticated                   GET/HEAD need "read", any other method "admin"
        @authenticated(scope="deploy")   deploying: queue or cancel a build, upload a
                                         deployment, roll back (a `deploy` token may)
        @authenticated(scope="admin")    say so explicitly where a GET must be admin-only
        @authenticated(scope="session")  sign-in sessions only (logout): every token gets 403

    A credential without the scope gets 403 `insufficient_scope` (or `session_required`);
    the method never runs.
    """
    if scope is not None and scope not in (*TOKEN_SCOPES, SESSION):
        raise ValueError(f"unknown scope {scope!r}")
    if method is None:
        return functools.partial(authenticated, scope=scope)

    @functools.wraps(method)
    async def wrapper(self: APIHandler, *args: Any, **kwargs: Any) -> None:
        self.current_user = await self.authenticate(scope)
        await method(self, *args, **kwargs)

    return wrapper


class API404Handler(APIHandler):
    """Any `/api/...` path no route matched: a JSON 404, never the dashboard's HTML."""

    async def prepare(self) -> None:
        raise APIError(404, f"no API endpoint {self.request.method} {self.request.path}")


def decode_json(body: bytes) -> Any:
    """`body` as JSON that Slipway can store and answer with, else a 400 `invalid_json`.

    Python's parser accepts more than that: NaN and Infinity, numbers too large for a float,
    integers too long to convert (a ValueError), nesting deep enough to exhaust the stack
    (a RecursionError), and strings PostgreSQL and UTF-8 cannot hold (NUL, lone surrogates),
    each of which would otherwise surface later as a 500.
    """
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise _invalid_json("the request body is not valid JSON: it is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _invalid_json(f"the request body is not valid JSON: {exc}") from None
    except ValueError:  # from the int conversion or _refuse_constant
        raise _invalid_json("the request body has a number Slipway cannot read") from None
    except RecursionError:
        raise _invalid_json(_TOO_DEEP) from None
    _check_json_value(data)
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def _check_json_value(data: Any) -> None:
    """Walk the decoded value without recursion: depth, numbers and strings."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise _invalid_json(_TOO_DEEP)
            if isinstance(value, dict):
                pending.extend((key, depth) for key in value)
                value = value.values()
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise _invalid_json("the request body has a number too large for Slipway")
        elif isinstance(value, str):
            if "\x00" in value:
                raise _invalid_json("the request body has a NUL character in a string")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _invalid_json("the request body has a lone UTF-16 surrogate in a string "
                                    "(a \\u escape of half a character)") from None


def _invalid_json(message: str) -> APIError:
    return APIError(400, message, code="invalid_json")


def _encode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def _status_phrase(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def _check_field(name: str, value: Any, spec: Field) -> None:
    if value is None:
        if spec.nullable:
            return
        raise APIError(400, f"{name} must not be null", code="validation_failed", field=name)
    # bool is an int in Python but never a number in JSON terms.
    wrong_bool = isinstance(value, bool) and spec.kind is not bool
    accepted = (int, float) if spec.kind is float else spec.kind
    if wrong_bool or not isinstance(value, accepted):
        raise APIError(400, f"{name} must be {_TYPE_NAMES.get(spec.kind, spec.kind.__name__)}",
                       code="validation_failed", field=name)
    if spec.max_length is not None and len(value) > spec.max_length:
        unit = "characters" if spec.kind is str else "items"
        raise APIError(400, f"{name} must be at most {spec.max_length} {unit}",
                       code="validation_failed", field=name)
