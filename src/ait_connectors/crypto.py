"""AES-256-GCM encryption of secrets at rest, bound to their column and row.

A ciphertext is ``v1.<base64url(key id ‖ nonce ‖ ciphertext+tag)>``. The key id (4 bytes of a hash
of the key) picks the key among the current and old ones, so ``keys rotate`` can find what still
uses an old key. The associated data names the table, column and row, so a ciphertext copied into
another row or column fails to decrypt instead of handing out someone else's secret.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ConfigurationError, EncryptionError
from .settings import KEY_HELP, Settings

__all__ = ["Cipher", "aad", "generate_key", "load_cipher"]

logger = logging.getLogger(__name__)

_PREFIX = "v1."
_NONCE = 12
_KEY_ID = 4
KEY_FILE_NAME = "encryption.key"


def generate_key() -> str:
    """A new random key: 64 hex characters."""
    return secrets.token_hex(32)


def aad(table: str, column: str, row: str) -> str:
    """Associated data binding a ciphertext to one column of one row."""
    return f"{table}.{column}:{row}"


def parse_key(value: str, variable: str) -> bytes:
    value = value.strip()
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(value) != 64 or len(raw) != 32:
        raise ConfigurationError(
            f"{variable} must be 64 hexadecimal characters (32 bytes); "
            f"got {len(value)} characters. {KEY_HELP}"
        )
    return raw


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"ait-connectors key id\x00" + key).digest()[:_KEY_ID]


class Cipher:
    """Encrypts with the current key; decrypts with the current or any old key."""

    def __init__(self, key: bytes, old_keys: Sequence[bytes] = ()) -> None:
        self._current_id = _key_id(key)
        self._raw_current = key
        self._keys: dict[bytes, AESGCM] = {_key_id(k): AESGCM(k) for k in old_keys}
        self._keys[self._current_id] = AESGCM(key)

    def __repr__(self) -> str:
        return f"Cipher(key_id={self._current_id.hex()}, keys={len(self._keys)})"

    def encrypt(self, plaintext: str, *, aad: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._keys[self._current_id].encrypt(nonce, plaintext.encode(), aad.encode())
        blob = self._current_id + nonce + sealed
        return _PREFIX + base64.urlsafe_b64encode(blob).decode("ascii")

    def decrypt(self, token: str, *, aad: str) -> str:
        blob = self._unpack(token, aad)
        key = self._keys.get(blob[:_KEY_ID])
        if key is None:
            raise EncryptionError(
                f"Cannot decrypt {_where(aad)}: it was encrypted with a key that is not "
                "configured. "
                "Set AIT_ENCRYPTION_KEY to the key it was written with, or list that key in "
                "AIT_ENCRYPTION_OLD_KEYS."
            )
        nonce = blob[_KEY_ID : _KEY_ID + _NONCE]
        try:
            return key.decrypt(nonce, blob[_KEY_ID + _NONCE :], aad.encode()).decode()
        except InvalidTag:
            raise EncryptionError(
                f"Cannot decrypt {_where(aad)}: the ciphertext was altered or belongs to another "
                "row or column. The stored value is left as it is."
            ) from None

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (HKDF-SHA256 of the current key): one secret to manage,
        and a leak of a derived key (say, a signing key) says nothing about the encryption key."""
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"ait-connectors gateway",
            info=f"ait-connectors/{purpose}/v1".encode(),
        )
        return hkdf.derive(self._raw_current)

    def is_current(self, token: str) -> bool:
        """True when ``token`` is encrypted under the current key."""
        try:
            blob = self._unpack(token, "")
        except EncryptionError:
            return False
        return blob[:_KEY_ID] == self._current_id

    @staticmethod
    def _unpack(token: str, aad: str) -> bytes:
        if not token.startswith(_PREFIX):
            raise EncryptionError(
                f"Cannot decrypt {_where(aad)}: not an ait-connectors ciphertext."
            )
        try:
            blob = base64.urlsafe_b64decode(token[len(_PREFIX) :].encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise EncryptionError(f"Cannot decrypt {_where(aad)}: malformed ciphertext.") from None
        if len(blob) < _KEY_ID + _NONCE + 16:
            raise EncryptionError(f"Cannot decrypt {_where(aad)}: truncated ciphertext.")
        return blob


def _where(aad: str) -> str:
    return aad.split(":", 1)[0] if aad else "a stored secret"


def load_cipher(settings: Settings) -> Cipher:
    """The configured key's cipher; on the embedded default, a key generated once."""
    old = [
        parse_key(part, "AIT_ENCRYPTION_OLD_KEYS")
        for part in (
            settings.encryption_old_keys.get_secret_value().split(",")
            if settings.encryption_old_keys
            else []
        )
        if part.strip()
    ]
    if settings.encryption_key is not None:
        return Cipher(
            parse_key(settings.encryption_key.get_secret_value(), "AIT_ENCRYPTION_KEY"), old
        )
    if not settings.embedded:
        raise ConfigurationError(
            "AIT_ENCRYPTION_KEY is not set. It is required with AIT_DATABASE_URL. " + KEY_HELP
        )
    return Cipher(_embedded_key(settings.data_dir), old)


def _embedded_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return parse_key(path.read_text(), f"the key file {path}")
    data_dir.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    # Written aside then linked into place, so a concurrent process sees no key or a whole key.
    tmp = data_dir / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return parse_key(path.read_text(), f"the key file {path}")
    finally:
        tmp.unlink()
    logger.warning(
        "No AIT_ENCRYPTION_KEY set: generated one at %s (mode 0600). Back it up: without it the "
        "stored tokens cannot be decrypted.",
        path,
    )
    return bytes.fromhex(key)
