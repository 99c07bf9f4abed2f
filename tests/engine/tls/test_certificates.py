"""The instance's certificates, end to end against Pebble: the CA validates over HTTP-01 by
fetching the challenge from Slipway's own plain-HTTP port (every name resolves to 127.0.0.1
through pebble-challtestsrv), and what is issued is kept in PostgreSQL for restarts.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator

import psycopg
import pytest
from cryptography import x509
from cryptography.x509 import verification

from engine.tls.certificates import AcmeSettings, Certificates
from engine.tls.renewals import renew_due
from tests.support import pebble as pebble_support
from tests.support.http import ApiClient


@pytest.fixture
def ca(tmp_path, app_server) -> Iterator[pebble_support.Pebble]:
    with pebble_support.running(tmp_path / "pebble", http_port=app_server.port) as pebble:
        yield pebble


@pytest.fixture
def certificates(app_server, ca) -> Certificates:
    return _certificates(app_server, ca)


def _certificates(app_server, ca) -> Certificates:
    app = app_server.app
    return Certificates(app.db.pool, app.keys.box,
                        AcmeSettings(ca.directory_url, "ops@example.test", str(ca.directory_ca)))


def _verify(ca, chain_pem: bytes, hostname: str) -> x509.Certificate:
    chain = x509.load_pem_x509_certificates(chain_pem)
    root = x509.load_pem_x509_certificate(ca.issuing_root_pem().encode())
    (verification.PolicyBuilder().store(verification.Store([root]))
     .build_server_verifier(verification.DNSName(hostname)).verify(chain[0], chain[1:]))
    return chain[0]


@pytest.mark.gen_test(timeout=60)
async def test_a_certificate_is_issued_through_slipways_http_port_and_stored_sealed(
        certificates, ca, db_url):
    issued = await certificates.ensure("shop.example.test")

    assert issued is not None
    _verify(ca, issued.chain_pem, "shop.example.test")
    assert await certificates.status("shop.example.test") == {
        "status": "issued", "expires_at": issued.not_after, "error": None}
    with psycopg.connect(db_url) as conn:
        key, = conn.execute("SELECT key_ciphertext FROM certificates").fetchone()
        account_key, = conn.execute("SELECT key_ciphertext FROM acme_accounts").fetchone()
        challenges, = conn.execute("SELECT count(*) FROM acme_challenges").fetchone()
    assert b"PRIVATE KEY" not in bytes(key) and b"PRIVATE KEY" not in bytes(account_key)
    assert challenges == 0  # withdrawn once validated


@pytest.mark.gen_test(timeout=60)
async def test_a_stored_certificate_is_reused_by_the_next_instance(certificates, app_server, ca):
    first = await certificates.ensure("blog.example.test")
    again = await certificates.ensure("blog.example.test")
    restarted = await _certificates(app_server, ca).ensure("blog.example.test")
    assert first.chain_pem == again.chain_pem == restarted.chain_pem


@pytest.mark.gen_test(timeout=60)
async def test_a_certificate_near_expiry_is_renewed(certificates, ca, db_url):
    old = await certificates.ensure("docs.example.test")
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=10)
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE certificates SET not_after = %s", (soon,))

    renewed = await certificates.ensure("docs.example.test")

    assert renewed.chain_pem != old.chain_pem
    assert renewed.not_after > soon + datetime.timedelta(days=30)
    _verify(ca, renewed.chain_pem, "docs.example.test")
    assert (await certificates.stored("docs.example.test")).chain_pem == renewed.chain_pem


@pytest.mark.gen_test(timeout=90)
async def test_due_certificates_are_renewed_ahead_of_any_visit_for_served_hosts_only(
        certificates, db_url):
    kept = await certificates.ensure("kept.example.test")
    dropped = await certificates.ensure("dropped.example.test")
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=10)
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE certificates SET not_after = %s", (soon,))

    async def allowed(name: str) -> bool:
        return name == "kept.example.test"

    assert await renew_due(certificates, allowed) == 2
    assert (await certificates.stored("kept.example.test")).chain_pem != kept.chain_pem
    assert (await certificates.stored("dropped.example.test")).chain_pem == dropped.chain_pem


@pytest.mark.gen_test(timeout=90)
async def test_instances_asking_at_once_share_one_certificate(app_server, ca, db_url):
    first, second = _certificates(app_server, ca), _certificates(app_server, ca)
    a, b = await asyncio.gather(first.ensure("race.example.test"),
                                second.ensure("race.example.test"))
    assert a.chain_pem == b.chain_pem  # the second waited for the first's order


@pytest.mark.gen_test(timeout=60)
async def test_a_failed_validation_is_recorded_with_the_reason_and_not_retried_at_once(
        certificates, ca, db_url):
    ca.add_a("broken.example.test", "127.0.0.2")  # nothing of Slipway's listens there

    assert await certificates.ensure("broken.example.test") is None

    status = await certificates.status("broken.example.test")
    assert status["status"] == "failed" and status["expires_at"] is None
    assert status["error"].startswith("broken.example.test: ")
    assert "127.0.0.2" in status["error"]
    with psycopg.connect(db_url) as conn:
        attempted, = conn.execute("SELECT attempted_at FROM certificates").fetchone()
    assert await certificates.ensure("broken.example.test") is None
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT attempted_at FROM certificates").fetchone()[0] == attempted


@pytest.mark.gen_test
async def test_an_unknown_challenge_token_is_a_404_on_every_host(app_server):
    client = ApiClient(app_server.url)
    try:
        for host in ("127.0.0.1", "shop.localhost", "anything.example.test"):
            answer = await client.get("/.well-known/acme-challenge/abcDEF123_-",
                                      headers={"Host": host})
            assert answer.status == 404, host
            assert answer.headers["Cache-Control"] == "no-store"
    finally:
        client.close()
