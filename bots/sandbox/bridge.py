"""A fake chat bridge / event subscriber on 127.0.0.1: records every signed POST and can answer 410, 429 or 500."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bots.sandbox.server import LocalServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeBridge(LocalServer):
    received: list[Received] = field(default_factory=list)
    answers: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    _taken: dict[str, int] = field(default_factory=dict)  # how many POSTs per path `next` has returned

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{path:.*}", self._handle)

    def answer(self, path: str, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        self.answers.setdefault(path, []).extend([(status, headers or {})] * times)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def next(self, path: str) -> Received:
        """The next POST to `path` that `next` has not returned yet, waited for; the minute's bound makes a broken
        run fail instead of hang."""

        async def arrived() -> Received:
            seen = self._taken.get(path, 0)
            while len(self.at(path)) <= seen:
                await asyncio.sleep(0.01)
            self._taken[path] = seen + 1
            return self.at(path)[seen]

        return await asyncio.wait_for(arrived(), 60)

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        self.received.append(Received(path, dict(request.headers), await request.read()))
        queued = self.answers.get(path)
        if queued:
            status, headers = queued.pop(0)
            return web.json_response({"status": status}, status=status, headers=headers)
        return web.json_response({"ok": True})
