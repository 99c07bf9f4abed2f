"""TXT lookups for domain verification, through SLIPWAY_DNS_RESOLVER or the system's
resolvers (dnspython; tests point it at pebble-challtestsrv)."""

from __future__ import annotations

import dns.asyncresolver
import dns.exception
import dns.resolver

LOOKUP_SECONDS = 5.0


class LookupFailed(Exception):
    """DNS did not answer the question (a timeout, no nameserver): try again later."""


class TxtLookup:
    def __init__(self, server: tuple[str, int] | None) -> None:
        self.server = server

    def _resolver(self) -> dns.asyncresolver.Resolver:
        try:
            resolver = dns.asyncresolver.Resolver(configure=self.server is None)
        except dns.resolver.NoResolverConfiguration:
            raise LookupFailed("this machine has no DNS resolver configured; set "
                               "SLIPWAY_DNS_RESOLVER") from None
        if self.server is not None:
            resolver.nameservers = [self.server[0]]
            resolver.port = self.server[1]
        resolver.lifetime = LOOKUP_SECONDS
        # A fresh answer each time: the user just created the record and clicked "Check".
        resolver.cache = None
        return resolver

    async def values(self, name: str) -> list[str]:
        """The TXT strings at `name` ([] when there are none), each record's parts joined."""
        try:
            answer = await self._resolver().resolve(name, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.resolver.NoNameservers as exc:
            raise LookupFailed(f"no DNS server answered for {name}: {exc.msg}") from None
        except dns.exception.Timeout:
            raise LookupFailed(f"DNS lookup of {name} timed out") from None
        except dns.exception.DNSException as exc:
            raise LookupFailed(f"DNS lookup of {name} failed: {exc}") from None
        return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]
