"""A project's notifications, as the API manages them, and the queuing of their messages.

A notification is a URL, the events it wants and a format. A JSON notification gets a signing
secret at creation (or when switched to JSON), returned once in that answer and stored sealed;
Slack and Discord URLs carry their own credential and are not signed. Queuing renders one body
per subscribed notification and stores it; `DeliveryWorker` sends it.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.crypto import SecretBox
from engine.errors import Invalid, NotFound
from engine.notifications.formats import EVENTS, FORMATS, TEST_EVENT, Message, render
from engine.notifications.signing import new_secret
from engine.notifications.targets import check_public_url, check_url
from engine.ownership import require_owned_project
from engine.times import iso_time
from sql.notifications import (
    add_delivery,
    create_notification,
    delete_notification,
    get_delivery,
    get_notification,
    list_deliveries,
    list_notifications,
    message_context,
    set_secret,
    subscribed,
    update_notification,
)

log = logging.getLogger(__name__)

# Sealed secrets are bound to this and the notification's id.
SECRET_CONTEXT = "notification-secret"  # noqa: S105 - a label, not a secret


class Notifications:
    def __init__(self, pool: AsyncConnectionPool, box: SecretBox, public_url: str,
                 wake: Callable[[], None]) -> None:
        self.pool, self.box, self.public_url = pool, box, public_url
        self.wake = wake  # tells the delivery worker something was queued

    async def list(self, owner_id: int, project_id: int) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            return await list_notifications(conn, project_id)

    async def create(self, owner: dict[str, Any], project_id: int,
                     body: dict[str, Any]) -> dict[str, Any]:
        """A new notification; with format json its `secret` is in this answer only."""
        url = check_url(body["url"])
        events, format = check_events(body["events"]), check_format(body.get("format", "json"))
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner["id"], project_id)
        if not owner["is_local_admin"]:
            await check_public_url(url)
        async with self.pool.connection() as conn, conn.transaction():
            row = await create_notification(conn, project_id, url, events, format)
            secret = await self._keep_secret(conn, row["id"], format == "json")
        log.info("project %s: notification %s added (%s)", project_id, row["id"], format)
        return {**row, "signed": secret is not None, "secret": secret, "full_url": url}

    async def update(self, owner: dict[str, Any], project_id: int, notification_id: int,
                     body: dict[str, Any]) -> dict[str, Any]:
        """Change url, events or format. Switching to json makes a secret, returned once;
        switching away forgets it. The full URL is in the answer only if it was changed."""
        async with self.pool.connection() as conn:
            current = await self._owned(conn, owner["id"], project_id, notification_id)
        url = check_url(body["url"]) if "url" in body else current["url"]
        events = check_events(body["events"]) if "events" in body else current["events"]
        format = check_format(body["format"]) if "format" in body else current["format"]
        if "url" in body and not owner["is_local_admin"]:
            await check_public_url(url)
        async with self.pool.connection() as conn, conn.transaction():
            row = await update_notification(conn, notification_id, url=url, events=events,
                                            format=format)
            secret = None
            if (format == "json") != current["signed"]:
                secret = await self._keep_secret(conn, notification_id, format == "json")
        # What the request itself named may be shown back; a URL it left alone may not.
        answer = {**row, "signed": format == "json", "secret": secret}
        return {**answer, "full_url": url} if "url" in body else answer

    async def delete(self, owner_id: int, project_id: int, notification_id: int) -> None:
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            if not await delete_notification(conn, project_id, notification_id):
                raise NotFound("no such notification")

    async def deliveries(self, owner_id: int, project_id: int, notification_id: int,
                         limit: int) -> list[dict[str, Any]]:
        """The notification's delivery log, newest first."""
        async with self.pool.connection() as conn:
            await self._owned(conn, owner_id, project_id, notification_id)
            return await list_deliveries(conn, notification_id, limit)

    async def send_test(self, owner_id: int, project_id: int,
                        notification_id: int) -> dict[str, Any]:
        """Queue a `test` message about the project's latest build, whatever the events."""
        async with self.pool.connection() as conn:
            await self._owned(conn, owner_id, project_id, notification_id)
        [delivery_id] = await self.notify(project_id, TEST_EVENT, only=notification_id)
        async with self.pool.connection() as conn:
            return await get_delivery(conn, delivery_id)

    async def notify(self, project_id: int, event: str, *, build_id: int | None = None,
                     deployment: dict[str, Any] | None = None,
                     only: int | None = None) -> list[int]:
        """Queue `event` for every notification of the project that wants it (or for the
        one named `only`); the ids of the deliveries queued."""
        async with self.pool.connection() as conn:
            targets = await subscribed(conn, project_id, event, only)
            if not targets:
                return []
            context = await message_context(conn, project_id, build_id)
            if context is None:
                return []
            message = self._message(event, context, deployment)
            async with conn.transaction():
                queued = [await add_delivery(conn, target["id"], event,
                                             render(target["format"], message))
                          for target in targets]
        self.wake()
        return queued

    # --- internals ---

    async def _owned(self, conn: Any, owner_id: int, project_id: int,
                     notification_id: int) -> dict[str, Any]:
        await require_owned_project(conn, owner_id, project_id)
        row = await get_notification(conn, project_id, notification_id)
        if row is None:
            raise NotFound("no such notification")
        return row

    async def _keep_secret(self, conn: Any, notification_id: int, wanted: bool) -> str | None:
        """Store a fresh sealed secret (returned, to be shown once), or clear it."""
        if not wanted:
            await set_secret(conn, notification_id, None, None)
            return None
        secret = new_secret()
        nonce, ciphertext = self.box.seal(secret, SECRET_CONTEXT, notification_id)
        await set_secret(conn, notification_id, nonce, ciphertext)
        return secret

    def _message(self, event: str, context: dict[str, Any],
                 deployment: dict[str, Any] | None) -> Message:
        build = None
        if context["build_id"] is not None:
            # A deployment goes live just before its build is recorded as passed.
            status = "passed" if event == "deploy_succeeded" else context["status"]
            build = {"id": context["build_id"], "status": status,
                     "branch": context["branch"], "commit_sha": context["commit_sha"],
                     "trigger": context["trigger"], "error": context["error"]}
        page = (f"{self.public_url}/builds/{build['id']}" if build
                else f"{self.public_url}/projects/{context['project_id']}")
        return Message(
            event=event,
            project={"id": context["project_id"], "name": context["project_name"]},
            build=build,
            deployment=deployment,
            url=page,
            created_at=iso_time(datetime.datetime.now(datetime.UTC)) or "",
        )


def check_events(events: Any) -> list[str]:
    """A non-empty list of known events, each once, in the canonical order."""
    if not isinstance(events, list) or not events:
        raise Invalid("events must be a non-empty array of: " + ", ".join(EVENTS),
                      field="events")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise Invalid(f"events has an unknown event {str(unknown[0])[:50]!r}; known: "
                      + ", ".join(EVENTS), field="events")
    return [e for e in EVENTS if e in events]


def check_format(format: Any) -> str:
    if format not in FORMATS:
        raise Invalid("format must be one of: " + ", ".join(FORMATS), field="format")
    return format
