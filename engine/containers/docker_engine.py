"""The connection to the Docker engine, and a plain-words account of why it is unreachable.

The Docker SDK negotiates the API version when a client is created, so creating one is already
the reachability check. Its errors nest several library exceptions deep; users get the root
cause ("No such file or directory", "Connection refused") next to the address that was tried.
"""

from __future__ import annotations

import docker
from docker.errors import DockerException
from requests.exceptions import RequestException, Timeout

PING_TIMEOUT_SECONDS = 3


class DockerUnavailable(Exception):
    """The engine could not be reached; the message says where and why."""


def connect_docker(docker_host: str, timeout: float = 60) -> docker.DockerClient:
    """A client for the engine at `docker_host`, or DockerUnavailable with the reason."""
    try:
        client = docker.DockerClient(base_url=docker_host, timeout=timeout)
        client.ping()
    except (DockerException, RequestException, OSError) as exc:
        reason = f"no answer within {timeout:g} s" if _is_timeout(exc) else root_cause(exc)
        raise DockerUnavailable(f"Docker engine not reachable at {docker_host}: {reason}") from exc
    return client


def docker_status(docker_host: str) -> str:
    """'ok' when the engine answers a ping, else the reason it does not. Blocking."""
    try:
        connect_docker(docker_host, timeout=PING_TIMEOUT_SECONDS).close()
    except DockerUnavailable as exc:
        return str(exc)
    return "ok"


def root_cause(exc: BaseException) -> str:
    """The innermost operating-system reason behind a chain of wrapped exceptions."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        for nested in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(nested, BaseException):
                pending.append(nested)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__



def _is_timeout(exc: BaseException) -> bool:
    # The SDK wraps a read timeout during version negotiation in a plain DockerException.
    chain = (exc, exc.__cause__, exc.__context__)
    return any(isinstance(e, (Timeout, TimeoutError)) for e in chain)
