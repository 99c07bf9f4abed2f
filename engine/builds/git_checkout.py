"""Fetch exactly one commit of a repository into a fresh directory, shallowly.

The owner's token reaches git only through the environment of the git process: a GIT_ASKPASS
script (which contains no secret) prints it from an environment variable when git asks for a
password. It never appears in argv, in a URL, in git's config or in the checkout, so it cannot
leak into a log, an image or the build's files. Git runs without any system or user config.

Git runs in a process group of its own, and the whole group is killed at the build's deadline
or on cancel: `git fetch` hands the transfer to a `git-remote-https` child, which a kill of git
alone would leave running (holding the build's slot through its open pipes). A transfer that
stalls below a trickle is ended by git itself, and the host of a user's URL is pinned to the
public addresses checked by `engine.builds.repo_address`, with redirects off.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.builds.repo_address import PinnedHost

_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' x-access-token ;;
  *) printf '%s\\n' "$SLIPWAY_GIT_PASSWORD" ;;
esac
"""
MAX_OUTPUT_BYTES = 256 * 1024  # of git's own messages kept, per stream
# git gives up on a transfer slower than this many bytes a second for this many seconds.
LOW_SPEED_BYTES, LOW_SPEED_SECONDS = 1000, 60
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


class CheckoutError(Exception):
    """The repository could not be fetched; the message is for the build log."""


class BranchNotFound(CheckoutError):
    """The repository was reached, but has no such branch."""


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    author: str


def fetch_commit(
    repo_url: str, dest: Path, *, branch: str, commit: str | None, token: str | None,
    deadline: float, should_stop: Callable[[], bool], log: Callable[[str], None],
    pinned: PinnedHost | None = None,
) -> Commit:
    """Check out `commit` (or the head of `branch`) of `repo_url` into `dest`; with `pinned`,
    git connects only to the addresses it lists for the URL's host."""
    dest.mkdir(parents=True, exist_ok=True)
    remote = f"file://{repo_url}" if repo_url.startswith("/") else repo_url
    ref = commit if commit else f"refs/heads/{branch}"
    if commit and not _SHA.match(commit):
        raise CheckoutError(f"{commit!r} is not a full commit hash")
    with tempfile.TemporaryDirectory(prefix="slipway-git-") as home:
        env = _git_environment(Path(home), token)
        run = _GitRunner(dest, env, deadline, should_stop)
        run("init", "--quiet")
        log(f"Fetching {ref if commit else branch} from {_display(repo_url)}")
        # A pinned host may not redirect git elsewhere (to a loopback URL, say).
        pin = (["-c", f"http.curloptResolve={pinned.curl_resolve()}",
                "-c", "http.followRedirects=false"] if pinned else [])
        run(*pin, "-c", f"http.lowSpeedLimit={LOW_SPEED_BYTES}",
            "-c", f"http.lowSpeedTime={LOW_SPEED_SECONDS}",
            "fetch", "--quiet", "--depth", "1", "--no-tags", remote, ref,
            failure=_fetch_failure(branch, commit, token))
        run("checkout", "--quiet", "--detach", "FETCH_HEAD")
        facts = run("log", "-1", "--format=%H%n%an <%ae>%n%s").split("\n", 2)
        sha, author, message = (*facts, "", "")[:3]  # a commit may have an empty message
    log(f"Checked out {sha[:12]}: {message.strip()[:200]}")
    return Commit(sha=sha, message=message.strip()[:1000], author=author[:200])


def probe_remote(repo_url: str, branch: str | None, *, token: str | None, timeout: float,
                 pinned: PinnedHost | None = None) -> str:
    """The branch a new project builds, checked against the remote with `git ls-remote`:
    `branch` when given and present, else the remote's HEAD (its default branch). Raises
    CheckoutError with git's reason when the repository or the branch cannot be reached,
    after `timeout` seconds at most."""
    remote = f"file://{repo_url}" if repo_url.startswith("/") else repo_url
    wanted = ["HEAD"] + ([f"refs/heads/{branch}"] if branch else [])
    with tempfile.TemporaryDirectory(prefix="slipway-git-") as home:
        env = _git_environment(Path(home), token)
        run = _GitRunner(Path(home), env, time.monotonic() + timeout, lambda: False)
        pin = (["-c", f"http.curloptResolve={pinned.curl_resolve()}",
                "-c", "http.followRedirects=false"] if pinned else [])
        try:
            listing = run(*pin, "ls-remote", "--symref", remote, *wanted,
                          failure=_fetch_failure(branch or "HEAD", None, token, "ls-remote"))
        except _Interrupted:
            raise CheckoutError(f"the Git server did not answer within {timeout:g} s") from None
    pairs = [line.split("\t", 1) for line in listing.splitlines() if "\t" in line]
    if branch:
        if not any(name == f"refs/heads/{branch}" for _, name in pairs):
            raise BranchNotFound(f"branch {branch} not found in the repository")
        return branch
    for value, name in pairs:
        if name == "HEAD" and value.startswith("ref: refs/heads/"):
            return value.removeprefix("ref: refs/heads/")
    raise CheckoutError("the repository has no default branch (it may be empty): push a "
                        "commit, or name the branch")


class _GitRunner:
    """Runs git in the checkout, honouring the build's deadline and cancel."""

    def __init__(self, cwd: Path, env: dict[str, str], deadline: float,
                 should_stop: Callable[[], bool]) -> None:
        self.cwd, self.env, self.deadline, self.should_stop = cwd, env, deadline, should_stop

    def __call__(self, *args: str, failure: Callable[[str], str] | None = None) -> str:
        process = subprocess.Popen(
            ["git", *args], cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )
        outputs: list[str] = ["", ""]
        reader = threading.Thread(target=_collect, args=(process, outputs), daemon=True)
        reader.start()
        while reader.is_alive():
            reader.join(0.1)
            if self.should_stop() or time.monotonic() > self.deadline:
                _kill_group(process)  # git's children outlive git otherwise
                reader.join(5)
                raise _Interrupted()
        if process.returncode != 0:
            detail = outputs[1].strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
            command = next(a for a in args if not a.startswith("-") and "=" not in a)
            raise CheckoutError(failure(outputs[1]) if failure else f"git {command}: {detail[0]}")
        return outputs[0].strip()


class _Interrupted(CheckoutError):
    """The build was canceled or ran out of time while git was working."""

    def __init__(self) -> None:
        super().__init__("interrupted")


def is_interruption(error: CheckoutError) -> bool:
    return isinstance(error, _Interrupted)


def _kill_group(process: subprocess.Popen) -> None:
    """Kill git's whole process group (it leads a session of its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _collect(process: subprocess.Popen, outputs: list[str]) -> None:
    """Read git's stdout and stderr to their end, keeping a bounded part of each: a hostile
    server can send endless `remote:` messages."""
    def stderr() -> None:
        outputs[1] = _read_bounded(process.stderr, keep="tail")

    reader = threading.Thread(target=stderr, daemon=True)
    reader.start()
    outputs[0] = _read_bounded(process.stdout, keep="head")
    reader.join()
    process.wait()


def _read_bounded(pipe: Any, keep: str) -> str:
    kept = bytearray()
    for chunk in iter(lambda: pipe.read(64 * 1024), b""):
        kept += chunk
        if len(kept) > MAX_OUTPUT_BYTES:
            if keep == "tail":
                del kept[:-MAX_OUTPUT_BYTES]
            else:
                del kept[MAX_OUTPUT_BYTES:]
    return kept.decode(errors="replace")


def _git_environment(home: Path, token: str | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": str(home / "askpass"),
        "LC_ALL": "C",
    }
    askpass = home / "askpass"
    askpass.write_text(_ASKPASS)
    askpass.chmod(0o700)
    if token:
        env["SLIPWAY_GIT_PASSWORD"] = token
    return env


def _fetch_failure(branch: str, commit: str | None, token: str | None,
                   command: str = "fetch") -> Callable[[str], str]:
    """git's stderr in plain words, for a `git fetch` or `git ls-remote` that failed."""
    def explain(stderr: str) -> str:
        text = stderr.lower()
        if "authentication failed" in text or "could not read username" in text:
            who = "the owner's GitHub token" if token else "anonymous access"
            return f"the repository refused access ({who}); check that it can read the repository"
        if "couldn't find remote ref" in text or "not our ref" in text:
            wanted = f"commit {commit}" if commit else f"branch {branch}"
            return f"{wanted} not found in the repository"
        if "does not appear to be a git repository" in text or "not a git repository" in text:
            return "there is no Git repository at that address"
        if "repository not found" in text or "not found" in text:
            return "the repository was not found (or the token cannot see it)"
        if any(sign in text for sign in ("could not resolve host", "connection refused",
                                         "couldn't connect", "failed to connect", "timed out")):
            return "the Git server is not reachable: " + _last_line(stderr)
        return f"git {command} failed: " + _last_line(stderr)

    return explain


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no detail"


def _display(url: str) -> str:
    return url if "@" not in url else re.sub(r"//[^@/]*@", "//", url)
