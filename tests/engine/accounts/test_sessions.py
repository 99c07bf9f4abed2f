import base64
import json
import os
import time

import jwt
import pytest

from engine.accounts.sessions import issue_session_token, read_session_token

KEY = os.urandom(32)
USER = {"id": 42, "token_version": 3}


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_fresh_token_names_the_user_and_version():
    assert read_session_token(KEY, issue_session_token(KEY, USER, 60)) == (42, 3)


def test_the_subject_is_the_numeric_user_id():
    claims = jwt.decode(issue_session_token(KEY, USER, 60), KEY, algorithms=["HS256"])
    assert claims["sub"] == "42"
    assert claims["exp"] - claims["iat"] == 60


def test_expired_token_is_refused():
    now = int(time.time())
    token = jwt.encode({"sub": "42", "ver": 3, "exp": now - 1}, KEY, algorithm="HS256")
    assert read_session_token(KEY, token) is None


def test_token_signed_with_another_key_is_refused():
    assert read_session_token(KEY, issue_session_token(os.urandom(32), USER, 60)) is None


def test_unsigned_alg_none_token_is_refused():
    claims = {"sub": "42", "ver": 3, "exp": int(time.time()) + 60}
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert read_session_token(KEY, token) is None


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_algorithms_are_refused_even_with_the_right_key():
    claims = {"sub": "42", "ver": 3, "exp": int(time.time()) + 60}
    assert read_session_token(KEY, jwt.encode(claims, KEY, algorithm="HS512")) is None


@pytest.mark.parametrize("claims", [{"sub": "42", "exp": 9999999999},
                                    {"sub": "abc", "ver": 1, "exp": 9999999999},
                                    {"ver": 1, "exp": 9999999999},
                                    {"sub": "42", "ver": 1}])
def test_tokens_missing_or_bending_claims_are_refused(claims):
    assert read_session_token(KEY, jwt.encode(claims, KEY, algorithm="HS256")) is None


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x"])
def test_garbage_is_refused(garbage):
    assert read_session_token(KEY, garbage) is None
