"""Standard Webhooks signatures: the specification's published test vector, rotation, secrets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ait_connectors.errors import ConfigurationError
from ait_connectors.outgoing.signing import check_secret, generate_secret, signed_headers

# The test vector of the Standard Webhooks reference libraries' test suites
# (github.com/standard-webhooks/standard-webhooks, libraries/*: sign-function tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_published_vector() -> None:
    at = datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC)
    headers = signed_headers(VECTOR_ID, VECTOR_BODY, [SecretStr(VECTOR_SECRET)], at=at)
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def test_rotation_overlap_signs_with_both_and_each_secret_verifies() -> None:
    old, new = generate_secret(), generate_secret()
    body = '{"type":"sync.finished"}'
    headers = signed_headers("msg_1", body, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret.get_secret_value()).verify(body, headers) == {"type": "sync.finished"}
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret().get_secret_value()).verify(body, headers)


def test_secrets_are_checked_and_never_shown() -> None:
    secret = generate_secret()
    assert secret.get_secret_value().startswith("whsec_")
    assert secret.get_secret_value() not in repr(secret)
    assert check_secret(VECTOR_SECRET).get_secret_value() == VECTOR_SECRET
    for bad, says in [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starts with 'whsec_'"),
        ("whsec_not base64!", "not valid base64"),
        ("whsec_c2hvcnQ=", "24 to 64 bytes"),
    ]:
        with pytest.raises(ConfigurationError, match=says):
            check_secret(bad)
