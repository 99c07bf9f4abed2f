"""The connection to the Docker engine, and a plain-words account of why it is unreachable.

The Docker SDK negotiates the API version when a client is created, so creating one is already
the reachability check. Its errors nest several library exceptions deep; users get the root
cause ("No such file or directory", "Connection refused") next to the address that was tried.
"""

from __future__ import annotations

import asyncio

import docker
from docker.errors import DockerException, NotFound
from requests.exceptions import RequestException, Timeout

PING_TIMEOUT_SECONDS = 3
# Networks every engine has (`bridge` only when dockerd runs with a bridge, so it is checked).
BUILT_IN_NETWORKS = {"none", "host"}


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


def docker_status(docker_host: str, network: str | None = None) -> str:
    """'ok' when the engine answers a ping (and has the build network), else the reason it
    does not. Blocking."""
    try:
        client = connect_docker(docker_host, timeout=PING_TIMEOUT_SECONDS)
    except DockerUnavailable as exc:
        return str(exc)
    try:
        if network and network not in BUILT_IN_NETWORKS:
            client.networks.get(network)
    except NotFound:
        return (f"the Docker engine has no network {network!r} (SLIPWAY_BUILD_NETWORK): "
                "builds will fail until it exists")
    except (DockerException, RequestException) as exc:
        return f"Docker engine at {docker_host} did not answer: {root_cause(exc)}"
    finally:
        client.close()
    return "ok"


class EngineStatus:
    """The engine's state as `docker_status` gives it, cached a few seconds: a health check
    asked by a load balancer many times a second must not open a client each time. One
    refresh runs at a time; callers during it share its answer."""

    def __init__(self, docker_host: str, network: str | None, ttl: float = 5.0) -> None:
        self.docker_host, self.network, self.ttl = docker_host, network, ttl
        self._value: str | None = None
        self._at = 0.0
        self._refresh: asyncio.Future[str] | None = None

    async def get(self) -> str:
        loop = asyncio.get_running_loop()
        if self._value is not None and loop.time() - self._at < self.ttl:
            return self._value
        if self._refresh is None:
            self._refresh = asyncio.ensure_future(
                loop.run_in_executor(None, docker_status, self.docker_host, self.network))
            try:
                self._value = await self._refresh
                self._at = loop.time()
            finally:
                self._refresh = None
            return self._value
        return await asyncio.shield(self._refresh)


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
