import os

import pytest

from engine.crypto import DecryptionError, Keys, SecretBox, derive_key


@pytest.fixture
def box():
    return SecretBox(os.urandom(32))


def test_sealed_values_open_in_their_own_context(box):
    nonce, ciphertext = box.seal("ghp_token", "secret", 7, "API_KEY")
    assert len(nonce) == 12
    assert b"ghp_token" not in ciphertext
    assert box.open_text(nonce, ciphertext, "secret", 7, "API_KEY") == "ghp_token"


def test_every_seal_uses_a_fresh_nonce(box):
    first, second = box.seal("same", "ctx"), box.seal("same", "ctx")
    assert first[0] != second[0]
    assert first[1] != second[1]


@pytest.mark.parametrize("context", [("secret", 8, "API_KEY"), ("secret", 7, "OTHER"),
                                     ("secret", 7), ("secret", "7API_KEY")])
def test_a_value_moved_to_another_project_or_name_does_not_open(box, context):
    nonce, ciphertext = box.seal("value", "secret", 7, "API_KEY")
    with pytest.raises(DecryptionError):
        box.open(nonce, ciphertext, *context)


def test_tampered_ciphertext_or_other_key_does_not_open(box):
    nonce, ciphertext = box.seal("value", "ctx")
    flipped = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    with pytest.raises(DecryptionError):
        box.open(nonce, flipped, "ctx")
    with pytest.raises(DecryptionError):
        SecretBox(os.urandom(32)).open(nonce, ciphertext, "ctx")


def test_each_purpose_gets_its_own_key():
    master = os.urandom(32)
    keys = {derive_key(master, p) for p in ("aes-256-gcm", "jwt-hs256", "signed-cookies")}
    assert len(keys) == 3
    assert master not in keys
    assert Keys.derive(master).jwt == derive_key(master, "jwt-hs256")
