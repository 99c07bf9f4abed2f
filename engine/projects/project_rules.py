"""The rules a project's settings must follow, as pure functions that raise `Invalid`.

Each check names the field at fault in its message. Paths are normalised and confined to the
repository; repository URLs are https (a GitHub URL is recognised as such), and only the local
administrator may point a project at a path on this machine, since a build would read it.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.builds.frameworks import FRAMEWORKS
from engine.errors import Invalid
from engine.sites.names import project_name_problem

MAX_COMMAND_CHARS = 4096
MAX_PATH_CHARS = 255
MAX_URL_CHARS = 2048
SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
MAX_SECRET_BYTES = 64 * 1024
MAX_SECRETS = 200
# Where a secret is given: production builds, preview builds (SPEC, Automation). Listed in
# this order wherever a secret's environments are shown.
SECRET_ENVIRONMENTS = ("production", "preview")
# git check-ref-format's rules for a branch name, in one expression.
_BAD_BRANCH = re.compile(
    r"(^[-/.])|([/.]$)|(\.\.)|(//)|(@\{)|(\.lock$)|(/\.)|([\x00-\x20~^:?*\[\\\x7f])"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_GITHUB_PATH = re.compile(r"^/([A-Za-z0-9-]{1,39})/([A-Za-z0-9._-]{1,100}?)(?:\.git)?/?$")


@dataclass(frozen=True)
class RepoSource:
    """Where a project's code comes from."""

    url: str                  # what git clones: an https URL or an absolute local path
    github_repo: str | None   # "owner/name" in lower case when the repository is on GitHub


def check_name(name: str) -> str:
    problem = project_name_problem(name)
    if problem:
        raise Invalid(f"name {problem}", field="name")
    return name


def check_repo_url(raw: str, *, github_url: str, local_admin: bool) -> RepoSource:
    value = raw.strip()
    if not value or len(value) > MAX_URL_CHARS or "\0" in value:
        raise Invalid("repo_url must be a Git repository URL", field="repo_url")
    parts = urlsplit(value)
    github = urlsplit(github_url)
    if (parts.scheme, parts.netloc.lower()) == (github.scheme, github.netloc.lower()):
        return _github_source(value, github_url)
    if parts.scheme == "https":
        _check_plain_url(value)
        return RepoSource(value, None)
    if local_admin and (parts.scheme == "file" or value.startswith("/")):
        return RepoSource(_local_repository(parts.path if parts.scheme == "file" else value),
                          None)
    if parts.scheme == "http":
        raise Invalid("repo_url must use https://, not http://", field="repo_url")
    accepted = "an https:// Git URL" + (" or a path on this machine" if local_admin else "")
    raise Invalid(f"repo_url must be {accepted}", field="repo_url")


def check_branch(raw: str) -> str:
    branch = raw.strip()
    if not branch or len(branch) > 255 or _BAD_BRANCH.search(branch) or branch == "@":
        raise Invalid("branch is not a valid Git branch name", field="branch")
    return branch


def check_subpath(raw: str | None, field: str) -> str | None:
    """A relative path inside the repository, normalised ('' or '.' means its root: None)."""
    if raw is None:
        return None
    value = raw.strip()
    if "\\" in value or "\0" in value or len(value) > MAX_PATH_CHARS:
        raise Invalid(f"{field} must be a relative path with / separators", field=field)
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        raise Invalid(f"{field} must be relative to the repository, not absolute", field=field)
    normal = posixpath.normpath(value) if value else "."
    if normal == ".." or normal.startswith("../"):
        raise Invalid(f"{field} must stay inside the repository", field=field)
    return None if normal == "." else normal


def check_command(raw: str | None, field: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    if len(raw) > MAX_COMMAND_CHARS or "\0" in raw:
        raise Invalid(f"{field} must be at most {MAX_COMMAND_CHARS} characters", field=field)
    return raw.strip()


def check_framework(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in FRAMEWORKS:
        raise Invalid(f"framework must be one of {', '.join(FRAMEWORKS)}", field="framework")
    return raw


def check_node_version(raw: Any, offered: tuple[int, ...]) -> int | None:
    """A Node major this Slipway offers (SLIPWAY_NODE_VERSIONS), as a number or its digits;
    null or "" lets each build choose."""
    if raw is None or raw == "":
        return None
    text = str(raw).strip().removesuffix(".x") if not isinstance(raw, bool) else ""
    choices = ", ".join(map(str, offered))
    if not text.isdigit() or int(text) not in offered:
        raise Invalid(f"node_version must be one of {choices}, or null to choose by "
                      ".nvmrc, .node-version or engines.node", field="node_version")
    return int(text)


def check_secret(name: str, value: str | None = None, *, at: str | None = None) -> None:
    """A secret's name and value. Errors name the field `name` or `value` (a secret's own
    request), or `at` for both when the secret sits inside another object: a new project's
    `secrets.API_KEY`, which must not point the dashboard at the project's own name."""
    if not SECRET_NAME.match(name):
        raise Invalid("a secret's name must be letters, digits and _, not starting with a digit",
                      field=at or "name")
    if value is None:
        return
    if len(value.encode("utf-8", "surrogatepass")) > MAX_SECRET_BYTES:
        raise Invalid(f"the value of {name} is larger than 64 KiB", field=at or "value")
    if _CONTROL.search(value):
        # A NUL cannot be passed to a process's environment, and escapes would reach logs.
        raise Invalid(f"the value of {name} may not contain control characters (other than "
                      "tab and newline)", field=at or "value")


def check_secret_environments(raw: Any) -> list[str]:
    """A secret's environments as a non-empty list of known names, in their canonical order."""
    choices = " and ".join(f'"{name}"' for name in SECRET_ENVIRONMENTS)
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        raise Invalid(f"environments must be a non-empty array of {choices}",
                      field="environments")
    unknown = sorted(set(raw) - set(SECRET_ENVIRONMENTS))
    if unknown:
        raise Invalid(f"unknown environment {unknown[0]!r}: a secret is for {choices}",
                      field="environments")
    return [name for name in SECRET_ENVIRONMENTS if name in raw]


def _check_plain_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise Invalid("repo_url must not contain credentials; Slipway authenticates for you",
                      field="repo_url")
    if parts.query or parts.fragment or not parts.hostname:
        raise Invalid("repo_url must be a plain Git URL, without a query or fragment",
                      field="repo_url")


def _github_source(url: str, github_url: str) -> RepoSource:
    """A repository on the configured GitHub (github.com, an Enterprise server, the fake)."""
    _check_plain_url(url)
    match = _GITHUB_PATH.match(urlsplit(url).path)
    if not match:
        raise Invalid("repo_url must name a GitHub repository: "
                      f"{github_url}/<owner>/<repository>", field="repo_url")
    owner, name = match[1], match[2]
    return RepoSource(f"{github_url}/{owner}/{name}.git", f"{owner}/{name}".lower())


def _local_repository(path: str) -> str:
    location = Path(path)
    if not location.is_absolute() or not location.is_dir():
        raise Invalid("repo_url is not a directory on this machine", field="repo_url")
    resolved = location.resolve()
    is_git = (resolved / ".git").exists() or (
        (resolved / "HEAD").is_file() and (resolved / "objects").is_dir())
    if not is_git or not os.access(resolved, os.R_OK):
        raise Invalid("repo_url is not a readable Git repository", field="repo_url")
    return str(resolved)
