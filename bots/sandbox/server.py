"""What every fake platform server shares: an aiohttp app on 127.0.0.1 at a free port."""

from __future__ import annotations

from typing import Self

from aiohttp import web
from aiohttp.test_utils import TestServer


class LocalServer:
    """Subclasses add their routes in `routes`; tests `await fake.start()` and `await fake.close()`."""

    server: TestServer | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> Self:
        app = web.Application()
        self.routes(app)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def url(self, path: str = "") -> str:
        assert self.server is not None
        return str(self.server.make_url(path))
