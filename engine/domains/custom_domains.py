"""Custom domains: add, verify, redirect, remove (owner only), and the state users see.

A domain is proved by a TXT record at `_slipway.<hostname>` holding its verification value
(as Vercel and Netlify do), looked up when the user asks and, for domains still waiting,
every CHECK_EVERY by `check_waiting`. Once verified it stays verified, serves the project's
live release, and (HTTPS on) gets its certificate at once rather than at the first visit.
Adding a name reserves nothing: several projects may wait on one, and the first to prove it
holds it (the others' claims fail, saying so), so nobody can squat a name they do not control.

What users see as `status` joins what verification found with the certificate:
pending (no record yet), failed (a wrong record, or the certificate failed: `error` says),
verified (proved; its certificate on its way), active (served, over HTTPS when it is on).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg_pool import AsyncConnectionPool

from engine.config import Config
from engine.domains.dns_txt import LookupFailed, TxtLookup
from engine.domains.hostnames import normalized_hostname, under
from engine.domains.served_domains import ServedDomains
from engine.errors import Conflict, Invalid, NotFound
from engine.ownership import require_owned_project
from sql.database import OUTAGE_ERRORS
from sql.domains import (
    create_domain,
    delete_domain,
    domains_to_check,
    get_domain,
    list_domains,
    record_check,
    redirected_to,
    set_redirect,
)

log = logging.getLogger("slipway.domains")

VERIFY_PREFIX = "slipway-verify="
CHECK_EVERY = datetime.timedelta(minutes=1)
KEEP_CHECKING_FOR = datetime.timedelta(days=7)  # after that, only "Check now" checks
CHECKS_PER_ROUND = 50

# Gets a verified domain its certificate (HTTPS on); None when HTTPS is off.
Certify = Callable[[str], Awaitable[Any]] | None


class Domains:
    def __init__(self, pool: AsyncConnectionPool, config: Config, lookup: TxtLookup,
                 served: ServedDomains, certify: Certify = None) -> None:
        self.pool = pool
        self.config = config
        self.lookup = lookup
        self.served = served
        self.certify = certify
        self._background: set[asyncio.Task[Any]] = set()

    async def list(self, owner_id: int, project_id: int) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            await require_owned_project(conn, owner_id, project_id)
            return await list_domains(conn, project_id)

    async def add(self, owner_id: int, project_id: int, hostname: str,
                  redirect_to: str | None = None) -> dict[str, Any]:
        host = self._acceptable(hostname)
        token = VERIFY_PREFIX + secrets.token_urlsafe(18)
        async with self.pool.connection() as conn, conn.transaction():
            await require_owned_project(conn, owner_id, project_id)
            target = await self._redirect_target(conn, project_id, host, redirect_to)
            refused = await create_domain(conn, project_id, host, token, target)
            if refused == "here":
                raise Conflict(f"{host} is already one of this project's domains",
                               field="hostname")
            if refused:
                raise Conflict(f"{host} is already in use: another project verified it",
                               field="hostname")
            row = await get_domain(conn, project_id, host)
        log.info("domain %s added to project %d", host, project_id)
        return await self._checked(row)

    async def set_redirect(self, owner_id: int, project_id: int, hostname: str,
                           redirect_to: str | None) -> dict[str, Any]:
        host = hostname.lower()
        async with self.pool.connection() as conn, conn.transaction():
            row = await self._owned(conn, owner_id, project_id, host)
            target = await self._redirect_target(conn, project_id, host, redirect_to)
            if target is not None and await redirected_to(conn, project_id, host):
                raise Invalid(f"{host} cannot redirect: another domain redirects to it",
                              field="redirect_to")
            await set_redirect(conn, project_id, host, target)
            row = await get_domain(conn, project_id, host)
        await self.served.refresh()
        return row

    async def remove(self, owner_id: int, project_id: int, hostname: str) -> None:
        host = hostname.lower()
        async with self.pool.connection() as conn, conn.transaction():
            await require_owned_project(conn, owner_id, project_id)
            if not await delete_domain(conn, project_id, host):
                raise NotFound("no such domain")
        log.info("domain %s removed from project %d", host, project_id)
        await self.served.refresh()

    async def verify(self, owner_id: int, project_id: int, hostname: str) -> dict[str, Any]:
        """Look the TXT record up now (the dashboard's "Check now")."""
        async with self.pool.connection() as conn:
            row = await self._owned(conn, owner_id, project_id, hostname.lower())
        return await self._checked(row)

    async def check_waiting(self) -> None:
        """One round of the background checks of domains still waiting for their record."""
        now = datetime.datetime.now(datetime.UTC)
        async with self.pool.connection() as conn:
            rows = await domains_to_check(conn, now - CHECK_EVERY, now - KEEP_CHECKING_FOR,
                                          CHECKS_PER_ROUND)
        for row in rows:
            await self._checked(row)

    async def keep_checking(self) -> None:
        """`check_waiting` every CHECK_EVERY until cancelled."""
        while True:
            await asyncio.sleep(CHECK_EVERY.total_seconds())
            try:
                await self.check_waiting()
            except OUTAGE_ERRORS as exc:
                log.warning("custom domains not checked: %s", exc)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    # --- internals ---

    def _acceptable(self, hostname: str) -> str:
        host = normalized_hostname(hostname)
        if under(host, self.config.domain):
            raise Invalid(f"{host} is under {self.config.domain}, where Slipway names sites "
                          "itself: use the project's own address", field="hostname")
        if host == self.config.dashboard_host:
            raise Invalid(f"{host} is the dashboard's address", field="hostname")
        return host

    async def _owned(self, conn: Any, owner_id: int, project_id: int,
                     host: str) -> dict[str, Any]:
        await require_owned_project(conn, owner_id, project_id)
        row = await get_domain(conn, project_id, host)
        if row is None:
            raise NotFound("no such domain")
        return row

    async def _redirect_target(self, conn: Any, project_id: int, host: str,
                               redirect_to: str | None) -> str | None:
        if redirect_to is None or redirect_to == "":
            return None
        target = redirect_to.strip().lower().rstrip(".")
        if target == host:
            raise Invalid("a domain cannot redirect to itself", field="redirect_to")
        row = await get_domain(conn, project_id, target)
        if row is None:
            raise Invalid(f"redirect_to must be another domain of this project; add {target} "
                          "first", field="redirect_to")
        if row["redirect_to"] is not None:
            raise Invalid(f"{target} redirects to {row['redirect_to']} itself: redirect to "
                          f"{row['redirect_to']} instead", field="redirect_to")
        return target

    async def _checked(self, row: dict[str, Any]) -> dict[str, Any]:
        """Verify `row` unless it is already verified; the row as it is afterwards."""
        host = row["hostname"]
        if row["status"] != "verified":
            status, error = await self._look_up(host, row["verification_token"])
            async with self.pool.connection() as conn:
                status = await record_check(conn, row["id"], status, error)
                row = await get_domain(conn, row["project_id"], host) or row
            if status == "verified":
                log.info("domain %s verified", host)
                await self.served.refresh()
        if row["status"] == "verified" and self.certify is not None and (
                row["certificate_status"] != "issued"
                or _expired(row["certificate_expires_at"])):
            self._spawn(self._certify(host))
        return row

    async def _look_up(self, host: str, expected: str) -> tuple[str, str | None]:
        name = verification_name(host)
        try:
            values = await self.lookup.values(name)
        except LookupFailed as exc:
            return "pending", str(exc)
        if expected in values:
            return "verified", None
        if values:
            return "failed", (f"the TXT record at {name} holds {values[0]!r}, not the "
                              f"value shown here")
        return "pending", (f"no TXT record at {name} yet (new DNS records can take a few "
                           "minutes to appear)")

    async def _certify(self, host: str) -> None:
        assert self.certify is not None
        try:
            await self.certify(host)
        except Exception:
            log.exception("getting a certificate for %s", host)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def verification_name(host: str) -> str:
    return f"_slipway.{host}"


def _expired(when: datetime.datetime | None) -> bool:
    return when is None or when <= datetime.datetime.now(datetime.UTC)

