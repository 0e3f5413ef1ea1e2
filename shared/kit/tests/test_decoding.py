"""NUL characters: refused by the decoder, so the rejection itself can be stored."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

from azl_contracts import ReasonCode, payments
from azl_contracts import fees as contract
from azl_kit.dead_letters import DeadLetterCode
from azl_kit.decoding import Decoded, Decoder, Poison
from azl_kit.envelope import Envelope
from azl_kit.handlers import Handlers

QUOTE = {"items": [{"quantity": 1, "unit_price_cny": "10.00"}], "exchange_rate": "3500"}
DEPOSIT = {"order_id": str(uuid4()), "amount_vnd": 70_000, "payment_id": "pay-1"}


async def _answer(request: contract.QuoteRequest) -> Any:
    raise AssertionError("not called")


async def _apply(event: payments.DepositReceived, uow: Any) -> None:
    raise AssertionError("not called")


def _decoder() -> Decoder:
    handlers: Handlers[Any] = Handlers()
    handlers.add(contract.QuoteRequest, _answer)
    handlers.add(payments.DepositReceived, _apply)
    return Decoder("fees", handlers, max_message_bytes=1 << 20, redelivery_limit=10)


def _decode(body: dict[str, Any], message_type: str = "fees.quote.v1") -> Decoded | Poison:
    message_id = uuid4()
    return _decoder().decode(
        Envelope(
            queue="azlunit.fees.commands",
            body=json.dumps(body).encode(),
            raw_message_id=str(message_id),
            message_id=message_id,
            correlation_id=None,
            message_type=message_type,
            reply_to=None,
            content_type="application/json",
            app_id=None,
            exchange="azlunit.commands",
            routing_key="fees.quote",
            headers={},
            delivery_count=0,
            properties={},
        )
    )


def test_a_nul_in_a_string_or_a_key_is_a_validation_error_saying_where() -> None:
    # an event's extra fields, which its schema ignores: stored with the message all the same
    in_value = {**DEPOSIT, "note": {"deep": ["a", "b\x00"]}}
    in_key = {**DEPOSIT, "no\x00te": "x"}
    in_field = {**DEPOSIT, "payment_id": "pay\x00"}
    cases = ((in_value, "note.deep.1"), (in_key, "no\\u0000te"), (in_field, "payment_id"))
    for body, where in cases:
        poison = _decode(body, "payments.deposit.received.v1")
        assert isinstance(poison, Poison), body
        assert poison.code is DeadLetterCode.SCHEMA_INVALID
        assert poison.rejection.reason_code is ReasonCode.VALIDATION_ERROR
        assert poison.details["errors"][0]["loc"] == where
        assert not _has_nul([poison.details, poison.reason])


def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    body = {**DEPOSIT, "payment_id": "\\u0000"}
    assert isinstance(_decode(body, "payments.deposit.received.v1"), Decoded)


def test_schema_errors_echo_no_nul() -> None:
    body = {**QUOTE, "exchange_rate": "\x00", "items": [{"\x00": 1, "quantity": "\x00"}], "\x00": 1}
    poison = _decode(body)
    assert isinstance(poison, Poison)
    assert not _has_nul([poison.details, poison.reason])


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
