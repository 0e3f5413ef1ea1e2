"""Webhook signatures: HMAC-SHA256 with the subscription's secret over ``<timestamp>.<body>``.

A receiver recomputes ``sha256=`` + hex(HMAC-SHA256(secret, timestamp + "." + raw body))
from the ``X-AZL-Timestamp`` header and the raw request body, compares it in constant time
with ``X-AZL-Signature``, and refuses timestamps too far from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-AZL-Timestamp"
SIGNATURE_HEADER = "X-AZL-Signature"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, header: str, *, now: float, tolerance: float = 300
) -> bool:
    try:
        if abs(now - int(timestamp)) > tolerance:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)
