"""Certificates from a real ACME CA: Debian's Pebble, validating over HTTP-01 on loopback.

Pebble resolves names through pebble-challtestsrv (every name → 127.0.0.1) and fetches each
challenge from a small HTTP server here that answers what the issuer publishes, as Slipway's
plain-HTTP port will.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.x509 import verification

from engine.tls.acme_issuer import AcmeAccount, IssuanceError, issue, new_key_pem
from tests.support import pebble as pebble_support


class ChallengeAnswers:
    """A plain-HTTP server answering the published key authorizations, and counting asks."""

    def __init__(self) -> None:
        self.answers: dict[str, str] = {}
        self.asked: list[tuple[str, str]] = []
        answers, asked = self.answers, self.asked

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                asked.append((self.headers.get("Host", ""), self.path))
                body = answers.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                if body is not None:
                    self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def publish(self, path: str, validation: str) -> None:
        self.answers[path] = validation

    def withdraw(self, path: str) -> None:
        self.answers.pop(path, None)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def answers() -> Iterator[ChallengeAnswers]:
    server = ChallengeAnswers()
    yield server
    server.close()


@pytest.fixture
def ca(tmp_path, answers) -> Iterator[pebble_support.Pebble]:
    with pebble_support.running(tmp_path / "pebble", http_port=answers.port) as pebble:
        yield pebble


def _issue(ca, answers, account, hostnames, publish=None):
    return issue(ca.directory_url, account, hostnames, publish=publish or answers.publish,
                 withdraw=answers.withdraw, email="ops@example.test",
                 ca_bundle=str(ca.directory_ca))


def test_a_certificate_is_issued_over_http01_and_chains_to_the_cas_root(ca, answers):
    issued, account = _issue(ca, answers, AcmeAccount(new_key_pem()), ["shop.example.test"])

    chain = x509.load_pem_x509_certificates(issued.chain_pem)
    root = x509.load_pem_x509_certificate(ca.issuing_root_pem().encode())
    verifier = (verification.PolicyBuilder().store(verification.Store([root]))
                .build_server_verifier(verification.DNSName("shop.example.test")))
    verifier.verify(chain[0], chain[1:])  # raises when the chain does not hold
    # The CA really fetched the challenge, by name, from the plain-HTTP port.
    assert any(host == f"shop.example.test:{answers.port}" for host, _ in answers.asked)
    assert all(path.startswith("/.well-known/acme-challenge/") for _, path in answers.asked)
    assert answers.answers == {}  # every token withdrawn
    assert account.url and account.url.startswith("https://127.0.0.1:")
    assert b"PRIVATE KEY" in issued.key_pem


def test_a_registered_account_is_reused_for_the_next_certificate(ca, answers):
    _, account = _issue(ca, answers, AcmeAccount(new_key_pem()), ["one.example.test"])
    issued, again = _issue(ca, answers, account, ["two.example.test", "www.two.example.test"])
    assert again == account
    names = x509.load_pem_x509_certificate(issued.chain_pem).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sorted(names) == ["two.example.test", "www.two.example.test"]


def test_a_failed_validation_says_why_and_withdraws_its_token(ca, answers):
    def wrong(path: str, validation: str) -> None:
        answers.publish(path, "not-the-key-authorization")

    with pytest.raises(IssuanceError, match=r"^broken\.example\.test: .*key authorization"):
        _issue(ca, answers, AcmeAccount(new_key_pem()), ["broken.example.test"], publish=wrong)
    assert answers.answers == {}


def test_an_unreachable_ca_is_a_clear_error(answers, tmp_path):
    with pytest.raises(IssuanceError, match="could not be reached"):
        issue(f"https://127.0.0.1:{pebble_support.free_port()}/dir",
              AcmeAccount(new_key_pem()), ["x.example.test"], publish=answers.publish,
              withdraw=answers.withdraw)
