"""Which addresses a GitHub user's repository URL may lead a build to."""

from __future__ import annotations

import pytest

from engine.builds.repo_address import (
    AddressRefused,
    address_problem,
    check_public,
    trusted_hosts,
)


@pytest.mark.parametrize("address, problem", [
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("::ffff:127.0.0.1", "a loopback address"),
    ("169.254.169.254", "a link-local address"),
    ("fe80::1%2", "a link-local address"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.1", "a private address"),
    ("192.168.1.1", "a private address"),
    ("100.64.0.1", "a private address"),
    ("fd00::1", "a private address"),
    ("0.0.0.0", "a private address"),
    ("224.0.0.1", "a private address"),
    ("140.82.112.3", None),
    ("2606:4700::1111", None),
])
def test_only_public_addresses_are_allowed(address, problem):
    assert address_problem(address) == problem


def test_names_resolving_to_loopback_are_refused_before_any_connection():
    with pytest.raises(AddressRefused, match="resolves to a loopback address"):
        check_public("https://localhost:1/x.git", frozenset())
    with pytest.raises(AddressRefused, match="loopback"):
        check_public("https://2130706433/x.git", frozenset())  # 127.0.0.1 as one number


def test_the_configured_github_is_trusted_on_its_own_port_only():
    trusted = trusted_hosts("http://127.0.0.1:8123", "http://127.0.0.1:8123/api/v3")
    assert check_public("http://127.0.0.1:8123/ada/site.git", trusted) is None
    with pytest.raises(AddressRefused):
        check_public("https://127.0.0.1:8124/ada/site.git", trusted)


def test_a_public_address_is_pinned_for_git():
    pinned = check_public("https://140.82.112.3/ada/site.git", frozenset())
    assert pinned is not None
    assert pinned.curl_resolve() == "140.82.112.3:443:140.82.112.3"
