"""SMTP catcher of the stand-in images: keeps every message in memory, serves them as JSON."""

from __future__ import annotations

import json
import signal
import sys
import threading
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

MESSAGES: list[dict[str, Any]] = []
LOCK = threading.Lock()


class Catcher:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw: bytes = envelope.original_content or envelope.content
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        text = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        with LOCK:
            MESSAGES.append(
                {
                    "ID": uuid.uuid4().hex,
                    "From": {"Address": envelope.mail_from},
                    "To": [{"Address": address} for address in envelope.rcpt_tos],
                    "Subject": str(parsed.get("Subject", "")),
                    "Created": datetime.now(UTC).isoformat(),
                    "Text": text.get_content() if text is not None else "",
                    "HTML": html.get_content() if html is not None else "",
                    "Attachments": [
                        {"FileName": part.get_filename(), "ContentType": part.get_content_type()}
                        for part in parsed.iter_attachments()
                    ],
                    "raw": raw.decode("utf-8", errors="replace"),
                }
            )
        return "250 Message accepted for delivery"


def summary(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("Text", "HTML", "raw")}


class Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if parts in (["livez"], ["readyz"]):
            return self.reply(200, "ok")
        with LOCK:
            messages = list(MESSAGES)
        if parts == ["api", "v1", "messages"]:
            newest_first = [summary(m) for m in reversed(messages)]
            return self.reply(200, {"total": len(messages), "messages": newest_first})
        if parts[:3] == ["api", "v1", "message"] and len(parts) in (4, 5):
            found = next((m for m in messages if m["ID"] == parts[3]), None)
            if found is None:
                return self.reply(404, "not found")
            if len(parts) == 5 and parts[4] == "raw":
                return self.reply(200, found["raw"])
            return self.reply(200, {k: v for k, v in found.items() if k != "raw"})
        return self.reply(404, "not found")

    def do_DELETE(self) -> None:
        if self.path.split("?")[0].rstrip("/") == "/api/v1/messages":
            with LOCK:
                MESSAGES.clear()
            return self.reply(200, "ok")
        return self.reply(404, "not found")

    def reply(self, status: int, body: object) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        kind = "text/plain" if isinstance(body, str) else "application/json"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


if __name__ == "__main__":
    # PID 1 of its container: SIGTERM does nothing unless handled
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    smtp = Controller(Catcher(), hostname="0.0.0.0", port=1025)
    smtp.start()
    print("catching mail on :1025, API on :8025", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8025), Api).serve_forever()
