"""Standard Webhooks signatures (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).

Signing is the ``standardwebhooks`` package's, so what receivers verify with that library (or
any other implementation of the specification) is what we compute. During a secret rotation's
overlap both secrets sign: the header holds both signatures, space-separated, and a receiver
holding either secret accepts the message.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook

from ..errors import ConfigurationError

__all__ = ["SECRET_PREFIX", "check_secret", "generate_secret", "signed_headers"]

SECRET_PREFIX = "whsec_"
# The specification asks for 24 to 64 bytes of key.
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64


def generate_secret() -> SecretStr:
    """A new signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SecretStr(SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode())


def check_secret(value: str) -> SecretStr:
    """An application-chosen secret, checked: ``whsec_`` + base64 of 24 to 64 bytes."""
    body = value.strip()
    if not body.startswith(SECRET_PREFIX):
        raise ConfigurationError(
            "A webhook secret starts with 'whsec_' followed by base64 (omit it to have one "
            "generated)."
        )
    try:
        key = base64.b64decode(body[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError("The webhook secret after 'whsec_' is not valid base64.") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ConfigurationError(
            f"The webhook secret must decode to {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes "
            f"(it has {len(key)})."
        )
    return SecretStr(body)


def signed_headers(
    message_id: str, body: str, secrets_: Sequence[SecretStr], *, at: datetime | None = None
) -> dict[str, str]:
    """The three headers for one attempt; ``at`` (default now) is the attempt's time."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    signatures = [
        Webhook(secret.get_secret_value()).sign(message_id, at, body) for secret in secrets_
    ]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
