"""The scanner every API answer goes through must itself be able to fail."""

import pytest

from tests.support import leaks


def test_a_forbidden_value_in_an_answer_fails_the_test(github):
    leaks.forbid("s3cret-value")
    with pytest.raises(AssertionError, match="a secret value reached a client"):
        leaks.check("http://127.0.0.1:1/api/me", "", b'{"value": "s3cret-value"}')
    with pytest.raises(AssertionError):
        leaks.check("http://127.0.0.1:1/api/me", "X-Token: s3cret-value", b"{}")
    leaks.check("http://127.0.0.1:1/api/me", "", b'{"value": "***"}')


def test_fake_github_tokens_are_forbidden_but_its_own_answers_are_exempt(github):
    user = github.add_user("ada")
    with pytest.raises(AssertionError):
        leaks.check("http://127.0.0.1:1/api/me", "", user.token.encode())
    leaks.check(github.url + "/login/oauth/access_token", "", user.token.encode())
