"""The gateway's principal never shows its credential (issue 9 item 7)."""

from __future__ import annotations

import pytest

from ait_connectors.gateway.auth import Principal

API_KEY = "ait_APIKEYvalue_0123456789abcdef"
CONNECT = "act_CONNECTtoken.value.signature"


@pytest.mark.parametrize(
    "principal",
    [
        Principal(kind="api_key", credential=API_KEY, key_name="backend"),
        Principal(
            kind="connect_token",
            credential=CONNECT,
            user_id="u1",
            redirect_origin="https://app.example.com",
            via_cookie=True,
        ),
    ],
    ids=["api_key", "connect_token"],
)
def test_principal_repr_and_str_hide_the_credential(principal: Principal) -> None:
    for text in (repr(principal), str(principal), f"{principal}", f"{principal!r}"):
        assert principal.credential not in text
        assert principal.kind in text  # still useful for debugging
    assert repr([principal]).count(principal.credential) == 0
