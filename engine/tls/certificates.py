"""Certificates for the hosts Slipway serves: kept in PostgreSQL, issued over ACME when missing,
renewed 30 days before they expire.

Everything an instance learns is stored, so a restart or another instance reuses it: the ACME
account (one per directory URL), each host's certificate and key, and the HTTP-01 answers of
orders in flight (`acme_challenges`), which any instance's plain-HTTP port serves
(handlers.acme_challenge). Private keys are sealed with the instance key like every other
secret, bound to their row. A failure is recorded with the CA's reason (`status`), logged, and
not retried for RETRY_AFTER_FAILURE, so a broken DNS record cannot hammer the CA. Instances
sharing the database order a host's certificate one at a time (a PostgreSQL advisory lock).

Which hosts may have a certificate is the caller's decision (SPEC: never an arbitrary SNI name).
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.crypto import SecretBox
from engine.tls.acme_issuer import ORDER_SECONDS, AcmeAccount, IssuanceError, issue, new_key_pem
from sql.certificates import (
    delete_challenge,
    get_account,
    get_certificate,
    hold_issuance_lock,
    put_account,
    put_challenge,
    put_failure,
    put_issued,
    release_issuance_lock,
)

log = logging.getLogger("slipway.tls")

RENEW_BEFORE = datetime.timedelta(days=30)
RETRY_AFTER_FAILURE = datetime.timedelta(minutes=5)
CHALLENGE_PREFIX = "/.well-known/acme-challenge/"


@dataclass(frozen=True)
class AcmeSettings:
    directory_url: str
    email: str | None = None
    ca_bundle: str | None = None  # trusted for the directory's own TLS (tests: Pebble's)


@dataclass(frozen=True)
class Certificate:
    hostname: str
    key_pem: bytes
    chain_pem: bytes
    not_after: datetime.datetime

    def due(self, now: datetime.datetime) -> bool:
        """Whether it is time to renew it."""
        return self.not_after - RENEW_BEFORE <= now


class Certificates:
    """The store and the issuer of the instance's certificates."""

    def __init__(self, pool: AsyncConnectionPool, box: SecretBox, settings: AcmeSettings) -> None:
        self.pool = pool
        self.box = box
        self.settings = settings
        self._locks: dict[str, asyncio.Lock] = {}

    async def stored(self, hostname: str) -> Certificate | None:
        """The certificate stored for `hostname`, expired or not, or None."""
        async with self.pool.connection() as conn:
            row = await get_certificate(conn, hostname)
        if row is None or row["chain_pem"] is None:
            return None
        key = self.box.open(row["key_nonce"], row["key_ciphertext"], "tls-key", hostname)
        return Certificate(hostname, key, row["chain_pem"].encode(), row["not_after"])

    async def status(self, hostname: str) -> dict[str, Any] | None:
        """What users see: `{status, expires_at, error}`, or None when never asked for."""
        async with self.pool.connection() as conn:
            row = await get_certificate(conn, hostname)
        if row is None:
            return None
        return {"status": row["status"], "expires_at": row["not_after"], "error": row["error"]}

    async def ensure(self, hostname: str) -> Certificate | None:
        """A valid certificate for `hostname`: the stored one unless it is due for renewal,
        else a new one from the CA. On failure, the stored one if any (still valid, perhaps),
        else None; the failure is recorded either way."""
        lock = self._locks.setdefault(hostname, asyncio.Lock())
        async with lock:
            now = datetime.datetime.now(datetime.UTC)
            current = await self.stored(hostname)
            if current is not None and not current.due(now):
                return current
            async with self.pool.connection() as conn:
                row = await get_certificate(conn, hostname)
            if (row is not None and row["status"] == "failed"
                    and now - row["attempted_at"] < RETRY_AFTER_FAILURE):
                return current
            async with self.pool.connection() as conn:
                # Several instances: one orders, the others wait and then find its result.
                await hold_issuance_lock(conn, hostname)
                try:
                    latest = await self.stored(hostname)
                    if latest is not None and not latest.due(now):
                        return latest
                    return await self._issue(hostname, current)
                finally:
                    await release_issuance_lock(conn, hostname)

    async def _issue(self, hostname: str, current: Certificate | None) -> Certificate | None:
        loop = asyncio.get_running_loop()
        account = await self._account()
        started = time.monotonic()
        order = functools.partial(
            issue, self.settings.directory_url, account, [hostname],
            publish=lambda path, answer: self._blocking(loop, self._publish(path, answer)),
            withdraw=lambda path: self._blocking(loop, self._withdraw(path)),
            email=self.settings.email, ca_bundle=self.settings.ca_bundle)
        try:
            issued, registered = await loop.run_in_executor(None, order)
        except IssuanceError as exc:
            log.warning("no certificate for %s: %s", hostname, exc)
            async with self.pool.connection() as conn:
                await put_failure(conn, hostname, str(exc))
            return current
        if registered != account:
            await self._save_account(registered)
        nonce, ciphertext = self.box.seal(issued.key_pem, "tls-key", hostname)
        async with self.pool.connection() as conn:
            await put_issued(conn, hostname, nonce, ciphertext, issued.chain_pem.decode(),
                             issued.not_after)
        log.info("certificate for %s issued in %.1f s, valid until %s", hostname,
                 time.monotonic() - started, issued.not_after.isoformat(timespec="seconds"))
        return Certificate(hostname, issued.key_pem, issued.chain_pem, issued.not_after)

    async def _account(self) -> AcmeAccount:
        directory = self.settings.directory_url
        async with self.pool.connection() as conn:
            row = await get_account(conn, directory)
            if row is None:
                key = new_key_pem()
                nonce, ciphertext = self.box.seal(key, "acme-account", directory)
                await put_account(conn, directory, nonce, ciphertext, None)
                row = await get_account(conn, directory)  # another instance's, if it won
        key = self.box.open(row["key_nonce"], row["key_ciphertext"], "acme-account", directory)
        return AcmeAccount(key, row["account_url"])

    async def _save_account(self, account: AcmeAccount) -> None:
        directory = self.settings.directory_url
        nonce, ciphertext = self.box.seal(account.key_pem, "acme-account", directory)
        async with self.pool.connection() as conn:
            row = await get_account(conn, directory)
            if row is not None:  # keep the stored ciphertext: the row matches on it
                nonce, ciphertext = row["key_nonce"], row["key_ciphertext"]
            await put_account(conn, directory, nonce, ciphertext, account.url)

    async def _publish(self, path: str, answer: str) -> None:
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(
            seconds=2 * ORDER_SECONDS)
        async with self.pool.connection() as conn:
            await put_challenge(conn, _token(path), answer, expires)

    async def _withdraw(self, path: str) -> None:
        async with self.pool.connection() as conn:
            await delete_challenge(conn, _token(path))

    @staticmethod
    def _blocking(loop: asyncio.AbstractEventLoop, work: Any) -> None:
        """Run a coroutine on the IOLoop from the issuer's thread and wait for it."""
        asyncio.run_coroutine_threadsafe(work, loop).result(timeout=30)


def _token(path: str) -> str:
    if not path.startswith(CHALLENGE_PREFIX):
        raise IssuanceError(f"unexpected HTTP-01 path from the CA: {path!r}")
    return path[len(CHALLENGE_PREFIX):]
