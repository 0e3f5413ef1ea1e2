"""What each sender makes of a receiver's answer: worth another attempt, or final.

The senders are exercised without a network: aiosmtplib's ``send`` is replaced by one that
answers as an SMTP server would, and httpx gets a mock transport.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import aiosmtplib
import httpx
import pytest

from azl_contracts.notifications import Channel
from notifications.domain import Claimed
from notifications.senders import SmtpSender, WebhookSender
from notifications.settings import NotificationsSettings


def claimed(channel: Channel, **payload: Any) -> Claimed:
    event_id = uuid4()
    return Claimed(
        delivery_id=uuid4(),
        notification_id=uuid4() if channel is Channel.EMAIL else None,
        channel=channel,
        recipient="cust-1",
        target="an@example.vn" if channel is Channel.EMAIL else "https://erp.example/in",
        subscription_id=None if channel is Channel.EMAIL else uuid4(),
        order_id=uuid4(),
        source_event_id=event_id,
        source_event_type="orders.order.deposited.v1",
        correlation_id=str(event_id),
        causation_id=event_id,
        payload=payload,
        attempt=1,
        secret=None if channel is Channel.EMAIL else "whsec-test",
    )


EMAIL = claimed(
    Channel.EMAIL,
    to="an@example.vn",
    subject="Đơn AZ1 đã đặt cọc",
    text="Xin chào",
    html="<p>Xin chào</p>",
    language="vi",
    template="order_deposited",
)


def smtp_answering(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> SmtpSender:
    async def send(*_args: Any, **_kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(aiosmtplib, "send", send)
    return SmtpSender(NotificationsSettings(smtp_timeout=1, webhook_timeout=1))


@pytest.mark.parametrize(
    ("error", "retryable", "code"),
    [
        (aiosmtplib.SMTPResponseException(421, "closing the channel"), True, 421),
        (aiosmtplib.SMTPResponseException(554, "transaction failed"), False, 554),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(451, "mailbox busy", "an@example.vn")]
            ),
            True,
            451,
        ),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(550, "no such user", "an@example.vn")]
            ),
            False,
            550,
        ),
        (aiosmtplib.SMTPConnectError("connection refused"), True, None),
        (aiosmtplib.SMTPServerDisconnected("gone"), True, None),
        (ConnectionRefusedError(111, "refused"), True, None),
        (TimeoutError(), True, None),
    ],
)
async def test_smtp_answers(
    monkeypatch: pytest.MonkeyPatch, error: BaseException, retryable: bool, code: int | None
) -> None:
    result = await smtp_answering(monkeypatch, error).send(EMAIL)
    assert (result.ok, result.retryable, result.status_code) == (False, retryable, code)


async def test_an_email_the_server_took_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []

    async def send(message: Any, **_kwargs: Any) -> None:
        sent.append(message)

    monkeypatch.setattr(aiosmtplib, "send", send)
    result = await SmtpSender(NotificationsSettings()).send(EMAIL)
    assert result.ok
    assert sent[0]["X-AZL-Delivery-Id"] == str(EMAIL.delivery_id)


WEBHOOK = claimed(Channel.WEBHOOK, body='{"event_id": "x"}')


@pytest.mark.parametrize(
    ("status", "ok", "retryable"),
    [
        (200, True, False),
        (404, False, False),
        (408, False, True),
        (429, False, True),
        (503, False, True),
    ],
)
async def test_webhook_answers(status: int, ok: bool, retryable: bool) -> None:
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _request: httpx.Response(status))
    ) as client:
        result = await WebhookSender(client, timeout=1).send(WEBHOOK)
    assert (result.ok, result.retryable, result.status_code) == (ok, retryable, status)


async def test_an_unreachable_receiver_is_tried_again() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        result = await WebhookSender(client, timeout=1).send(WEBHOOK)
    assert (result.ok, result.retryable) == (False, True)
    assert (result.error or "").startswith("unreachable: ConnectError")
