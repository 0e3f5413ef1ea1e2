"""Webhook signatures as a receiver checks them."""

from __future__ import annotations

import hashlib
import hmac

from notifications import signing

SECRET = "whsec-0123456789abcdef"
BODY = b'{"event_type":"orders.order.deposited.v1"}'


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signing.signature(SECRET, "1700000000", BODY) == f"sha256={expected}"


def test_a_receiver_accepts_a_fresh_untampered_delivery() -> None:
    header = signing.signature(SECRET, "1700000000", BODY)
    assert signing.verify(SECRET, "1700000000", BODY, header, now=1700000100)


def test_a_receiver_refuses_tampering_replays_and_wrong_secrets() -> None:
    header = signing.signature(SECRET, "1700000000", BODY)
    assert not signing.verify(SECRET, "1700000000", BODY + b" ", header, now=1700000000)
    assert not signing.verify(SECRET, "1700000001", BODY, header, now=1700000000)
    assert not signing.verify(SECRET, "1700000000", BODY, header, now=1700001000)
    assert not signing.verify("another-secret-0000", "1700000000", BODY, header, now=1700000000)
    assert not signing.verify(SECRET, "yesterday", BODY, header, now=1700000000)
