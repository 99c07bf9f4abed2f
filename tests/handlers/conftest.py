"""Fixtures shared by the handler tests."""

import pytest

from tests.support.accounts import sign_in_local_admin


@pytest.fixture
def owner(app_server, api, io_loop):
    """The local administrator, signed in."""
    return io_loop.run_sync(lambda: sign_in_local_admin(app_server, api))
