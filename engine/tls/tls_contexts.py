"""The TLS side of HTTPS: one `ssl.SSLContext` per host name, prepared before the handshake.

`prepare(name)` runs before a connection's handshake (the server reads the name from the
ClientHello, engine.tls.client_hello): a name the caller allows gets its stored certificate, or
one issued there and then (on-demand, as Caddy does; a few seconds once per name). The SNI
callback then only picks the prepared context. A name that is not allowed, or whose
certificate could not be obtained, gets none: the handshake fails with `unrecognized_name`,
and nothing is ever requested from the CA for it (SPEC: never for an arbitrary SNI name).

`ssl` loads certificates from files only, so each key passes through a file of its own, mode
0600 in a 0700 directory, removed as soon as it is loaded.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import ssl
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from engine.tls.certificates import Certificate, Certificates

log = logging.getLogger("slipway.tls")

PREPARE_SECONDS = 60  # how long a handshake may wait for a certificate to be issued

Allowed = Callable[[str], Awaitable[bool]]


class TLSContexts:
    def __init__(self, certificates: Certificates, allowed: Allowed, scratch_dir: Path) -> None:
        self.certificates = certificates
        self.allowed = allowed
        self.scratch_dir = scratch_dir
        self._contexts: dict[str, tuple[ssl.SSLContext, Certificate]] = {}
        self.default_context = _server_context()
        self.default_context.sni_callback = self._choose

    async def prepare(self, name: str) -> bool:
        """Make `name`'s certificate ready for the handshake; False when it has none."""
        now = datetime.datetime.now(datetime.UTC)
        ready = self._contexts.get(name)
        if ready is not None and not ready[1].due(now):
            return True
        if not await self.allowed(name):
            return False
        try:
            certificate = await asyncio.wait_for(self.certificates.ensure(name),
                                                 PREPARE_SECONDS)
        except TimeoutError:
            log.warning("no certificate for %s within %d s; the handshake goes without",
                        name, PREPARE_SECONDS)
            return ready is not None
        if certificate is None or certificate.not_after <= now:
            return False
        if ready is None or ready[1].chain_pem != certificate.chain_pem:
            self._contexts[name] = (self._context(certificate), certificate)
        return True

    def _choose(self, connection: ssl.SSLObject, name: str | None,
                _context: ssl.SSLContext) -> int | None:
        ready = self._contexts.get((name or "").lower().rstrip("."))
        if ready is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        connection.context = ready[0]
        return None

    def _context(self, certificate: Certificate) -> ssl.SSLContext:
        context = _server_context()
        self.scratch_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.scratch_dir, 0o700)
        descriptor, path = tempfile.mkstemp(dir=self.scratch_dir, suffix=".pem")
        try:
            with os.fdopen(descriptor, "wb") as pem:
                pem.write(certificate.key_pem + b"\n" + certificate.chain_pem)
            context.load_cert_chain(path)
        finally:
            os.unlink(path)
        return context


def _server_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context
