"""The senders of the delivery worker: one attempt of an email (SMTP) or a webhook (HTTP
POST, signed), each within its time limit, and what the receiver's answer means
(``domain.policy``: sent, worth another attempt, or final). Built in ``app.py``."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

import aiosmtplib
import httpx

from . import signing, targets
from .domain import Claimed, SendResult, http_result, smtp_result
from .settings import NotificationsSettings


class Sender(Protocol):
    async def send(self, delivery: Claimed) -> SendResult: ...


class SmtpSender:
    def __init__(self, settings: NotificationsSettings) -> None:
        self._settings = settings

    def message(self, delivery: Claimed) -> EmailMessage:
        payload = delivery.payload
        message = EmailMessage()
        message["From"] = self._settings.smtp_from
        message["To"] = payload["to"]
        message["Subject"] = payload["subject"]
        message["Date"] = format_datetime(datetime.now().astimezone())
        message["Message-ID"] = f"<{delivery.delivery_id}@notifications.azl>"
        message["Auto-Submitted"] = "auto-generated"
        message["X-AZL-Delivery-Id"] = str(delivery.delivery_id)
        message["X-AZL-Template"] = payload["template"]
        if delivery.order_id is not None:
            message["X-AZL-Order-Id"] = str(delivery.order_id)
        message.set_content(payload["text"])
        message.add_alternative(payload["html"], subtype="html")
        message["Content-Language"] = payload["language"]  # after set_content, which drops it
        return message

    async def send(self, delivery: Claimed) -> SendResult:
        settings = self._settings
        try:
            async with asyncio.timeout(settings.smtp_timeout):
                await aiosmtplib.send(
                    self.message(delivery),
                    hostname=settings.smtp_host,
                    port=settings.smtp_port,
                    username=settings.smtp_username,
                    password=(
                        None
                        if settings.smtp_password is None
                        else settings.smtp_password.get_secret_value()
                    ),
                    use_tls=settings.smtp_tls,
                    start_tls=settings.smtp_starttls,
                    timeout=settings.smtp_timeout,
                )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            worst = max(r.code for r in refused.recipients)
            return smtp_result(worst, "; ".join(r.message for r in refused.recipients))
        except aiosmtplib.SMTPResponseException as error:
            return smtp_result(error.code, error.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            return SendResult.transient(f"SMTP unreachable: {describe(error)}")
        return SendResult.sent()


class WebhookSender:
    def __init__(
        self, client: httpx.AsyncClient, timeout: float, *, allow_private_targets: bool = False
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._allow_private_targets = allow_private_targets

    async def send(self, delivery: Claimed) -> SendResult:
        if delivery.secret is None:
            return SendResult.permanent("the subscription has no secret")
        if not self._allow_private_targets:
            # checked again at each delivery: DNS may have changed since the subscription
            refused = await targets.refusal(delivery.target)
            if refused is not None:
                return SendResult.permanent(refused)
        body = delivery.payload["body"].encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "azl-notifications/1",
            "X-AZL-Delivery-Id": str(delivery.delivery_id),
            "X-AZL-Event-Id": str(delivery.source_event_id),
            "X-AZL-Event-Type": delivery.source_event_type,
            "X-AZL-Attempt": str(delivery.attempt),
            signing.TIMESTAMP_HEADER: timestamp,
            signing.SIGNATURE_HEADER: signing.signature(delivery.secret, timestamp, body),
        }
        try:
            async with asyncio.timeout(self._timeout):
                response = await self._client.post(delivery.target, content=body, headers=headers)
        except (httpx.HTTPError, OSError, TimeoutError) as error:
            return SendResult.transient(f"unreachable: {describe(error)}")
        return http_result(response.status_code)


def describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}"[:500] if text else type(error).__name__
