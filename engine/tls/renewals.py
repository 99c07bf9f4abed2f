"""Renewal ahead of need: every CHECK_EVERY, certificates expiring within RENEW_BEFORE are
renewed, so no visitor waits for a renewal, including on a site nobody visits for a month.
Certificates of hosts no longer served are left to expire."""

from __future__ import annotations

import asyncio
import datetime
import logging

from engine.tls.certificates import RENEW_BEFORE, Certificates
from engine.tls.tls_contexts import Allowed
from sql.certificates import certificates_due
from sql.database import OUTAGE_ERRORS

log = logging.getLogger("slipway.tls")

CHECK_EVERY = datetime.timedelta(hours=12)
FIRST_CHECK_SECONDS = 60.0  # after start, once the server is up and answering challenges


async def renew_due(certificates: Certificates, allowed: Allowed) -> int:
    """Renew what is due; how many certificates were looked at."""
    soon = datetime.datetime.now(datetime.UTC) + RENEW_BEFORE
    async with certificates.pool.connection() as conn:
        hosts = await certificates_due(conn, soon)
    for host in hosts:
        if await allowed(host):
            await certificates.ensure(host)
    return len(hosts)


async def keep_renewing(certificates: Certificates, allowed: Allowed) -> None:
    """`renew_due` shortly after start and then every CHECK_EVERY, until cancelled."""
    await asyncio.sleep(FIRST_CHECK_SECONDS)
    while True:
        try:
            await renew_due(certificates, allowed)
        except OUTAGE_ERRORS as exc:
            log.warning("certificate renewals not checked: %s", exc)
        except Exception:
            log.exception("checking certificate renewals")
        await asyncio.sleep(CHECK_EVERY.total_seconds())
