"""Where the `slipway` command finds its server and token.

`SLIPWAY_URL` and `SLIPWAY_TOKEN` win (a CI job sets them as secrets and never writes a file);
else `slipway login` has saved both in `$XDG_CONFIG_HOME/slipway/config.json` (by default
`~/.config/slipway/config.json`), created 0600 in a 0700 directory since the token deploys.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class NotConfigured(Exception):
    """No server or token: the message says how to give them."""


@dataclass(frozen=True)
class Settings:
    url: str
    token: str


def config_file(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "slipway" / "config.json"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    saved: dict[str, str] = {}
    path = config_file(environ)
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise NotConfigured(f"{path} cannot be read ({exc}); run slipway login again") \
                from None
    url, token = environ.get("SLIPWAY_URL"), environ.get("SLIPWAY_TOKEN")
    saved_url = (saved.get("url") or "").rstrip("/")
    # A token only ever goes to the server it was given for: the variables come as a pair,
    # or one of them with the saved half that belongs to it.
    if url and not token:
        if url.rstrip("/") != saved_url:
            raise NotConfigured("SLIPWAY_URL is set but SLIPWAY_TOKEN is not (and no token "
                                "was saved for that server with slipway login)")
        token = saved.get("token")
    elif token and not url:
        raise NotConfigured("SLIPWAY_TOKEN is set but SLIPWAY_URL is not: set both")
    elif not url:
        url, token = saved_url, saved.get("token")
    if not url or not token:
        raise NotConfigured("not signed in: run `slipway login --url URL --token TOKEN`, or "
                            "set SLIPWAY_URL and SLIPWAY_TOKEN")
    return Settings(check_url(url), token)


def check_url(url: str) -> str:
    """The server's address without a trailing slash; NotConfigured unless it is http(s)."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise NotConfigured(f"{url!r} is not a URL: give the dashboard's address with "
                            "http:// or https://")
    return url


def save_settings(settings: Settings, environ: Mapping[str, str] | None = None) -> Path:
    path = config_file(environ)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"url": settings.url, "token": settings.token}, out)
    os.replace(temporary, path)
    return path


def forget_settings(environ: Mapping[str, str] | None = None) -> bool:
    path = config_file(environ)
    if not path.exists():
        return False
    path.unlink()
    return True
