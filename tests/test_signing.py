"""Webhook signatures: what verifies, and why the rest does not."""

from __future__ import annotations

import pytest

from clubgraph.signing import SignatureError, sign, signature_header, verify

BODY = b'{"event_type": "invoice.updated"}'
NOW = 1_800_000_000


def test_a_signature_verifies_over_the_exact_body_and_time() -> None:
    header = signature_header("s3cret", NOW, BODY)
    assert header == f"t={NOW},v1={sign('s3cret', NOW, BODY)}"
    assert verify(["s3cret"], header, BODY, now=NOW + 10) == NOW
    # Rotation: the old secret and the new one both verify.
    assert verify(["new", "s3cret"], header, BODY, now=NOW) == NOW


@pytest.mark.parametrize(
    ("header", "body", "now", "why"),
    [
        (None, BODY, NOW, "not signed"),
        ("", BODY, NOW, "not signed"),
        ("v1=abc", BODY, NOW, "no timestamp"),
        (f"t={NOW}", BODY, NOW, "no v1"),
        ("t=soon,v1=abc", BODY, NOW, "not a number"),
        (signature_header("other", NOW, BODY), BODY, NOW, "does not match"),
        (signature_header("s3cret", NOW, BODY), BODY + b" ", NOW, "does not match"),
        (signature_header("s3cret", NOW, BODY), BODY, NOW + 301, "outside the 300 s window"),
        (signature_header("s3cret", NOW, BODY), BODY, NOW - 301, "outside the 300 s window"),
        ("t=1," + "v1=a" * 400, BODY, NOW, "too long"),
    ],
)
def test_what_does_not_verify_says_why(header: str | None, body: bytes, now: int, why: str) -> None:
    with pytest.raises(SignatureError, match=why) as raised:
        verify(["s3cret"], header, body, now=now)
    assert "s3cret" not in str(raised.value)
