"""A real SMTP server on this machine (aiosmtpd) that keeps every email it accepts.

It runs in a thread of its own on a fixed port, so a test can stop it (an outage: the
port refuses connections) and start it again on the same port. It can also answer like a
real server under trouble: a temporary ``451`` for a recipient's next N messages, or a
permanent ``550`` for some recipients.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from .processes import free_port


@dataclass
class Mail:
    mail_from: str
    to: list[str]
    message: EmailMessage
    at: float = field(default_factory=time.monotonic)

    def header(self, name: str) -> str:
        return str(self.message.get(name, ""))

    @property
    def subject(self) -> str:
        return self.header("Subject")

    @property
    def language(self) -> str:
        return self.header("Content-Language")

    @property
    def template(self) -> str:
        return self.header("X-AZL-Template")

    @property
    def order_id(self) -> str:
        return self.header("X-AZL-Order-Id")

    @property
    def delivery_id(self) -> str:
        return self.header("X-AZL-Delivery-Id")

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        content: str = body.get_content()
        return content

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self._server = server

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        address = address.lower()
        if address in self._server.refused_recipients:
            return "550 5.1.1 mailbox unavailable"
        with self._server.lock:
            busy = self._server.temporary_failures.get(address, 0)
            if busy > 0:
                self._server.temporary_failures[address] = busy - 1
                return "451 4.2.1 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._server.add(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 accepted"


class MailServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.refused_recipients: set[str] = set()
        self.temporary_failures: dict[str, int] = {}
        self._mails: list[Mail] = []
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> MailServer:
        if self._controller is None:
            controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        """An outage: the port refuses connections until ``start``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def add(self, mail: Mail) -> None:
        with self.lock:
            self._mails.append(mail)

    def fail_next(self, address: str, count: int) -> None:
        """Answer the next ``count`` messages to ``address`` with a temporary ``451``."""
        with self.lock:
            self.temporary_failures[address.lower()] = count

    def behave(self) -> None:
        """Back to accepting everything."""
        with self.lock:
            self.temporary_failures.clear()
            self.refused_recipients.clear()

    def received(self, where: Callable[[Mail], bool] = lambda _: True) -> list[Mail]:
        with self.lock:
            mails = list(self._mails)
        return [m for m in mails if where(m)]

    def for_order(self, order_id: object) -> list[Mail]:
        return self.received(lambda m: m.order_id == str(order_id))

    async def wait_for(
        self,
        where: Callable[[Mail], bool] = lambda _: True,
        *,
        count: int = 1,
        timeout: float = 20.0,
    ) -> list[Mail]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.received(where)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(found)} of {count} emails; subjects: "
                    + ", ".join(m.subject for m in self.received()[-10:])
                )
            await asyncio.sleep(0.05)
