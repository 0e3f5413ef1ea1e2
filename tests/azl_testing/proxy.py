"""A TCP proxy the test controls, between the services and RabbitMQ or PostgreSQL.

``cut()`` drops every open connection and refuses new ones (the server is unreachable);
``restore()`` accepts again. It runs on its own thread and event loop, so whatever the test
awaits does not slow the traffic down.

Each client (a service process) can get a listening port of its own (``url_for(url,
client=…)``), so the proxy can tell whose connections a cut closed and who opened new ones
afterwards: every proxied connection is kept as a ``Link``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from dataclasses import dataclass, field

from .processes import free_port


@dataclass(eq=False)
class Link:
    """One proxied connection: whose, when it opened, when it closed and whether a cut did."""

    client: str
    opened_at: float = field(default_factory=time.monotonic)
    closed_at: float | None = None
    cut: bool = False

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def close(self, *, by_cut: bool = False) -> None:
        if self.closed_at is None:
            self.closed_at = time.monotonic()
            self.cut = by_cut


@dataclass
class Proxy:
    target_host: str
    target_port: int
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="proxy")
        self._ports: dict[str, int] = {"": self.port}
        self._servers: dict[str, asyncio.Server] = {}
        self._open: dict[Link, list[asyncio.StreamWriter]] = {}
        self._links: list[Link] = []
        self._accepting = False
        self.cuts: list[float] = []
        self.restores: list[float] = []

    @property
    def connections(self) -> int:
        """Connections proxied so far, of every client."""
        return len(self._links)

    def start(self) -> Proxy:
        self._thread.start()
        self._accepting = True
        self._call(self._listen())
        return self

    def close(self) -> None:
        self._call(self._cut())
        self._call(self._finish_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def cut(self) -> None:
        """Unreachable: open connections are dropped, new ones refused."""
        self._call(self._cut())
        self.cuts.append(time.monotonic())

    def restore(self) -> None:
        self._accepting = True
        self._call(self._listen())
        self.restores.append(time.monotonic())

    def url_for(self, url: str, client: str = "") -> str:
        """The same URL, through the proxy (through ``client``'s own port when named)."""
        target = f"{self.target_host}:{self.target_port}"
        if target not in url:
            raise ValueError(f"{url!r} does not name {target}: the proxy would not be in the way")
        if client not in self._ports:
            self._ports[client] = free_port()
            if self._accepting:
                self._call(self._listen())
        return url.replace(target, f"127.0.0.1:{self._ports[client]}")

    def links(self, client: str | None = None) -> list[Link]:
        """Every connection proxied so far (of ``client`` only, when given)."""
        return [link for link in list(self._links) if client is None or link.client == client]

    def clients(self) -> list[str]:
        return [client for client in self._ports if client]

    def _call(self, coroutine: object) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)  # type: ignore[arg-type]

    async def _finish_tasks(self) -> None:
        """Let the piping tasks of aborted connections end, so no socket is left open."""
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _listen(self) -> None:
        for client, port in list(self._ports.items()):
            if client not in self._servers:
                self._servers[client] = await asyncio.start_server(
                    functools.partial(self._accept, client), "127.0.0.1", port
                )

    async def _cut(self) -> None:
        self._accepting = False
        # Open connections first: from Python 3.12.1 on, wait_closed() waits for them.
        for link, writers in list(self._open.items()):
            link.close(by_cut=True)
            for writer in writers:
                writer.transport.abort()
        self._open.clear()
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()
        for server in servers:
            await server.wait_closed()

    async def _accept(
        self, client: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            writer.transport.abort()
            return
        link = Link(client)
        self._links.append(link)
        self._open[link] = [writer, upstream_writer]
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        finally:
            link.close()
            self._open.pop(link, None)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.transport.abort()
