from __future__ import annotations

import base64
import os
import stat

import pytest

from ait_connectors.crypto import Cipher, aad, generate_key, load_cipher
from ait_connectors.errors import ConfigurationError, EncryptionError
from ait_connectors.settings import Settings


def key() -> bytes:
    return bytes.fromhex(generate_key())


def test_round_trip_and_nonce_uniqueness() -> None:
    cipher = Cipher(key())
    a = cipher.encrypt("s3cret", aad=aad("t", "c", "1"))
    b = cipher.encrypt("s3cret", aad=aad("t", "c", "1"))
    assert a != b  # fresh nonce each time
    assert "s3cret" not in a
    assert cipher.decrypt(a, aad=aad("t", "c", "1")) == "s3cret"


def test_wrong_key_fails_clearly() -> None:
    token = Cipher(key()).encrypt("x", aad="t.c:1")
    with pytest.raises(EncryptionError, match="AIT_ENCRYPTION_OLD_KEYS"):
        Cipher(key()).decrypt(token, aad="t.c:1")


def test_tampered_ciphertext_fails() -> None:
    cipher = Cipher(key())
    token = cipher.encrypt("value", aad="t.c:1")
    blob = bytearray(base64.urlsafe_b64decode(token[3:]))
    blob[-1] ^= 1
    tampered = "v1." + base64.urlsafe_b64encode(bytes(blob)).decode()
    with pytest.raises(EncryptionError, match="altered"):
        cipher.decrypt(tampered, aad="t.c:1")
    with pytest.raises(EncryptionError, match="not an ait-connectors ciphertext"):
        cipher.decrypt("plain", aad="t.c:1")
    with pytest.raises(EncryptionError, match="truncated"):
        cipher.decrypt("v1.AAAA", aad="t.c:1")


def test_ciphertext_bound_to_row_and_column() -> None:
    cipher = Cipher(key())
    token = cipher.encrypt("value", aad=aad("oauth_tokens", "access_token", "cfg/u1"))
    with pytest.raises(EncryptionError):
        cipher.decrypt(token, aad=aad("oauth_tokens", "access_token", "cfg/u2"))
    with pytest.raises(EncryptionError):
        cipher.decrypt(token, aad=aad("oauth_tokens", "refresh_token", "cfg/u1"))


def test_old_keys_decrypt_and_is_current() -> None:
    old, new = key(), key()
    token = Cipher(old).encrypt("v", aad="a")
    rotated = Cipher(new, [old])
    assert rotated.decrypt(token, aad="a") == "v"
    assert not rotated.is_current(token)
    assert rotated.is_current(rotated.encrypt("v", aad="a"))


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, "0" * 63, "0" * 66])
def test_bad_key_names_variable_and_fix(bad: str) -> None:
    settings = Settings(encryption_key=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError) as info:
        load_cipher(settings)
    assert "AIT_ENCRYPTION_KEY" in str(info.value)
    assert "ait-connectors keys generate" in str(info.value)
    assert bad not in str(info.value) or len(bad) < 8


def test_bad_old_key_is_named() -> None:
    settings = Settings(encryption_key=generate_key(), encryption_old_keys="nothex")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="AIT_ENCRYPTION_OLD_KEYS"):
        load_cipher(settings)


def test_postgres_without_key_is_an_error() -> None:
    settings = Settings(database_url="postgresql://u@localhost/db")
    with pytest.raises(ConfigurationError, match="AIT_ENCRYPTION_KEY is not set"):
        load_cipher(settings)


def test_embedded_default_generates_key_once(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "d")
    with caplog.at_level("WARNING"):
        first = load_cipher(settings)
    path = tmp_path / "d" / "encryption.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "generated" in caplog.text
    key_text = path.read_text().strip()
    assert key_text not in caplog.text
    second = load_cipher(settings)
    token = first.encrypt("x", aad="a")
    assert second.decrypt(token, aad="a") == "x"
    assert repr(first).count(key_text) == 0
