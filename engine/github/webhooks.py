"""GitHub deliveries: verify, decide, queue, record. Every delivery is visible afterwards.

A delivery names a repository; each project tracking it has its own webhook secret, and the
`X-Hub-Signature-256` HMAC of the raw body is checked against each in constant time. Projects
whose secret matches act on the delivery: a push to their branch builds it, a push to another
branch builds a preview, tags, empty pushes and deletions build nothing (a deleted branch's
preview is taken down), `[skip ci]` / `[skip deploy]` in every commit skips. A delivery GitHub
repeats (same `X-GitHub-Delivery`) is recorded as a duplicate and does nothing. Builds are only
queued here, so GitHub gets its answer at once.

Anyone can send a delivery naming a repository, so rejected ones are rate-limited per repository
(`RejectionLimiter`) and kept apart from valid ones in the inbox (see sql.deliveries): a flood
of forged deliveries never pushes out one that can be redelivered. A delivery whose members do
not have GitHub's types, or whose id is longer than can be stored, is refused (Invalid) before
anything is recorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.config import Config
from engine.crypto import DecryptionError, SecretBox
from engine.deploys.previews import branch_slug
from engine.errors import Invalid, NotFound
from sql.deliveries import (
    MAX_EVENT_LENGTH,
    MAX_GUID_LENGTH,
    already_accepted,
    record_delivery,
    stored_delivery,
    tracking_projects,
)

log = logging.getLogger(__name__)

ZERO_SHA = "0" * 40
SKIP_MARKERS = ("[skip ci]", "[ci skip]", "[skip deploy]", "[deploy skip]")
COMMIT_SHA = re.compile(r"[0-9a-fA-F]{40}(?:[0-9a-fA-F]{24})?")  # SHA-1, or SHA-256 repositories


class SignatureRejected(Exception):
    """No tracking project's secret signs this delivery (the 401 case)."""


class TooManyRejections(Exception):
    """Too many rejected deliveries named this repository lately (the 429 case); this one was
    not recorded. `retry_after` is in whole seconds."""

    def __init__(self, repository: str, retry_after: int) -> None:
        super().__init__(f"too many deliveries with a bad signature for {repository}")
        self.retry_after = retry_after


class RejectionLimiter:
    """A token bucket per repository for rejected deliveries: `burst` at once, then one every
    `interval` seconds. Only repositories some project tracks get a bucket, so the table stays
    as small as the set of tracked repositories. Per process: several web processes each allow
    as much, which still bounds what a flood records."""

    def __init__(self, burst: int = 30, interval: float = 2.0) -> None:
        self.burst, self.interval = burst, interval
        self._buckets: dict[str, tuple[float, float]] = {}  # repository -> (tokens, at)

    def take(self, repository: str) -> float:
        """Spend a token: 0 when one was left, else the seconds until the next one."""
        now = time.monotonic()
        tokens, at = self._buckets.get(repository, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) / self.interval)
        if tokens < 1:
            self._buckets[repository] = (tokens, now)
            return (1 - tokens) * self.interval
        self._buckets[repository] = (tokens - 1, now)
        return 0.0


@dataclass
class Answer:
    status: int                      # 200 ping / duplicate, 202 queued, 204 nothing to do
    decisions: list[dict[str, Any]]  # one per project acted on


class GitHubDeliveries:
    def __init__(self, pool: AsyncConnectionPool, box: SecretBox, config: Config,
                 enqueue: Callable[..., Awaitable[dict[str, Any]]],
                 remove_preview: Callable[[int, str, str], Awaitable[bool]]) -> None:
        self.pool, self.box, self.config, self.enqueue = pool, box, config, enqueue
        self.remove_preview = remove_preview  # (project id, name, slug): the deployer's
        self.rejections = RejectionLimiter()
        # GitHub retries a delivery it thinks failed, sometimes while the first is still being
        # handled: one delivery id of one project is decided one at a time, so the second
        # finds the first recorded and builds nothing. (Per process.)
        self._deciding: dict[tuple[int, str], tuple[asyncio.Lock, int]] = {}  # lock, users

    async def receive(self, *, event: str, guid: str, signature: str, body: bytes,
                      payload: Any) -> Answer:
        """Handle one delivery: `body` as received, which the signature is over, and `payload`,
        the same body decoded (the API's strict JSON: no NaN, NUL or lone surrogate).
        Raises Invalid (400), NotFound (404), SignatureRejected (401), TooManyRejections (429).
        """
        if len(guid) > MAX_GUID_LENGTH:
            # Stored cut, it would never equal itself on the next delivery: refused instead.
            raise Invalid(f"the delivery id is longer than {MAX_GUID_LENGTH} characters",
                          field="X-GitHub-Delivery")
        if len(event) > MAX_EVENT_LENGTH:
            raise Invalid(f"the event name is longer than {MAX_EVENT_LENGTH} characters",
                          field="X-GitHub-Event")
        if not isinstance(payload, dict):
            raise Invalid("the delivery is not a JSON object")
        repository = _repository(payload)
        facts = _facts(event, payload)
        async with self.pool.connection() as conn:
            projects = await tracking_projects(conn, repository)
        if not projects:
            raise NotFound(f"no project tracks {repository}")
        signed = [p for p in projects if self._signs(p, body, signature)]
        if not signed:
            wait = self.rejections.take(repository)
            if wait:
                raise TooManyRejections(repository, math.ceil(wait))
            reason = "rejected: missing signature" if not signature else "rejected: bad signature"
            for project in projects:
                await self._record(project, guid, event, repository, facts, False, reason, None)
            raise SignatureRejected(reason)
        decisions = []
        for project in signed:
            decisions.append(await self._act(project, guid, event, repository, facts, body,
                                             replay=False))
        return _answer(decisions)

    async def redeliver(self, owner_id: int, delivery_id: int) -> Answer:
        """Replay a stored, validly signed delivery for its project (no duplicate check)."""
        async with self.pool.connection() as conn:
            stored = await stored_delivery(conn, owner_id, delivery_id)
        if stored is None:
            raise NotFound("no such delivery")
        if stored["body"] is None:
            raise Invalid("only validly signed deliveries can be redelivered")
        # Stored only after `receive` checked it, so its shape is GitHub's.
        payload = json.loads(bytes(stored["body"]))
        repository = _repository(payload)
        async with self.pool.connection() as conn:
            projects = [p for p in await tracking_projects(conn, repository)
                        if p["id"] == stored["project_id"]]
        if not projects:
            raise NotFound("the project no longer tracks this repository")
        decision = await self._act(projects[0], stored["delivery_guid"], stored["event"],
                                   repository, _facts(stored["event"], payload),
                                   bytes(stored["body"]), replay=True)
        return _answer([decision])

    def _signs(self, project: dict[str, Any], body: bytes, signature: str) -> bool:
        if not signature or project["webhook_secret_ciphertext"] is None:
            return False
        try:
            secret = self.box.open(project["webhook_secret_nonce"],
                                   project["webhook_secret_ciphertext"], "webhook-secret",
                                   project["id"])
        except DecryptionError:
            return False
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        # compare_digest takes ASCII strings of any length; bytes avoid a TypeError on others.
        return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))

    async def _act(self, project: dict[str, Any], guid: str, event: str, repository: str,
                   facts: dict[str, Any], body: bytes, *, replay: bool) -> dict[str, Any]:
        key = (project["id"], guid)
        lock, users = self._deciding.get(key, (asyncio.Lock(), 0))
        self._deciding[key] = (lock, users + 1)
        try:
            async with lock:
                return await self._act_once(project, guid, event, repository, facts, body,
                                            replay=replay)
        finally:
            lock, users = self._deciding[key]
            if users == 1:
                del self._deciding[key]
            else:
                self._deciding[key] = (lock, users - 1)

    async def _act_once(self, project: dict[str, Any], guid: str, event: str, repository: str,
                        facts: dict[str, Any], body: bytes, *, replay: bool) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            duplicate = not replay and await already_accepted(conn, project["id"], guid)
        if duplicate:
            decision, build = "duplicate", None
        else:
            decision, build = await self._decide(project, event, facts)
        row = await self._record(project, guid, event, repository, facts, True, decision, body)
        log.info("delivery %s (%s) for project %s: %s", guid, event, project["name"], decision)
        return {"project_id": project["id"], "delivery_id": row["id"], "decision": decision,
                "build_id": build["id"] if build else None}

    async def _decide(self, project: dict[str, Any],
                      event: str, facts: dict[str, Any]) -> tuple[str, dict | None]:
        if event == "ping":
            return "ping", None
        if event != "push":
            return f"ignored: event {event}", None
        ref = facts["ref"] or ""
        if ref.startswith("refs/tags/"):
            return "ignored: tag", None
        if not ref.startswith("refs/heads/"):
            return f"ignored: ref {ref}", None
        branch = ref[len("refs/heads/"):]
        if facts["deleted"] or facts["after"] == ZERO_SHA:
            if branch == project["branch"]:
                return "ignored: the tracked branch was deleted", None
            slug = branch_slug(branch, project["name"])
            removed = await self.remove_preview(project["id"], project["name"], slug)
            return ("preview removed: " if removed else "ignored: deleted ") + branch, None
        if not facts["commits"]:
            return "ignored: no commits", None
        if all(any(m in message.lower() for m in SKIP_MARKERS) for message in facts["commits"]):
            return "skipped: skip marker in every commit", None
        preview = None if branch == project["branch"] else branch_slug(branch, project["name"])
        build = await self.enqueue(project["id"], trigger="push", branch=branch,
                                   commit_sha=facts["after"], commit_message=facts["message"],
                                   commit_author=facts["author"], preview=preview)
        if preview:
            return f"preview #{build['id']} of {branch}", build
        return f"built #{build['id']}", build

    async def _record(self, project: dict[str, Any], guid: str, event: str, repository: str,
                      facts: dict[str, Any], valid: bool, decision: str,
                      body: bytes | None) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            return await record_delivery(
                conn, project["id"], guid=guid, event=event, repository=repository,
                ref=facts.get("ref"), commit_sha=facts.get("after"), signature_valid=valid,
                decision=decision, body=body if valid else None)


def _repository(payload: dict[str, Any]) -> str:
    """The `owner/name` a delivery is about, lower case as projects store it."""
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, dict) else None
    if not isinstance(name, str) or not name:
        raise Invalid("the delivery names no repository (repository.full_name)",
                      field="repository")
    return name.lower()


def _facts(event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What a decision needs from a delivery. A push's members must have the types GitHub
    sends (Invalid, naming the member, otherwise); other events build nothing, so of them only
    a string `ref` is kept for the inbox."""
    ref = payload.get("ref")
    if event != "push":
        return {"ref": ref if isinstance(ref, str) else None, "after": None, "deleted": False,
                "commits": [], "message": None, "author": None}
    ref = _member(payload, "ref", str, required=True)
    after = _member(payload, "after", str, required=True)
    if not COMMIT_SHA.fullmatch(after):
        raise Invalid("after must be a commit hash", field="after")
    commits = []
    for commit in _member(payload, "commits", list) or []:
        if not isinstance(commit, dict):
            raise Invalid("each of commits must be an object", field="commits")
        commits.append(_member(commit, "message", str, where="commits[].") or "")
    head = _member(payload, "head_commit", dict) or {}
    author = _member(head, "author", dict, where="head_commit.") or {}
    name = _member(author, "name", str, where="head_commit.author.")
    email = _member(author, "email", str, where="head_commit.author.")
    return {
        "ref": ref,
        "after": after.lower(),
        "deleted": _member(payload, "deleted", bool) is True,
        "commits": commits,
        "message": (_member(head, "message", str, where="head_commit.") or "")[:1000] or None,
        "author": f"{name} <{email}>"[:200] if name else None,
    }


def _member(parent: dict[str, Any], name: str, kind: type, *, required: bool = False,
            where: str = "") -> Any:
    """`parent[name]` if it is a `kind` (None when absent or null, unless `required`), else
    Invalid naming it by its path (`where` is the path of `parent`)."""
    value = parent.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind):
        raise Invalid(f"{where}{name} must be {_KINDS[kind]}", field=f"{where}{name}")
    return value


_KINDS = {str: "a string", list: "an array", dict: "an object", bool: "true or false"}


def _answer(decisions: list[dict[str, Any]]) -> Answer:
    if any(d["build_id"] for d in decisions):
        return Answer(202, decisions)
    if any(d["decision"] in ("ping", "duplicate") for d in decisions):
        return Answer(200, decisions)
    return Answer(204, decisions)
