"""`python server.py` with SLIPWAY_HTTPS=on against a real Pebble, as a user would run it on
a server: plain HTTP on one port (Pebble's HTTP-01 validations dial it), HTTPS on another,
the dashboard at https://dashboard.example.test and sites under sites.example.test. Every
name resolves to 127.0.0.1 in Pebble's DNS (challtestsrv), which is also the
SLIPWAY_DNS_RESOLVER custom domains are verified through. Builds fail at once (no Docker
engine at DOCKER_HOST): sites are published by the tests themselves.

`request` talks to the HTTPS port with the SNI name of the host asked for, trusting only
Pebble's issuing root, so a certificate that does not chain to it fails the test.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.pebble import Pebble
from tests.support.server_process import ROOT, ServerProcess, free_port

DASHBOARD = "dashboard.example.test"
DOMAIN = "sites.example.test"
START_SECONDS = 90


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    certificate: dict[str, Any] = field(default_factory=dict)  # the peer's, as ssl decodes it

    def json(self) -> Any:
        return json.loads(self.body)


class HttpsSlipway:
    def __init__(self, workdir: Path, db_url: str, pebble: Pebble, http_port: int,
                 extra_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.extra_env = extra_env or {}
        self.db_url = db_url
        self.pebble = pebble
        self.http_port = http_port
        self.https_port = free_port()
        self.deployments_dir = workdir / "sites"
        self.server: ServerProcess | None = None
        self.token: str | None = None

    @property
    def dashboard_url(self) -> str:
        return f"https://{DASHBOARD}:{self.https_port}"

    def start(self) -> None:
        self.server = ServerProcess(self.workdir, port=self.http_port, env=self.environment())
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if self.request("GET", DASHBOARD, "/api/health").status == 200:
                    break
            except OSError:
                pass
            if self.server.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not come up:\n{self.server.output()}")
            time.sleep(0.2)

    def environment(self) -> dict[str, str]:
        """The server's settings, as a user would export them."""
        host, port = self.pebble.dns_address.rsplit(":", 1)
        return {
            "SLIPWAY_HTTPS": "on",
            "SLIPWAY_HTTPS_PORT": str(self.https_port),
            "SLIPWAY_PUBLIC_URL": self.dashboard_url,
            "SLIPWAY_DOMAIN": DOMAIN,
            "SLIPWAY_DATA_DIR": str(self.workdir / "data"),
            "SLIPWAY_DEPLOYMENTS_DIR": str(self.deployments_dir),
            "DATABASE_URL": self.db_url,
            "SLIPWAY_ACME_DIRECTORY": self.pebble.directory_url,
            "SLIPWAY_ACME_CA_BUNDLE": str(self.pebble.directory_ca),
            "SLIPWAY_ACME_EMAIL": "ops@example.test",
            "SLIPWAY_DNS_RESOLVER": f"{host}:{port}",
            "DOCKER_HOST": f"unix://{self.workdir}/no-docker.sock",
            **self.extra_env,
        }

    def stop(self) -> int:
        assert self.server is not None
        code = self.server.stop()
        self.server = None
        return code

    def output(self) -> str:
        return self.server.output() if self.server else ""

    def trust(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.pebble.issuing_root_pem())

    def request(self, method: str, host: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> Answer:
        """A request over HTTPS to `host` (SNI and Host), answered by the HTTPS port."""
        context = self.trust()
        raw = socket.create_connection(("127.0.0.1", self.https_port), timeout=60)
        wrapped = context.wrap_socket(raw, server_hostname=host)
        connection = http.client.HTTPSConnection(host, self.https_port, context=context,
                                                 timeout=60)
        connection.sock = wrapped
        sent = dict(headers or {})
        if self.token and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=payload, headers=sent)
            answer = connection.getresponse()
            return Answer(answer.status, answer.headers, answer.read(),
                          wrapped.getpeercert() or {})
        finally:
            connection.close()

    def plain(self, host: str, path: str) -> Answer:
        """A request to the plain-HTTP port."""
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        try:
            connection.request("GET", path, headers={"Host": host})
            answer = connection.getresponse()
            return Answer(answer.status, answer.headers, answer.read())
        finally:
            connection.close()

    def sign_in(self) -> None:
        """Sign in as the local administrator with the link the server printed."""
        deadline = time.monotonic() + 30
        while not (found := re.search(r"/login#code=(\S+)", self.output())):
            if time.monotonic() > deadline:
                raise AssertionError(f"no sign-in link printed:\n{self.output()}")
            time.sleep(0.1)
        answer = self.request("POST", DASHBOARD, "/api/auth/session", {"code": found[1]})
        assert answer.status == 200, answer.body
        self.token = answer.json()["token"]

    def fresh_sign_in_link(self) -> str:
        """Another one-time link, from `server.py login-link` beside the running server."""
        environment = {k: v for k, v in os.environ.items()
                       if not k.startswith(("SLIPWAY_", "DATABASE_URL", "GITHUB_"))}
        result = subprocess.run([sys.executable, str(ROOT / "server.py"), "login-link"],
                                env={**environment, **self.environment()}, cwd=self.workdir,
                                capture_output=True, text=True, timeout=60, check=True)
        found = re.search(r"(https://\S+/login#code=\S+)", result.stdout)
        assert found, result.stdout + result.stderr
        return found[1]


def subject_names(certificate: dict[str, Any]) -> list[str]:
    return [value for kind, value in certificate.get("subjectAltName", ()) if kind == "DNS"]
