"""GitHub deliveries: verify, decide, queue, record. Every delivery is visible afterwards.

A delivery names a repository; each project tracking it has its own webhook secret, and the
`X-Hub-Signature-256` HMAC of the raw body is checked against each in constant time. Projects
whose secret matches act on the delivery: a push to their branch builds it, a push to another
branch builds a preview, tags, empty pushes and deletions build nothing (a deleted branch's
preview is taken down), `[skip ci]` / `[skip deploy]` in every commit skips. A delivery GitHub
repeats (same `X-GitHub-Delivery`) is recorded as a duplicate and does nothing. Builds are only
queued here, so GitHub gets its answer at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.config import Config
from engine.crypto import DecryptionError, SecretBox
from engine.deploys.previews import branch_slug
from engine.deploys.releases import remove_preview
from engine.errors import Invalid, NotFound
from sql.deliveries import already_accepted, record_delivery, stored_delivery, tracking_projects

log = logging.getLogger(__name__)

ZERO_SHA = "0" * 40
SKIP_MARKERS = ("[skip ci]", "[ci skip]", "[skip deploy]", "[deploy skip]")


class SignatureRejected(Exception):
    """No tracking project's secret signs this delivery (the 401 case)."""


@dataclass
class Answer:
    status: int                      # 200 ping / duplicate, 202 queued, 204 nothing to do
    decisions: list[dict[str, Any]]  # one per project acted on


class GitHubDeliveries:
    def __init__(self, pool: AsyncConnectionPool, box: SecretBox, config: Config,
                 enqueue: Callable[..., Awaitable[dict[str, Any]]]) -> None:
        self.pool, self.box, self.config, self.enqueue = pool, box, config, enqueue

    async def receive(self, *, event: str, guid: str, signature: str, body: bytes) -> Answer:
        """Handle one delivery. Raises Invalid (400), NotFound (404), SignatureRejected (401)."""
        payload = _parse(body)
        repository = str((payload.get("repository") or {}).get("full_name") or "").lower()
        if not repository:
            raise Invalid("the delivery names no repository")
        async with self.pool.connection() as conn:
            projects = await tracking_projects(conn, repository)
        if not projects:
            raise NotFound(f"no project tracks {repository}")
        facts = _facts(event, payload)
        signed = [p for p in projects if self._signs(p, body, signature)]
        if not signed:
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
        payload = _parse(bytes(stored["body"]))
        repository = str(payload["repository"]["full_name"]).lower()
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
            removed = await asyncio.get_running_loop().run_in_executor(
                None, remove_preview, self.config.deployments_dir, project["name"], slug)
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
                conn, project["id"], guid=guid[:100], event=event[:100], repository=repository,
                ref=facts.get("ref"), commit_sha=facts.get("after"), signature_valid=valid,
                decision=decision, body=body if valid else None)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise Invalid("the delivery is not valid JSON") from None
    if not isinstance(payload, dict):
        raise Invalid("the delivery is not a JSON object")
    return payload


def _facts(event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What a decision needs from a delivery, tolerant of missing or odd members."""
    head = payload.get("head_commit") if isinstance(payload.get("head_commit"), dict) else {}
    commits = payload.get("commits") if isinstance(payload.get("commits"), list) else []
    after = payload.get("after")
    after = after if isinstance(after, str) and len(after) == 40 else None
    author = head.get("author") if isinstance(head.get("author"), dict) else {}
    name, email = author.get("name"), author.get("email")
    return {
        "ref": payload.get("ref") if isinstance(payload.get("ref"), str) else None,
        "after": after.lower() if after else None,
        "deleted": payload.get("deleted") is True,
        "commits": [str(c.get("message", "")) for c in commits if isinstance(c, dict)],
        "message": str(head.get("message") or "")[:1000] or None,
        "author": f"{name} <{email}>"[:200] if name else None,
    }


def _answer(decisions: list[dict[str, Any]]) -> Answer:
    if any(d["build_id"] for d in decisions):
        return Answer(202, decisions)
    if any(d["decision"] in ("ping", "duplicate") for d in decisions):
        return Answer(200, decisions)
    return Answer(204, decisions)
