"""Sending queued notification deliveries, with retries, from a task on the IOLoop.

Deliveries are rows, so nothing queued is lost on restart, and several instances can share
the work: each claims due rows with `FOR UPDATE SKIP LOCKED` and leases them for longer than
a send can take, so a delivery is sent by one instance at a time, and one whose sender died
is taken over when its lease runs out. A 2xx answer is delivered; anything else (another
status, a timeout, a refused connection) is retried after the next of `retry_delays`, and
once they are used up the delivery is failed. Every attempt's status and error is recorded
for the delivery log. A build never waits for any of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from psycopg_pool import AsyncConnectionPool
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from engine import __version__
from engine.crypto import DecryptionError, SecretBox
from engine.notifications.notifications import SECRET_CONTEXT
from engine.notifications.signing import SIGNATURE_HEADER, signature
from engine.notifications.targets import PublicOnlyResolver
from sql.database import OUTAGE_ERRORS
from sql.notifications import claim_due, record_attempt, seconds_until_due

log = logging.getLogger(__name__)

# After the 1st, 2nd... failed attempt; six attempts in all over about two and a half hours.
RETRY_DELAYS: tuple[float, ...] = (10, 60, 300, 1800, 7200)
TIMEOUT_SECONDS = 10.0
LEASE_SECONDS = 60.0  # well past a send's timeout
MAX_IN_FLIGHT = 50  # deliveries being sent at once by one instance
POLL_SECONDS = 15.0  # how often to look for deliveries other instances queued
MAX_ERROR_LENGTH = 300


class DeliveryWorker:
    def __init__(self, pool: AsyncConnectionPool, box: SecretBox, *,
                 retry_delays: Sequence[float] = RETRY_DELAYS,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        self.pool, self.box = pool, box
        self.retry_delays, self.timeout = tuple(retry_delays), timeout
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        # The local administrator may notify any address; everyone else's deliveries connect
        # only to public addresses, checked as the connection is made.
        self._any_address = AsyncHTTPClient(force_instance=True)
        self._public_only = AsyncHTTPClient(force_instance=True, resolver=PublicOnlyResolver())

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Send due deliveries until cancelled."""
        while True:
            self._wake.clear()
            try:
                wait = await self.deliver_due()
            except OUTAGE_ERRORS as exc:
                log.warning("notification deliveries not sent (database unavailable: %s)", exc)
                wait = POLL_SECONDS
            except Exception:
                log.exception("notification deliveries not sent")
                wait = POLL_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def deliver_due(self) -> float:
        """Start sending every due delivery, each in a task of its own (a target that hangs
        for its whole timeout holds up no other); the seconds until the next one is due (at
        most a poll)."""
        while len(self._in_flight) < MAX_IN_FLIGHT:
            async with self.pool.connection() as conn:
                claimed = await claim_due(conn, MAX_IN_FLIGHT - len(self._in_flight),
                                          LEASE_SECONDS)
            if not claimed:
                break
            for delivery in claimed:
                task = asyncio.get_running_loop().create_task(self._attempt(delivery))
                self._in_flight.add(task)
                task.add_done_callback(self._sent)
        async with self.pool.connection() as conn:
            due_in = await seconds_until_due(conn)
        return POLL_SECONDS if due_in is None else min(due_in, POLL_SECONDS)

    async def close(self) -> None:
        """Stop sending: a delivery cut off here is sent again once its lease runs out."""
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        self._any_address.close()
        self._public_only.close()

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a notification delivery was not recorded: %s", task.exception())
        self._wake.set()  # room for another, and a retry may now be due soonest

    async def _attempt(self, delivery: dict[str, Any]) -> None:
        status, error = await self._send(delivery)
        if status is not None and 200 <= status < 300:
            outcome, retry_in = "delivered", None
        elif error == _UNREADABLE or delivery["attempts"] >= len(self.retry_delays):
            outcome, retry_in = "failed", None
        else:
            outcome, retry_in = "pending", self.retry_delays[delivery["attempts"]]
        if error is None and outcome != "delivered":
            error = f"answered HTTP {status}"
        log.info("notification %s: delivery %s (%s) %s", delivery["notification_id"],
                 delivery["id"], delivery["event"], error or "delivered")
        async with self.pool.connection() as conn:
            await record_attempt(conn, delivery["id"], status=outcome, retry_in=retry_in,
                                 response_status=status, error=error)

    async def _send(self, delivery: dict[str, Any]) -> tuple[int | None, str | None]:
        """POST the stored body: (the answer's status, None) or (None, why it failed)."""
        body = bytes(delivery["body"])
        headers = {"Content-Type": "application/json", "User-Agent": f"Slipway/{__version__}",
                   "X-Slipway-Event": delivery["event"],
                   "X-Slipway-Delivery": str(delivery["id"])}
        if delivery["secret_ciphertext"] is not None:
            try:
                secret = self.box.open_text(delivery["secret_nonce"],
                                            delivery["secret_ciphertext"], SECRET_CONTEXT,
                                            delivery["notification_id"])
            except DecryptionError:
                return None, _UNREADABLE
            headers[SIGNATURE_HEADER] = signature(secret, body)
        client = self._any_address if delivery["is_local_admin"] else self._public_only
        request = HTTPRequest(delivery["url"], method="POST", body=body, headers=headers,
                              connect_timeout=self.timeout, request_timeout=self.timeout,
                              follow_redirects=False,
                              streaming_callback=lambda _chunk: None)  # the answer is unread
        try:
            response = await client.fetch(request, raise_error=False)
        except HTTPClientError as exc:  # timeouts (599)
            return None, _describe(exc.message or str(exc))
        except Exception as exc:  # refused connections, TLS, an address refused
            return None, _describe(str(exc) or type(exc).__name__)
        return response.code, None


_UNREADABLE = "the signing secret could not be decrypted (was SLIPWAY_SECRET_KEY changed?)"


def _describe(error: str) -> str:
    return error[:MAX_ERROR_LENGTH]
