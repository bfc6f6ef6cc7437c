"""Slow clients against the real server (`serve`, as `npsbot run` starts it): headers or a body sent a byte at a
time are cut with a 408, connections past the cap get a 503, and everyone else is served meanwhile. Short timeouts
in the config; the tests assert what each client received, never how long it took."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bots.config import ConfigError, parse_config
from bots.serve import serve
from core.store.tables import InboundKeyRow, SurveyRow
from tests.test_cli import free_port
from tests.webhook_signing import signed

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EVENTS = "/webhook/acme/events"
GIVE_UP = 30  # seconds before a test stops waiting for a client that is never cut (the failure it checks for)


class Server:
    def __init__(self, port: int, db: Path) -> None:
        self.port, self.db = port, db
        self.url = f"http://127.0.0.1:{port}"

    async def get(self, path: str = "/healthz") -> tuple[int, Any]:
        async with aiohttp.ClientSession() as http, http.get(self.url + path) as resp:
            return resp.status, await resp.json()

    async def rows(self, table: Any) -> int:
        from core.store import Store

        store = Store(f"sqlite:///{self.db}")
        try:
            async with store.read() as conn:
                return (await conn.execute(select(func.count()).select_from(table))).scalar_one()
        finally:
            await store.dispose()


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **server: Any) -> AsyncIterator[Server]:
    """`serve` with these server settings, one `acme` profile on the signed-webhook channel."""
    monkeypatch.setattr("bots.serve.settle_heap", lambda: None)  # gc.freeze() is for a server process, not pytest
    port, db = free_port(), tmp_path / "limits.db"
    config = parse_config(
        {
            "database_url": f"sqlite:///{db}",
            "server": {"host": "127.0.0.1", "port": port, **server},
            "profiles": {"acme": {"brand": "Acme", "channels": {"webhook": {"secrets": [SECRET]}}}},
        },
        env={},
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(config, stop=stop))
    srv = Server(port, db)
    for _ in range(600):
        if task.done():
            task.result()
        with contextlib.suppress(OSError):
            if (await srv.get())[0] == 200:
                break
        await asyncio.sleep(0.05)
    try:
        yield srv
    finally:
        stop.set()
        await task


class SlowClient:
    """A raw socket that sends `first`, then `drip` again and again until the server answers or hangs up."""

    def __init__(self, port: int, first: bytes, drip: bytes = b"", every: float = 0.05) -> None:
        self.port, self.first, self.drip, self.every = port, first, drip, every
        self.sent = 0

    async def run(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None) -> bytes:
        """Everything the server sent (on `conn`, else a new connection) before it closed the connection."""
        reader, writer = conn or await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(self.first)
        dripping = asyncio.create_task(self._drip(writer))
        try:
            return await asyncio.wait_for(_read_all(reader), GIVE_UP)
        finally:
            dripping.cancel()
            writer.close()

    async def _drip(self, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while self.drip:
                await asyncio.sleep(self.every)
                writer.write(self.drip)
                await writer.drain()
                self.sent += 1


async def kept_alive(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection that made one request and was kept open; retried while a connection the test closed just
    before still counts against the cap."""
    for _ in range(100):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: npsbot\r\n\r\n")
        answer = await reader.readuntil(b"}")
        if status_of(answer) == 200:
            assert b"Connection: close" not in answer
            return reader, writer
        writer.close()
        await asyncio.sleep(0.02)
    raise AssertionError("no connection was let in")


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := await reader.read(65536):
            data += chunk
    return data


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


async def test_clients_sending_headers_slowly_are_cut_while_others_are_served(tmp_path, monkeypatch) -> None:
    async with serving(tmp_path, monkeypatch, header_timeout="300ms") as srv:
        head = b"POST /webhook/acme/events HTTP/1.1\r\nHost: npsbot\r\n"
        dribblers = [SlowClient(srv.port, head, b"X-Padding: a\r\n") for _ in range(3)]
        silent = SlowClient(srv.port, b"")  # connects and never sends a byte
        cut = [asyncio.create_task(c.run()) for c in [*dribblers, silent]]
        while min(c.sent for c in dribblers) < 2:  # they are in the middle of their headers
            await asyncio.sleep(0.01)
        assert await srv.get() == (200, {"status": "ok", "database": "sqlite"})  # served meanwhile
        assert not any(t.done() for t in cut[:3])
        for answer in await asyncio.gather(*cut):
            assert status_of(answer) == 408, answer
            assert answer.endswith(b'{"error": "request headers not received in time"}')
        assert await srv.get() == (200, {"status": "ok", "database": "sqlite"})


async def test_a_keep_alive_connection_dribbling_its_next_request_is_cut(tmp_path, monkeypatch) -> None:
    async with serving(tmp_path, monkeypatch, header_timeout="300ms") as srv:
        conn = await kept_alive(srv.port)
        client = SlowClient(srv.port, b"GET /healthz HTTP/1.1\r\nHost: npsbot\r\n", b"X-Padding: a\r\n")
        answer = await client.run(conn)
        assert status_of(answer) == 408 and client.sent >= 1, answer


async def test_a_body_sent_slowly_gets_408_and_nothing_is_stored(tmp_path, monkeypatch) -> None:
    async with serving(tmp_path, monkeypatch, body_timeout="300ms") as srv:
        payload = {"type": "conversation.closed", "data": {"conversation_id": "c1", "contact_id": "u1"}}
        body, headers = signed(SECRET, payload)
        head = f"POST {EVENTS} HTTP/1.1\r\nHost: npsbot\r\nContent-Length: {len(body) + 64}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        client = SlowClient(srv.port, head.encode() + body[:10], b" ")
        answer = await client.run()
        assert status_of(answer) == 408, answer
        assert b"Connection: close" in answer and answer.endswith(b'{"error": "request body not received in time"}')
        assert client.sent >= 1  # it was still sending when it was cut
        assert await srv.rows(SurveyRow.__table__) == 0 and await srv.rows(InboundKeyRow.__table__) == 0
        async with aiohttp.ClientSession() as http, http.post(srv.url + EVENTS, data=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()  # the same event sent whole is taken
        assert await srv.rows(SurveyRow.__table__) == 1


async def test_connections_past_the_cap_get_503_until_one_closes(tmp_path, monkeypatch, caplog) -> None:
    async with serving(tmp_path, monkeypatch, max_connections=3) as srv:
        held = [await kept_alive(srv.port) for _ in range(2)]
        assert (await srv.get())[0] == 200  # two open connections and this one: within the cap
        held.append(await kept_alive(srv.port))
        async with aiohttp.ClientSession() as http, http.get(srv.url + "/healthz") as resp:
            assert resp.status == 503 and resp.headers["Retry-After"] == "1"
            assert await resp.json() == {"error": "too many connections"}
        assert "3 connections open, server.max_connections reached: 1 refused with 503" in caplog.text
        _, writer = held.pop()
        writer.close()
        await writer.wait_closed()
        statuses = []
        for _ in range(100):  # the server sees the close on one of its next turns
            statuses.append((await srv.get())[0])
            if statuses[-1] == 200:
                break
            await asyncio.sleep(0.02)
        assert statuses[-1] == 200 and set(statuses) <= {200, 503}
        for _, w in held:
            w.close()


def test_server_limits_must_be_positive() -> None:
    base = {"profiles": {"acme": {"brand": "A"}}}
    with pytest.raises(ConfigError) as exc:
        parse_config(base | {"server": {"header_timeout": "0s", "body_timeout": "soon", "max_connections": 0}}, env={})
    problems = "\n".join(exc.value.problems)
    assert "server.header_timeout: must be longer than 0s" in problems
    assert "server.body_timeout: expected a duration" in problems
    assert "server.max_connections" in problems
    server = parse_config(base, env={}).server
    assert (server.header_timeout.total_seconds(), server.body_timeout.total_seconds()) == (10, 30)
    assert (server.idle_timeout.total_seconds(), server.max_connections) == (75, 1000)
