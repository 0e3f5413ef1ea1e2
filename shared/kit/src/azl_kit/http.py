"""What every read API needs: a database connection per request, the page and date-time
parameters they share, the error responses they document, and the refusal of NUL.

PostgreSQL text refuses NUL characters, so a query parameter or a path carrying one is
refused before any handler runs (400), as a bearer token whose ``sub`` has one is (401).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import AwareDatetime, BeforeValidator
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


async def _connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.runtime.database().connect() as conn:
        yield conn


DbConnection = Annotated[AsyncConnection, Depends(_connection)]

# Far beyond any list, small enough that (page - 1) * page_size fits PostgreSQL's bigint.
MAX_PAGE = 100_000

Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"From 1 to {MAX_PAGE:,}.")]

_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})$"
)


def _date_time_text(value: Any) -> Any:
    """Only an ISO 8601 date-time with its offset: not a number pydantic would take for a
    Unix time, nor a bare date."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        raise ValueError("must be an ISO 8601 date-time with a time zone, e.g. 2026-01-31T12:00Z")
    return value


DateTime = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]

Responses = dict[int | str, dict[str, Any]]
ERROR_RESPONSES: Responses = {
    400: {"description": "A query parameter or the path carries a NUL character"},
    401: {"description": "Missing, malformed or expired bearer token"},
    403: {"description": "The caller's role may not see this"},
    404: {"description": "No such resource, or not the caller's"},
}


class RefuseNul:
    """ASGI middleware: a NUL in the path or the query string (raw or %00) is a 400."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if "\x00" in scope.get("path", "") or b"\x00" in query or b"%00" in query:
                response = JSONResponse(
                    {"detail": "NUL characters are not allowed in the path or query"},
                    status_code=400,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
