"""What a custom domain's host name may be, in one place for the API and the router."""

from __future__ import annotations

import ipaddress
import re

from engine.errors import Invalid

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TOP_LEVEL = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


def normalized_hostname(raw: str) -> str:
    """`raw` as stored: lower case, no trailing dot, no scheme; a bare host name or Invalid."""
    host = raw.strip().lower().rstrip(".")
    if "://" in host or "/" in host or ":" in host:
        raise Invalid("hostname must be a bare host name such as www.example.com, without "
                      "scheme, port or path", field="hostname")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise Invalid("hostname must be a domain name, not an IP address", field="hostname")
    labels = host.split(".")
    if (len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(p) for p in labels)
            or not _TOP_LEVEL.match(labels[-1])):
        raise Invalid("hostname must be a domain name such as www.example.com (letters, "
                      "digits and hyphens; international names in their xn-- form)",
                      field="hostname")
    if labels[0] == "_slipway" or "*" in host:
        raise Invalid("hostname must name one host", field="hostname")
    return host


def under(host: str, domain: str) -> bool:
    """Whether `host` is `domain` or one of its subdomains."""
    return host == domain or host.endswith("." + domain)
