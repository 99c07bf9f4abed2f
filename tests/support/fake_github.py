"""A fake GitHub served over real HTTP, so Slipway's tests exercise its real GitHub client.

github.com is unreachable from the test machines, and a mock at the function level would let
URL building, headers, pagination and `git clone` go untested. This is a small Tornado
application on 127.0.0.1 that Slipway reaches through its two configured base URLs, exactly as it
would reach GitHub Enterprise (`GITHUB_URL` = `url`, `GITHUB_API_URL` = `api_url`, a base with a
path, so clients must join paths to it correctly). It serves:

- OAuth: the authorize redirect and the code-for-token exchange, with GitHub's quirks (errors
  answered with HTTP 200; form-encoded answers unless JSON is asked for);
- the REST endpoints Slipway calls, under `/api/v3`, with GitHub's error bodies;
- Git's smart HTTP protocol (clone and fetch only) by running `git http-backend` as a CGI program
  over bare repositories in `root/repos`, with GitHub's credential challenges.

Every request is recorded before it is answered, so a test can assert what Slipway sent and
where a token did (not) appear.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import itertools
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web

API_PREFIX = "/api/v3"
DOCS_URL = "https://docs.github.com/rest"
JSON_TYPE = "application/json; charset=utf-8"
FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
COMMIT_STATES = ("error", "failure", "pending", "success")
REPO_NAME = re.compile(r"[A-Za-z0-9._-]+")
AUTHOR = re.compile(r"[^<>\n]+ <[^<>\n]*>")
FIXTURE_COMMITTER = "Fake GitHub <noreply@github.example>"
DEFAULT_FILES = {"README.md": "# Hello from the fake GitHub\n"}
PER_PAGE_DEFAULT, PER_PAGE_MAX = 30, 100

# GitHub's own words for the two token-exchange failures Slipway must handle.
BAD_CODE = {
    "error": "bad_verification_code",
    "error_description": "The code passed is incorrect or expired.",
    "error_uri": "https://docs.github.com/apps/managing-oauth-apps/"
    "troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
}
BAD_CLIENT = {
    "error": "incorrect_client_credentials",
    "error_description": "The client_id and/or client_secret passed are incorrect.",
    "error_uri": "https://docs.github.com/apps/managing-oauth-apps/"
    "troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials",
}
REDIRECT_MISMATCH = {
    "error": "redirect_uri_mismatch",
    "error_description": "The redirect_uri MUST match the registered callback URL for this "
    "application.",
    "error_uri": "https://docs.github.com/apps/managing-oauth-apps/"
    "troubleshooting-authorization-request-errors/#redirect-uri-mismatch",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it; `body` is the raw body (still gzipped if it was)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @classmethod
    def of(cls, request: tornado.httputil.HTTPServerRequest) -> RecordedRequest:
        return cls(
            method=request.method or "",
            path=request.path,
            query=dict(parse_qsl(request.query, keep_blank_values=True)),
            headers=dict(request.headers.get_all()),
            body=request.body,
        )


@dataclass
class FakeUser:
    """A GitHub account. `token` works for the API (Bearer/token) and for git (Basic password)."""

    id: int
    login: str
    name: str | None
    email: str
    public_email: bool
    avatar_url: str
    token: str


@dataclass
class FakeRepo:
    """A repository backed by the bare git repository at `path`; timestamps are epoch seconds."""

    id: int
    owner: FakeUser
    name: str
    private: bool
    default_branch: str
    clone_url: str
    html_url: str
    path: Path
    created_at: int
    updated_at: int
    pushed_at: int

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    def visible_to(self, user: FakeUser | None) -> bool:
        return not self.private or user is self.owner


@dataclass(frozen=True)
class Authorization:
    """What a user granted at the authorize page, as a test may want to assert it."""

    user: FakeUser
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None


@dataclass(frozen=True)
class _Code:
    authorization: Authorization
    expires_at: float


class GitHubError(tornado.web.HTTPError):
    """An error answered with GitHub's JSON body: `message`, plus `extra` fields (`errors`)."""

    def __init__(self, status: int, message: str | None = None, **extra: Any) -> None:
        super().__init__(status)
        self.message = message or tornado.httputil.responses.get(status, "Error")
        self.extra = extra


class FakeGitHub:
    """A GitHub with one OAuth app, users, repositories and their git data, on a local port.

    Create it with a scratch directory, `start()` it on the running IOLoop, add users and
    repositories, and point Slipway at `url` and `api_url`. `reset()` forgets everything a test
    did, so one instance can serve a whole session.
    """

    CLIENT_ID = "Ov23liFakeGitHubApp01"
    CLIENT_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"
    CODE_LIFETIME = 600.0
    """Seconds an authorization code stays valid, as on GitHub."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.repos_dir = self.root / "repos"
        self._home = self.root / "home"
        self._home.mkdir(parents=True, exist_ok=True)
        self.url = ""
        self.api_url = ""
        self._server: tornado.httpserver.HTTPServer | None = None
        self._subprocesses: set[asyncio.subprocess.Process] = set()
        # Ids stay unique across resets, so a stale id from an earlier test never matches.
        self._ids = itertools.count(1001)
        self.reset()

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Serve on an ephemeral port of 127.0.0.1, on the current IOLoop."""
        [sock] = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self._server = tornado.httpserver.HTTPServer(_Application(self))
        self._server.add_sockets([sock])
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.api_url = self.url + API_PREFIX

    async def stop(self) -> None:
        """Stop listening, drop connections and end any git process still running."""
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
        for process in list(self._subprocesses):
            if process.returncode is None:
                process.kill()
                await process.wait()

    def reset(self) -> None:
        """Forget users, repositories (deleted from disk), requests, hooks, statuses, outages,
        and any change to the clock."""
        self.clock: Callable[[], float] = time.time
        """Wall clock for code expiry and timestamps; a test may replace it to travel in time."""
        self.requests: list[RecordedRequest] = []
        self.users: dict[str, FakeUser] = {}
        self.repos: dict[str, FakeRepo] = {}
        self.signed_in: FakeUser | None = None
        self.authorizations: list[Authorization] = []
        self.hooks: dict[str, dict[int, dict]] = {}
        self.statuses: list[dict] = []
        self._codes: dict[str, _Code] = {}
        self._failures: list[int] = []
        self._last_event = 0
        shutil.rmtree(self.repos_dir, ignore_errors=True)
        self.repos_dir.mkdir(parents=True)

    # -- accounts and repositories ----------------------------------------------------------

    def add_user(
        self, login: str, *, email: str | None = None, name: str | None = None,
        public_email: bool = True,
    ) -> FakeUser:
        """Create an account with a fresh access token.

        `public_email=False` makes `/user` answer `"email": null` as GitHub does for users who
        keep their address private; `/user/emails` still lists it.
        """
        self._require_started()
        if login.lower() in self.users:
            raise ValueError(f"user {login} already exists")
        user_id = next(self._ids)
        user = FakeUser(
            id=user_id, login=login, name=name, email=email or f"{login}@example.com",
            public_email=public_email, avatar_url=f"{self.url}/avatars/u/{user_id}?v=4",
            token="gho_" + secrets.token_hex(18),
        )
        self.users[login.lower()] = user
        return user

    def add_repo(
        self, owner: FakeUser, name: str, *, private: bool = False, default_branch: str = "main",
        files: dict[str, str] | None = None,
    ) -> FakeRepo:
        """Create a bare repository with one commit of `files` (a README by default)."""
        self._require_started()
        if not REPO_NAME.fullmatch(name) or name.endswith(".git") or name in (".", ".."):
            raise ValueError(f"invalid repository name {name!r}")
        full_name = f"{owner.login}/{name}"
        if full_name.lower() in self.repos:
            raise ValueError(f"repository {full_name} already exists")
        path = self.repos_dir / owner.login / f"{name}.git"
        self._git(None, "init", "--quiet", "--bare", f"--initial-branch={default_branch}",
                  str(path))
        with open(path / "config", "a") as config:
            # Slipway fetches a pushed commit by its sha (`git fetch --depth 1 origin <sha>`),
            # which GitHub allows. Protocol v2 serves any sha anyway, but a v0 client (older
            # git, protocol.version=0) is refused one that is not a ref tip unless told so.
            # Filters are allowed too, as on GitHub, for partial clones.
            config.write("[uploadpack]\n\tallowAnySHA1InWant = true\n\tallowFilter = true\n")
        now = self._event_time()
        repo = FakeRepo(
            id=next(self._ids), owner=owner, name=name, private=private,
            default_branch=default_branch, clone_url=f"{self.url}/{full_name}.git",
            html_url=f"{self.url}/{full_name}", path=path,
            created_at=now, updated_at=now, pushed_at=now,
        )
        self._commit(repo, default_branch, None, files or DEFAULT_FILES, "Initial commit",
                     FIXTURE_COMMITTER, now)
        self.repos[full_name.lower()] = repo
        return repo

    def push(
        self, repo: FakeRepo, files: dict[str, str], *, message: str = "update",
        branch: str | None = None, author: str = "Ada Lovelace <ada@example.com>",
    ) -> str:
        """Add a commit writing `files` on `branch` (new branches start from the default one).

        Returns the new commit's sha. This is how tests "push": git pushes over HTTP are refused.
        """
        if not AUTHOR.fullmatch(author):
            raise ValueError(f"author must look like 'Name <email>', not {author!r}")
        branch = branch or repo.default_branch
        parent = self._resolve(repo, f"refs/heads/{branch}") or self.head(repo)
        now = self._event_time()
        sha = self._commit(repo, branch, parent, files, message, author, now)
        repo.updated_at = repo.pushed_at = now
        return sha

    def head(self, repo: FakeRepo, branch: str | None = None) -> str:
        """The sha `branch` (default: the default branch) points at."""
        branch = branch or repo.default_branch
        sha = self._resolve(repo, f"refs/heads/{branch}")
        if sha is None:
            raise KeyError(f"{repo.full_name} has no branch {branch}")
        return sha

    def fail_api(self, status: int = 502, times: int = 1) -> None:
        """Answer the next `times` API and token-exchange requests with `status`: an outage."""
        self._failures.extend([status] * times)

    # -- lookups used by the handlers -------------------------------------------------------

    def user_for_token(self, token: str | None) -> FakeUser | None:
        if not token:
            return None
        for user in self.users.values():
            if secrets.compare_digest(user.token.encode(), token.encode()):
                return user
        return None

    def find_repo(self, owner: str, name: str) -> FakeRepo | None:
        """Owner and repository names are case-insensitive on GitHub."""
        return self.repos.get(f"{owner}/{name}".lower())

    def take_failure(self) -> int | None:
        return self._failures.pop(0) if self._failures else None

    def issue_code(self, authorization: Authorization) -> str:
        code = secrets.token_hex(10)
        self._codes[code] = _Code(authorization, self.clock() + self.CODE_LIFETIME)
        self.authorizations.append(authorization)
        return code

    def redeem_code(self, code: str, client_id: str) -> Authorization | None:
        """The authorization behind a live code of this client; the code is then used up."""
        entry = self._codes.pop(code, None)
        if entry is None or entry.authorization.client_id != client_id:
            return None
        if self.clock() > entry.expires_at:
            return None
        return entry.authorization

    def peek_code(self, code: str) -> Authorization | None:
        entry = self._codes.get(code)
        return entry.authorization if entry else None

    def next_id(self) -> int:
        return next(self._ids)

    # -- git --------------------------------------------------------------------------------

    def git_env(self) -> dict[str, str]:
        """An environment isolated from the machine's and the user's git configuration.

        Built from scratch rather than copied, so a GIT_DIR or GIT_INDEX_FILE inherited from a
        hook running the suite cannot point git elsewhere.
        """
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self._home),
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }

    async def run_git(
        self, repo: FakeRepo | None, *args: str, stdin: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[int, bytes, bytes]:
        """Run git without blocking the IOLoop: Slipway's own clones talk to us meanwhile."""
        git_dir = ["--git-dir", str(repo.path)] if repo else []
        process = await asyncio.create_subprocess_exec(
            "git", *git_dir, *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**self.git_env(), **(env or {})},
        )
        self._subprocesses.add(process)
        try:
            out, err = await process.communicate(stdin)
        finally:
            self._subprocesses.discard(process)
        return process.returncode or 0, out, err

    async def commit_json(self, repo: FakeRepo, rev: str) -> dict | None:
        """GitHub's commit object for `rev` (sha, branch or tag), or None if it names none."""
        fields = "%H%x00%T%x00%P%x00%an%x00%ae%x00%at%x00%cn%x00%ce%x00%ct%x00%B"
        code, out, _ = await self.run_git(
            repo, "log", "-1", f"--format={fields}", "--end-of-options", f"{rev}^{{commit}}", "--"
        )
        if code != 0 or not out:
            return None
        sha, tree, parents, a_name, a_email, a_time, c_name, c_email, c_time, message = (
            out.decode("utf-8", "replace").split("\x00", 9)
        )
        return {
            "sha": sha,
            "url": f"{self.api_url}/repos/{repo.full_name}/commits/{sha}",
            "html_url": f"{repo.html_url}/commit/{sha}",
            "commit": {
                "message": message.rstrip("\n"),
                "author": {"name": a_name, "email": a_email, "date": iso8601(int(a_time))},
                "committer": {"name": c_name, "email": c_email, "date": iso8601(int(c_time))},
                "tree": {"sha": tree},
            },
            "parents": [{"sha": parent} for parent in parents.split()],
        }

    def _commit(
        self, repo: FakeRepo, branch: str, parent: str | None, files: dict[str, str],
        message: str, author: str, when: int,
    ) -> str:
        """Write one commit with `git fast-import`: a single process, no work tree, no index."""
        stream = [
            f"commit refs/heads/{branch}\n", "mark :1\n",
            f"author {author} {when} +0000\n", f"committer {FIXTURE_COMMITTER} {when} +0000\n",
            _fast_import_data(message),
        ]
        if parent:
            stream.append(f"from {parent}\n")
        for path, content in files.items():
            stream += [f"M 100644 inline {_c_quote(path)}\n", _fast_import_data(content)]
        stream.append("\nget-mark :1\n")
        out = self._git(repo, "fast-import", "--quiet", stdin="".join(stream).encode())
        return out.decode().strip()

    def _resolve(self, repo: FakeRepo, ref: str) -> str | None:
        try:
            out = self._git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except subprocess.CalledProcessError:
            return None
        return out.decode().strip()

    def _git(self, repo: FakeRepo | None, *args: str, stdin: bytes | None = None) -> bytes:
        """Run git synchronously: for fixtures set up by test code, never inside a handler."""
        git_dir = ["--git-dir", str(repo.path)] if repo else []
        result = subprocess.run(
            ["git", *git_dir, *args], input=stdin, capture_output=True, env=self.git_env(),
            check=False,
        )
        if result.returncode != 0:
            raise subprocess.CalledProcessError(
                result.returncode, result.args, result.stdout, result.stderr
            )
        return result.stdout

    def _event_time(self) -> int:
        """Now, in whole seconds, but always after the previous event, so order is stable."""
        self._last_event = max(int(self.clock()), self._last_event + 1)
        return self._last_event

    def _require_started(self) -> None:
        # URLs in users and repositories embed the port, known only once bound.
        if not self.url:
            raise RuntimeError("start() the fake GitHub before adding users or repositories")


def iso8601(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fast_import_data(text: str) -> str:
    data = text.encode()
    return f"data {len(data)}\n{text}\n"


def _c_quote(path: str) -> str:
    """Quote a path for fast-import, so spaces, quotes or newlines in names are safe."""
    if path.startswith("/") or ".." in path.split("/"):
        raise ValueError(f"file paths must be relative and stay inside the repository: {path!r}")
    escaped = path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


# -- HTTP ----------------------------------------------------------------------------------


class _Application(tornado.web.Application):
    def __init__(self, github: FakeGitHub) -> None:
        self.github = github
        repo = API_PREFIX + r"/repos/([^/]+)/([^/]+)"
        super().__init__([
            (r"/login/oauth/authorize", AuthorizeHandler),
            (r"/login/oauth/access_token", AccessTokenHandler),
            (r"/avatars/u/([0-9]+)", AvatarHandler),
            (API_PREFIX + r"/user", UserHandler),
            (API_PREFIX + r"/user/emails", UserEmailsHandler),
            (API_PREFIX + r"/user/repos", UserReposHandler),
            (repo, RepoHandler),
            # Branch names may contain slashes, so the name is the whole rest of the path.
            (repo + r"/branches/(.+)", BranchHandler),
            (repo + r"/commits/(.+)", CommitHandler),
            (repo + r"/hooks", HooksHandler),
            (repo + r"/hooks/([0-9]+)", HookHandler),
            (repo + r"/statuses/([^/]+)", StatusesHandler),
            (API_PREFIX + r"(?:/.*)?", ApiNotFoundHandler),
            (r"/([^/]+)/([^/]+?)(?:\.git)?/(info/refs|git-upload-pack|git-receive-pack)",
             GitHandler),
            (r".*", NotFoundHandler),
        ])


class BaseHandler(tornado.web.RequestHandler):
    """Records every request, and answers errors as GitHub's JSON."""

    application: _Application

    @property
    def github(self) -> FakeGitHub:
        return self.application.github

    def prepare(self) -> None:
        self.github.requests.append(RecordedRequest.of(self.request))

    def send_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(json.dumps(value))

    def json_body(self) -> dict:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise GitHubError(400, "Problems parsing JSON")
        return body

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if status_code == 405:
            # GitHub answers a method a path does not support like an unknown path.
            status_code = 404
            self.set_status(404)
        if isinstance(error, GitHubError):
            message, extra = error.message, error.extra
        else:
            message, extra = tornado.httputil.responses.get(status_code, "Error"), {}
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(json.dumps({
            "message": message, **extra, "documentation_url": DOCS_URL,
            "status": str(status_code),
        }))


class NotFoundHandler(BaseHandler):
    def prepare(self) -> None:
        super().prepare()
        raise GitHubError(404)


class AuthorizeHandler(BaseHandler):
    """The page a user's browser is sent to; the signed-in user approves at once."""

    def get(self) -> None:
        client_id = self.get_query_argument("client_id", "")
        if client_id != self.github.CLIENT_ID:
            raise GitHubError(404)
        user = self.github.signed_in
        if user is None:
            raise GitHubError(403, "No user is signed in to the fake GitHub (set signed_in)")
        redirect_uri = self.get_query_argument("redirect_uri", "")
        if not redirect_uri:
            raise GitHubError(400, "redirect_uri is required: the fake app has no callback URL")
        state = self.get_query_argument("state", None)
        authorization = Authorization(
            user=user, client_id=client_id, redirect_uri=redirect_uri,
            scope=_normalize_scope(self.get_query_argument("scope", "")), state=state,
        )
        code = self.github.issue_code(authorization)
        extra = {"code": code} | ({"state": state} if state is not None else {})
        self.redirect(_add_query(redirect_uri, extra))


class AvatarHandler(BaseHandler):
    """A user's avatar (`avatar_url`), so a browser showing it loads a real image."""

    def get(self, user_id: str) -> None:
        hue = int(user_id) * 47 % 360
        self.set_header("Content-Type", "image/svg+xml")
        self.set_header("Cache-Control", "max-age=300")
        self.finish(f'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
                    f'<rect width="64" height="64" fill="hsl({hue},60%,55%)"/></svg>')


class AccessTokenHandler(BaseHandler):
    """The code-for-token exchange, failing as GitHub does: HTTP 200 with an `error` field."""

    def prepare(self) -> None:
        super().prepare()
        status = self.github.take_failure()
        if status is not None:
            raise GitHubError(status)

    def post(self) -> None:
        params = self._params()
        client_id = params.get("client_id", "")
        secret_ok = secrets.compare_digest(
            params.get("client_secret", "").encode(), self.github.CLIENT_SECRET.encode()
        )
        if client_id != self.github.CLIENT_ID or not secret_ok:
            return self._answer(BAD_CLIENT)
        code = params.get("code", "")
        pending = self.github.peek_code(code)
        redirect_uri = params.get("redirect_uri")
        if pending and redirect_uri and redirect_uri != pending.redirect_uri:
            return self._answer(REDIRECT_MISMATCH)
        authorization = self.github.redeem_code(code, client_id)
        if authorization is None:
            return self._answer(BAD_CODE)
        # The user's one token, rather than a new one per exchange: tests can then look for
        # `user.token` in what Slipway stored, logged or sent.
        return self._answer({
            "access_token": authorization.user.token,
            "token_type": "bearer",
            "scope": authorization.scope,
        })

    def _params(self) -> dict[str, str]:
        if "json" in self.request.headers.get("Content-Type", ""):
            body = self.json_body()
            return {key: str(value) for key, value in body.items()}
        return {name: self.get_argument(name) for name in self.request.arguments}

    def _answer(self, fields: dict[str, str]) -> None:
        if "json" in self.request.headers.get("Accept", ""):
            return self.send_json(fields)
        self.set_header("Content-Type", FORM_TYPE)
        return self.finish(urlencode(fields))


class ApiHandler(BaseHandler):
    """An endpoint under /api/v3: subject to outages, and to a token unless `public`."""

    public = False
    user: FakeUser

    def prepare(self) -> None:
        super().prepare()
        status = self.github.take_failure()
        if status is not None:
            raise GitHubError(status)
        if self.public:
            return
        user = self.github.user_for_token(_api_token(self.request.headers.get("Authorization")))
        if user is None:
            raise GitHubError(401, "Bad credentials")
        self.user = user

    def visible_repo(self, owner: str, name: str) -> FakeRepo:
        """The repository, or GitHub's 404 when it does not exist or this user may not see it."""
        repo = self.github.find_repo(owner, name)
        if repo is None or not repo.visible_to(self.user):
            raise GitHubError(404)
        return repo

    def owned_repo(self, owner: str, name: str) -> FakeRepo:
        """For writes: GitHub hides a repository from users lacking the right with a 404."""
        repo = self.visible_repo(owner, name)
        if repo.owner is not self.user:
            raise GitHubError(404)
        return repo

    def user_model(self, user: FakeUser) -> dict:
        return {
            "login": user.login, "id": user.id, "type": "User", "name": user.name,
            "email": user.email if user.public_email else None, "avatar_url": user.avatar_url,
            "html_url": f"{self.github.url}/{user.login}",
        }

    def repo_model(self, repo: FakeRepo) -> dict:
        admin = repo.owner is self.user
        return {
            "id": repo.id, "name": repo.name, "full_name": repo.full_name,
            "owner": {"login": repo.owner.login, "id": repo.owner.id, "type": "User"},
            "private": repo.private, "visibility": "private" if repo.private else "public",
            "fork": False, "archived": False, "description": None,
            "default_branch": repo.default_branch,
            "clone_url": repo.clone_url, "html_url": repo.html_url,
            "url": f"{self.github.api_url}/repos/{repo.full_name}",
            "created_at": iso8601(repo.created_at), "updated_at": iso8601(repo.updated_at),
            "pushed_at": iso8601(repo.pushed_at),
            "permissions": {"admin": admin, "maintain": admin, "push": admin, "triage": admin,
                            "pull": True},
        }


class ApiNotFoundHandler(ApiHandler):
    public = True

    def prepare(self) -> None:
        super().prepare()
        raise GitHubError(404)


class UserHandler(ApiHandler):
    def get(self) -> None:
        self.send_json(self.user_model(self.user))


class UserEmailsHandler(ApiHandler):
    def get(self) -> None:
        # An old unverified address comes first: a client must pick the primary verified one.
        self.send_json([
            {"email": f"{self.user.login}.old@example.net", "primary": False, "verified": False,
             "visibility": None},
            {"email": self.user.email, "primary": True, "verified": True,
             "visibility": "public" if self.user.public_email else "private"},
        ])


class UserReposHandler(ApiHandler):
    SORT_KEYS: dict[str, Callable[[FakeRepo], Any]] = {
        "created": lambda repo: repo.created_at,
        "updated": lambda repo: repo.updated_at,
        "pushed": lambda repo: repo.pushed_at,
        "full_name": lambda repo: repo.full_name.lower(),
    }

    def get(self) -> None:
        """Repositories the user owns, sorted and paginated as GitHub does.

        GitHub's default order is `full_name` ascending; other sorts default to descending.
        """
        sort = self.get_query_argument("sort", "full_name")
        sort = sort if sort in self.SORT_KEYS else "full_name"
        default_direction = "asc" if sort == "full_name" else "desc"
        descending = self.get_query_argument("direction", default_direction) == "desc"
        repos = sorted(
            (repo for repo in self.github.repos.values() if repo.owner is self.user),
            key=self.SORT_KEYS[sort], reverse=descending,
        )
        per_page = min(max(_int_argument(self, "per_page", PER_PAGE_DEFAULT), 1), PER_PAGE_MAX)
        page = max(_int_argument(self, "page", 1), 1)
        last = max((len(repos) + per_page - 1) // per_page, 1)
        link = self._link_header(page, last)
        if link:
            self.set_header("Link", link)
        start = (page - 1) * per_page
        self.send_json([self.repo_model(repo) for repo in repos[start:start + per_page]])

    def _link_header(self, page: int, last: int) -> str | None:
        """GitHub's `Link` header: absolute URLs keeping the request's other parameters."""
        query = {key: value for key, value in parse_qsl(self.request.query) if key != "page"}

        def url(number: int) -> str:
            return f"{self.github.api_url}/user/repos?" + urlencode({**query, "page": number})

        links = []
        if page > 1:
            links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        return ", ".join(links) or None


class RepoHandler(ApiHandler):
    def get(self, owner: str, name: str) -> None:
        self.send_json(self.repo_model(self.visible_repo(owner, name)))


class BranchHandler(ApiHandler):
    async def get(self, owner: str, name: str, branch: str) -> None:
        repo = self.visible_repo(owner, name)
        commit = await self.github.commit_json(repo, f"refs/heads/{branch}")
        if commit is None:
            raise GitHubError(404, "Branch not found")
        self.send_json({"name": branch, "commit": commit, "protected": False})


class CommitHandler(ApiHandler):
    async def get(self, owner: str, name: str, ref: str) -> None:
        repo = self.visible_repo(owner, name)
        commit = await self.github.commit_json(repo, ref)
        if commit is None:
            raise GitHubError(422, f"No commit found for SHA: {ref}")
        self.send_json(commit)


class HooksHandler(ApiHandler):
    def get(self, owner: str, name: str) -> None:
        repo = self.owned_repo(owner, name)
        hooks = self.github.hooks.get(repo.full_name, {})
        self.send_json([self._model(repo, hook_id, hook) for hook_id, hook in hooks.items()])

    def post(self, owner: str, name: str) -> None:
        repo = self.owned_repo(owner, name)
        body = self.json_body()
        config = body.get("config")
        if not isinstance(config, dict) or not config.get("url"):
            raise _validation_failed("Hook", "url", "missing_field", "url is missing")
        if body.get("name", "web") != "web":
            raise _validation_failed("Hook", "name", "invalid", "name must be 'web'")
        hook_id = self.github.next_id()
        self.github.hooks.setdefault(repo.full_name, {})[hook_id] = body
        self.send_json(self._model(repo, hook_id, body), status=201)

    def _model(self, repo: FakeRepo, hook_id: int, hook: dict) -> dict:
        config = {key: value for key, value in hook["config"].items() if key != "secret"}
        if hook["config"].get("secret"):
            config["secret"] = "********"  # GitHub never answers a hook's secret
        url = f"{self.github.api_url}/repos/{repo.full_name}/hooks/{hook_id}"
        return {
            "type": "Repository", "id": hook_id, "name": "web",
            "active": hook.get("active", True), "events": hook.get("events", ["push"]),
            "config": config, "url": url, "ping_url": f"{url}/pings",
            "test_url": f"{url}/test",
        }


class HookHandler(ApiHandler):
    def delete(self, owner: str, name: str, hook_id: str) -> None:
        repo = self.owned_repo(owner, name)
        hooks = self.github.hooks.get(repo.full_name, {})
        if hooks.pop(int(hook_id), None) is None:
            raise GitHubError(404)
        self.set_status(204)
        self.finish()


class StatusesHandler(ApiHandler):
    async def post(self, owner: str, name: str, sha: str) -> None:
        repo = self.owned_repo(owner, name)
        body = self.json_body()
        if body.get("state") not in COMMIT_STATES:
            raise _validation_failed(
                "Status", "state", "custom", "state is not included in the list"
            )
        commit = await self.github.commit_json(repo, sha)
        if commit is None or commit["sha"] != sha:
            raise GitHubError(422, f"No commit found for SHA: {sha}")
        status_id = self.github.next_id()
        self.github.statuses.append({"repo": repo.full_name, "sha": sha, **body})
        self.send_json({
            "id": status_id, "state": body["state"], "context": body.get("context", "default"),
            "description": body.get("description"), "target_url": body.get("target_url"),
            "url": f"{self.github.api_url}/repos/{repo.full_name}/statuses/{sha}",
            "creator": {"login": self.user.login, "id": self.user.id},
        }, status=201)


class GitHandler(BaseHandler):
    """Git's smart HTTP protocol, for clone and fetch, through `git http-backend` (CGI)."""

    async def get(self, owner: str, name: str, endpoint: str) -> None:
        if endpoint != "info/refs":
            raise GitHubError(404)
        await self._serve(owner, name, endpoint, self.get_query_argument("service", ""))

    async def post(self, owner: str, name: str, endpoint: str) -> None:
        if endpoint == "info/refs":
            raise GitHubError(404)
        await self._serve(owner, name, endpoint, endpoint)

    async def _serve(self, owner: str, name: str, endpoint: str, service: str) -> None:
        user = self._basic_auth_user()
        repo = self.github.find_repo(owner, name)
        if repo is None or not repo.visible_to(user):
            # Like GitHub: ask anonymous clients to authenticate (git then runs its credential
            # helper), so a private repository's existence is not revealed to them.
            if user is None:
                raise GitHubError(401, "Authentication required")
            raise GitHubError(404, "Repository not found.")
        if service == "git-receive-pack":
            raise GitHubError(403, "Pushing to the fake GitHub is not supported; use push().")
        if service != "git-upload-pack":
            raise GitHubError(403, "Only git's smart HTTP protocol is served.")
        await self._run_backend(repo, endpoint)

    def _basic_auth_user(self) -> FakeUser | None:
        """The user whose token is the Basic password (or the username, with no password).

        None when there are no credentials; wrong credentials are a 401 even for a public
        repository, as on GitHub, so git reports "Authentication failed".
        """
        header = self.request.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, encoded = header.partition(" ")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        username, _, password = decoded.partition(":")
        user = self.github.user_for_token(password or username)
        if scheme.lower() != "basic" or user is None:
            raise GitHubError(401, "Invalid username or token.")
        return user

    async def _run_backend(self, repo: FakeRepo, endpoint: str) -> None:
        body = self.request.body
        encoding = self.request.headers.get("Content-Encoding", "").lower()
        if encoding in ("gzip", "x-gzip"):
            # git gzips large fetch negotiations; http-backend is given the plain body.
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError, zlib.error) as exc:
                raise GitHubError(400, f"bad gzip body: {exc}") from exc
        path = repo.path.relative_to(self.github.repos_dir).as_posix()
        env = {
            "GIT_PROJECT_ROOT": str(self.github.repos_dir),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": f"/{path}/{endpoint}",
            "REQUEST_METHOD": self.request.method or "GET",
            "QUERY_STRING": self.request.query,
            "CONTENT_TYPE": self.request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.request.remote_ip or "127.0.0.1",
        }
        # Without it the backend answers protocol v0 whatever the client asked for, and git
        # falls back to v0 silently: passing it is what makes the fake speak v2.
        if "Git-Protocol" in self.request.headers:
            env["HTTP_GIT_PROTOCOL"] = self.request.headers["Git-Protocol"]
        code, out, err = await self.github.run_git(
            None, "http-backend", stdin=body if self.request.method == "POST" else None, env=env
        )
        status, reason, headers, payload = _parse_cgi(out)
        if status is None:
            raise GitHubError(500, f"git http-backend failed ({code}): {err.decode()[-500:]}")
        self.set_status(status, reason)
        self.clear_header("Content-Type")
        for header, value in headers:
            self.add_header(header, value)
        self.finish(payload)

    def compute_etag(self) -> None:
        return None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Git prints a plain body after "remote:"; a 401 carries the challenge git answers."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Basic realm="GitHub"')
        message = error.message if isinstance(error, GitHubError) else self._reason
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message + "\n")


def _parse_cgi(output: bytes) -> tuple[int | None, str | None, list[tuple[str, str]], bytes]:
    """Split a CGI answer into status, reason, headers and body.

    The header block ends at the first blank line, written as CRLF CRLF by http-backend (LF LF
    is accepted too); a `Status:` header sets the status, which is 200 without one.
    """
    ends = [(index, len(mark)) for mark in (b"\r\n\r\n", b"\n\n")
            if (index := output.find(mark)) >= 0]
    if not ends:
        return None, None, [], b""
    index, length = min(ends)
    status, reason, headers = 200, None, []
    for line in output[:index].decode("latin-1").splitlines():
        header, _, value = line.partition(":")
        if header.lower() == "status":
            number, _, reason = value.strip().partition(" ")
            status = int(number)
        elif header:
            headers.append((header.strip(), value.strip()))
    return status, reason or None, headers, output[index + length:]


def _api_token(header: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>` or `Authorization: token <token>`."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "token") else None


def _normalize_scope(scope: str) -> str:
    """Scopes arrive space- or comma-separated; GitHub answers them comma-separated."""
    return ",".join(part for part in re.split(r"[\s,]+", scope) if part)


def _add_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` appended to its query, keeping what the query already held."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _int_argument(handler: tornado.web.RequestHandler, name: str, default: int) -> int:
    try:
        return int(handler.get_query_argument(name, str(default)))
    except ValueError:
        return default


def _validation_failed(resource: str, field: str, code: str, message: str) -> GitHubError:
    return GitHubError(422, "Validation Failed", errors=[
        {"resource": resource, "field": field, "code": code, "message": message},
    ])
