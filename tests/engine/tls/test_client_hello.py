"""The server name read from real ClientHellos, as Python's own TLS client writes them."""

from __future__ import annotations

import ssl

import pytest

from engine.tls.client_hello import Incomplete, server_name


def _client_hello(hostname: str | None) -> bytes:
    """The first bytes a TLS client sends, captured from a memory BIO."""
    context = ssl.create_default_context()
    context.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname=hostname)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize("hostname", ["shop.example.test", "42--shop.localhost",
                                      "git-feature-x--shop.sites.example.com"])
def test_the_name_a_client_asks_for_is_read(hostname):
    assert server_name(_client_hello(hostname)) == hostname


def test_names_are_lower_cased_without_a_trailing_dot():
    assert server_name(_client_hello("Shop.Example.TEST.")) == "shop.example.test"


def test_a_hello_without_a_name_names_none():
    assert server_name(_client_hello(None)) is None


def test_a_prefix_of_a_hello_asks_for_more():
    hello = _client_hello("shop.example.test")
    for cut in (0, 3, 5, len(hello) // 2, len(hello) - 1):
        with pytest.raises(Incomplete):
            server_name(hello[:cut])


@pytest.mark.parametrize("data", [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\x04abcd",
                                  b"\x16\x03\x01\x00\x30" + b"\x01" + b"\xff" * 47])
def test_what_is_not_a_client_hello_names_none(data):
    assert server_name(data) is None
