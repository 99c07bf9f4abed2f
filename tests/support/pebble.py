"""Let's Encrypt's test CA, for real: Debian's `pebble` and `pebble-challtestsrv` on 127.0.0.1.

`Pebble.start(tmp_path, http_port=...)` runs challtestsrv as the DNS server Pebble resolves
through (A records default to 127.0.0.1; `add_a`, `add_txt` set others) and Pebble itself,
whose HTTP-01 validations dial `http_port` on the address a name resolves to: Slipway's plain
HTTP port in the tests. Pebble's directory is served over TLS with a certificate of a small CA
made here (`directory_ca`, for SLIPWAY_ACME_CA_BUNDLE); the roots Pebble issues under are
regenerated at each start and fetched from its management interface (`issuing_root_pem`).

Needs /usr/bin/pebble (Debian: apt-get install pebble); tests skip without it unless
SLIPWAY_NO_SKIP is set.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"
CHALLTESTSRV = shutil.which("pebble-challtestsrv") or "/usr/bin/pebble-challtestsrv"


def available() -> bool:
    return os.access(PEBBLE, os.X_OK) and os.access(CHALLTESTSRV, os.X_OK)


@contextlib.contextmanager
def running(workdir: Path, *, http_port: int) -> Iterator[Pebble]:
    """Pebble for one test (skipped when it is not installed), stopped afterwards."""
    if not available():
        pytest.skip("pebble is not installed (Debian: apt-get install pebble)")
    pebble = Pebble.start(workdir, http_port=http_port)
    try:
        yield pebble
    finally:
        pebble.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """`count` different free ports: each is held until all are picked, as the kernel may
    otherwise hand the same just-closed port out twice."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Pebble:
    directory_url: str
    directory_ca: Path  # the CA of the directory's own TLS certificate
    management_url: str
    dns_management_url: str
    dns_address: str  # host:port of challtestsrv's DNS server
    processes: list[subprocess.Popen] = field(default_factory=list)

    @classmethod
    def start(cls, workdir: Path, *, http_port: int, tls_port: int | None = None) -> Pebble:
        workdir.mkdir(parents=True, exist_ok=True)
        ca, cert, key = _directory_certificates(workdir)
        dns_port, dns_management, listen, management, spare_tls = free_ports(5)
        config = workdir / "pebble-config.json"
        config.write_text(json.dumps({"pebble": {
            "listenAddress": f"127.0.0.1:{listen}",
            "managementListenAddress": f"127.0.0.1:{management}",
            "certificate": str(cert), "privateKey": str(key),
            "httpPort": http_port, "tlsPort": tls_port or spare_tls,
            "ocspResponderURL": "", "externalAccountBindingRequired": False,
        }}))
        log = (workdir / "pebble.log").open("ab")
        pebble = cls(f"https://127.0.0.1:{listen}/dir", ca, f"https://127.0.0.1:{management}",
                     f"http://127.0.0.1:{dns_management}", f"127.0.0.1:{dns_port}")
        pebble.processes.append(subprocess.Popen(
            [CHALLTESTSRV, "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", f"127.0.0.1:{dns_management}",
             "-defaultIPv6", ""], stdout=log, stderr=log))
        # No artificial delays and no rejected nonces; a valid authorization is always reused
        # (Let's Encrypt reuses them for 30 days), so renewals meet that case every time.
        environment = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0",
                       "PEBBLE_AUTHZREUSE": "100"}
        pebble.processes.append(subprocess.Popen(
            [PEBBLE, "-config", str(config), "-dnsserver", pebble.dns_address],
            stdout=log, stderr=log, env=environment))
        try:
            pebble._wait_until_up(workdir)
        except BaseException:
            pebble.stop()
            raise
        return pebble

    def _wait_until_up(self, workdir: Path) -> None:
        deadline = time.monotonic() + 20
        while True:
            try:
                self.issuing_root_pem()
                self._dns("set-default-ipv4", {"ip": "127.0.0.1"})
                return
            except OSError:
                if time.monotonic() > deadline or any(p.poll() is not None
                                                      for p in self.processes):
                    log = (workdir / "pebble.log").read_text(errors="replace")
                    raise RuntimeError(f"pebble did not start:\n{log[-3000:]}") from None
                time.sleep(0.1)

    def issuing_root_pem(self) -> str:
        """The root the certificates Pebble issues chain to (new at every start)."""
        context = ssl.create_default_context(cafile=str(self.directory_ca))
        with urllib.request.urlopen(f"{self.management_url}/roots/0",  # noqa: S310
                                    context=context, timeout=5) as answer:
            return answer.read().decode()

    def add_a(self, host: str, address: str = "127.0.0.1") -> None:
        self._dns("add-a", {"host": _fqdn(host), "addresses": [address]})

    def add_txt(self, name: str, value: str) -> None:
        self._dns("set-txt", {"host": _fqdn(name), "value": value})

    def clear_txt(self, name: str) -> None:
        self._dns("clear-txt", {"host": _fqdn(name)})

    def _dns(self, endpoint: str, body: dict) -> None:
        request = urllib.request.Request(  # noqa: S310 - the harness's own http:// URL
            f"{self.dns_management_url}/{endpoint}", data=json.dumps(body).encode(),
            method="POST")
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            pass

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def _directory_certificates(workdir: Path) -> tuple[Path, Path, Path]:
    """A CA and, signed by it, a certificate for 127.0.0.1 and localhost: Pebble's directory."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Slipway tests: Pebble's "
                                                                 "directory CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (workdir / "directory-ca.pem", workdir / "directory-cert.pem",
             workdir / "directory-key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths
