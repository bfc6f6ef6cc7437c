"""Dashboard sessions over HTTP, on SQLite and PostgreSQL: the cookie is an opaque, revocable session held in the
database, shared by every web process, never the token it was opened with."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

from sqlalchemy import select

from bots.auth import SESSION_COOKIE
from bots.cli import main as npsbot
from core.store import Store
from core.store.tables import WebSessionRow
from tests.conftest import FakeClock
from tests.web_apps import ACME, ADMIN, cookie, own_origin, serve, sign_in

S = WebSessionRow.__table__


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def rows(store: Store) -> list:
    async with store.read() as conn:
        return list((await conn.execute(select(S))).all())


async def profiles_seen(client, session: str) -> list[str] | int:
    resp = await client.get("/report/data.json", headers=cookie(session))
    return (await resp.json())["profiles"] if resp.status == 200 else resp.status


async def test_the_cookie_is_an_opaque_session_not_the_token(store: Store, clock: FakeClock) -> None:
    async with serve(store.url, clock) as client:
        resp = await client.post(
            "/report/login", data={"token": ADMIN}, headers=own_origin(client), allow_redirects=False
        )
        assert resp.status == 303
        set_cookie = resp.headers["Set-Cookie"]
        session = resp.cookies[SESSION_COOKIE].value
        assert ADMIN not in set_cookie and len(session) >= 40
        attributes = {a.strip().split("=")[0].lower(): a for a in set_cookie.split(";")[1:]}
        assert {"httponly", "path", "samesite", "max-age"} <= attributes.keys()
        assert attributes["samesite"].strip() == "SameSite=Strict" and attributes["path"].strip() == "Path=/"
        assert "secure" not in attributes  # plain http and no https public URL
        client.session.cookie_jar.clear()
        [row] = await rows(store)
        assert row.id_hash == sha256(session) and row.token_hash == sha256(ADMIN) and row.scope == "*"
        assert ADMIN not in repr(tuple(row)) and session not in repr(tuple(row))
        assert row.expires_at - row.created_at == timedelta(hours=8)
        assert await profiles_seen(client, session) == ["acme", "tapas"]
        # a cookie holding the token itself is no session
        assert (await client.get("/report/data.json", headers=cookie(ADMIN))).status == 401
        clock.advance(minutes=5)
        assert await profiles_seen(client, session) == ["acme", "tapas"]
        [row] = await rows(store)
        assert row.last_seen_at == clock.now
        out = await client.post(
            "/report/logout", headers={**cookie(session), **own_origin(client)}, allow_redirects=False
        )
        assert out.status == 303 and await rows(store) == []
        assert await profiles_seen(client, session) == 401  # replaying the cookie after sign-out


async def test_secure_cookie_when_the_public_url_is_https(store: Store, clock: FakeClock) -> None:
    public = "https://nps.example.com"
    async with serve(store.url, clock, public_url=public) as client:
        resp = await client.post(
            "/report/login", data={"token": ACME}, headers={"Origin": public}, allow_redirects=False
        )
        assert resp.status == 303
        flags = [a.strip().lower() for a in resp.headers["Set-Cookie"].split(";")]
        assert "secure" in flags and "httponly" in flags and "samesite=strict" in flags


async def test_expired_sessions_are_refused_and_pruned(store: Store, clock: FakeClock) -> None:
    async with serve(store.url, clock) as client:
        first = await sign_in(client, ADMIN)
        clock.advance(hours=7)
        second = await sign_in(client, ACME)
        clock.advance(hours=1)
        assert await profiles_seen(client, first) == 401  # eight hours old
        assert [r.id_hash for r in await rows(store)] == [sha256(second)]  # refused and deleted
        assert await profiles_seen(client, second) == ["acme"]
        clock.advance(hours=7, minutes=1)
        third = await sign_in(client, ADMIN)  # signing in prunes what expired meanwhile, unvisited
        assert [r.id_hash for r in await rows(store)] == [sha256(third)]


async def test_sessions_work_across_web_processes(store: Store, clock: FakeClock) -> None:
    async with serve(store.url, clock) as one, serve(store.url, clock) as two:
        session = await sign_in(one, ACME)
        assert await profiles_seen(two, session) == ["acme"]
        out = await two.post("/report/logout", headers={**cookie(session), **own_origin(two)}, allow_redirects=False)
        assert out.status == 303
        assert await profiles_seen(one, session) == 401


async def test_removing_a_token_from_the_config_revokes_its_sessions(store: Store, clock: FakeClock) -> None:
    async with serve(store.url, clock) as before:
        acme = await sign_in(before, ACME)
        admin = await sign_in(before, ADMIN)
    async with serve(store.url, clock, acme=()) as after:  # acme's token was taken out of the configuration
        assert await profiles_seen(after, acme) == 401
        assert await profiles_seen(after, admin) == ["acme", "tapas"]
        assert [r.id_hash for r in await rows(store)] == [sha256(admin)]


async def test_a_session_never_gains_reach(store: Store, clock: FakeClock) -> None:
    """A session keeps at most the profiles it was opened with, and loses what its token lost since."""
    token = "sec-moving-token-0123456789"
    async with serve(store.url, clock, admin=(ADMIN, token)) as as_admin:
        opened_as_admin = await sign_in(as_admin, token)
    async with serve(store.url, clock, admin=(ADMIN,), acme=(ACME, token)) as as_acme:
        assert await profiles_seen(as_acme, opened_as_admin) == ["acme"]
        opened_as_acme = await sign_in(as_acme, token)
    async with serve(store.url, clock, admin=(ADMIN, token)) as as_admin:
        assert await profiles_seen(as_admin, opened_as_acme) == ["acme"]
        assert await profiles_seen(as_admin, opened_as_admin) == ["acme", "tapas"]


async def test_an_admin_revokes_every_session_from_the_command_line(store: Store, clock: FakeClock, capsys) -> None:
    async with serve(store.url, clock) as one, serve(store.url, clock) as two:
        sessions = [await sign_in(one, ADMIN), await sign_in(two, ACME)]
        code = await asyncio.to_thread(npsbot, ["sessions", "revoke-all", "--database", store.url])
        assert code == 0 and "2 dashboard session(s) revoked" in capsys.readouterr().out
        for client in (one, two):
            for session in sessions:
                assert await profiles_seen(client, session) == 401
        assert await rows(store) == []
