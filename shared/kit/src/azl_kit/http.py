"""What every read API needs: a database connection per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection


async def _connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.runtime.database().connect() as conn:
        yield conn


DbConnection = Annotated[AsyncConnection, Depends(_connection)]
