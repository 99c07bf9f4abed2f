"""Project names: DNS labels that become `<project>.<domain>`, with the words kept for Slipway.

One place for the rule, so the API that accepts names and the router that maps hosts to sites
can never disagree about what a project name is.
"""

from __future__ import annotations

import re

PROJECT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")

# Labels that name parts of Slipway itself (or that users would mistake for it), so a project
# can never take over the dashboard's or the API's host.
RESERVED_NAMES = frozenset({
    "admin", "api", "app", "assets", "auth", "cdn", "dashboard", "docs", "hooks", "localhost",
    "login", "mail", "slipway", "socket", "socket-io", "static", "status", "webhooks", "www",
})


def project_name_problem(name: str) -> str | None:
    """Why `name` cannot be a project name, or None when it can."""
    if not PROJECT_NAME.match(name):
        return (
            "must be 1 to 63 lowercase letters, digits or hyphens, "
            "starting and ending with a letter or digit"
        )
    if "--" in name:
        return "must not contain '--' (it separates preview names from project names)"
    if name in RESERVED_NAMES:
        return f"'{name}' is reserved"
    return None


def site_label(host_name: str, suffix: str) -> str | None:
    """The part of `host_name` before the domain suffix (`.example.com`), if it names a site."""
    host = host_name.lower().rstrip(".")
    if not host.endswith(suffix):
        return None
    label = host[: -len(suffix)]
    if not label or label.split(".")[-1] in RESERVED_NAMES:
        return None
    return label
