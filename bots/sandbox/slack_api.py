"""A fake Slack Web API on 127.0.0.1: records calls (with the Authorization header each carried), answers like
Slack, can answer 429 with Retry-After; installs, token rotation and per-token identities are `workspaces`
(bots/sandbox/slack_oauth.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bots.sandbox.server import LocalServer
from bots.sandbox.slack_oauth import OAUTH_METHODS, SlackWorkspaces


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str
    result: dict[str, Any] | None = None  # what the fake answered, when it answered ok


@dataclass
class FakeSlack(LocalServer):
    calls: list[Call] = field(default_factory=list)
    locales: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # user id -> real name; none: an empty real_name
    timezones: dict[str, str] = field(default_factory=dict)  # user id -> users.info "tz"; none: no tz
    rate_limited: dict[str, int] = field(default_factory=dict)  # method -> Retry-After seconds (once)
    errors: dict[str, str] = field(default_factory=dict)  # method -> Slack error code (once)
    lasting_errors: dict[str, str] = field(default_factory=dict)  # method -> Slack error code, until removed
    statuses: dict[str, int] = field(default_factory=dict)  # method -> bare HTTP status, e.g. 503 (once)
    held: dict[str, asyncio.Event] = field(default_factory=dict)  # method -> answered only once the event is set
    parents: dict[str, str] = field(default_factory=dict)  # thread reply ts -> its parent's ts
    workspaces: SlackWorkspaces = field(default_factory=SlackWorkspaces)
    uploads: dict[str, bytes] = field(default_factory=dict)  # file id -> the bytes POSTed to its upload URL
    _ts: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def base(self) -> str:
        return self.url("/api/")

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._handle)
        app.router.add_post("/response/{id}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL files.getUploadURLExternal hands out: raw bytes or a multipart form with the file; an id
        it did not hand out gets 404, as an expired URL would."""
        file_id = request.match_info["file_id"]
        if file_id not in self.uploads:
            return web.Response(status=404, text="unknown upload")
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            part = next((v for v in form.values() if isinstance(v, web.FileField)), None)
            data = part.file.read() if part is not None else b""
        else:
            data = await request.read()
        self.uploads[file_id] = data
        return web.Response(text=f"OK - {len(data)}")

    async def _response_url(self, request: web.Request) -> web.Response:
        """Where slash-command `respond()` posts (Slack's response_url)."""
        self.calls.append(Call("response_url", await request.json(), ""))
        return web.Response(text="ok")

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.method == "GET":
            params: dict[str, Any] = dict(request.query)
        elif request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(request.query)  # slack_sdk sends some methods' arguments in the query (oauth.v2.exchange)
            for k, v in (await request.post()).items():
                text = str(v)
                params[k] = json.loads(text) if k in ("blocks", "view") else text
        if isinstance(params.get("files"), str):  # files.completeUploadExternal: a JSON array in a form field
            params["files"] = json.loads(params["files"])
        call = Call(method, params, request.headers.get("Authorization", ""))
        self.calls.append(call)
        if method in self.held:
            await self.held[method].wait()
        if method in self.statuses:
            return web.Response(status=self.statuses.pop(method), text="upstream unavailable")
        if method in self.rate_limited:
            wait = self.rate_limited.pop(method)
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(wait)}
            )
        if method in self.errors:
            return web.json_response({"ok": False, "error": self.errors.pop(method)})
        if method in self.lasting_errors:
            return web.json_response({"ok": False, "error": self.lasting_errors[method]})
        if method in OAUTH_METHODS:
            answer = self.workspaces.answer(method, params, call.token)
            if isinstance(answer, str):
                return web.json_response({"ok": False, "error": answer})
            call.result = answer
            return web.json_response({"ok": True, **answer})
        token = call.token.removeprefix("Bearer ")
        problem = self.workspaces.problem(token)
        if problem is not None:
            return web.json_response({"ok": False, "error": problem})
        call.result = self.workspaces.identity(token) if method == "auth.test" else None
        call.result = call.result or self._result(method, params)
        return web.json_response({"ok": True, **call.result})

    def _result(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method in ("chat.postMessage", "chat.update"):
            ts = params.get("ts") or f"1700000000.{next(self._ts):06d}"
            return {"channel": params["channel"], "ts": ts, "message": {"text": params.get("text"), "ts": ts}}
        if method == "chat.postEphemeral":
            return {"message_ts": f"1700000001.{next(self._ts):06d}"}
        if method == "users.info":
            user = params["user"]
            name = self.names.get(user, "")
            profile = {"real_name": name, "display_name": name.split(" ")[0]}
            zone = {"tz": self.timezones[user]} if user in self.timezones else {}
            return {"user": {"id": user, "name": user.lower(), "real_name": name, "profile": profile,
                             "locale": self.locales.get(user, "en-US"), **zone}}  # fmt: skip
        if method == "auth.test":
            return {"url": "https://example.slack.com/", "team": "Example", "user": "npsbot", "team_id": "T0001",
                    "user_id": "UBOTUSER", "bot_id": "B0BOT"}  # fmt: skip
        if method == "conversations.replies":  # the thread holding `ts`, parent first
            ts = params["ts"]
            parent = self.parents.get(ts, ts)
            return {"messages": [{"type": "message", "ts": parent, "thread_ts": parent}], "has_more": False}
        if method == "files.getUploadURLExternal":  # docs.slack.dev/reference/methods/files.getUploadURLExternal
            if not params.get("filename") or not str(params.get("length", "")).isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            file_id = f"F{next(self._ts):08d}"
            self.uploads[file_id] = b""
            return {"upload_url": self.url(f"/upload/{file_id}"), "file_id": file_id}
        if method == "files.completeUploadExternal":  # docs.slack.dev/reference/methods/files.completeUploadExternal
            files = [{"id": f["id"], "title": f.get("title"), "size": len(self.uploads.get(f["id"], b""))}
                     for f in params.get("files", [])]  # fmt: skip
            return {"files": files}
        if method == "views.open":
            return {"view": {"id": "V1", **params.get("view", {})}}
        return {}
