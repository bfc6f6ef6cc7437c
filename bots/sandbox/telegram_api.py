"""A fake Telegram Bot API server on 127.0.0.1: records every call, answers like the real one, and can be told to
fail (403 blocked, 429 retry_after, 500) or to enforce Telegram's flood limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bots.sandbox.server import LocalServer


@dataclass
class Call:
    token: str
    method: str
    params: dict[str, Any]
    result: Any = None
    at: float = field(default_factory=time.monotonic)  # when the call arrived, as the flood limits count it

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return None if value is None else int(value)


@dataclass
class Fault:
    method: str
    status: int
    description: str
    chat_id: int | None = None
    times: int = 1
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    delay: float = 0.0


@dataclass
class FloodLimits:
    """Telegram's published limits: ~1 message/s per chat, 30/s per bot, 20/min per group."""

    per_chat: tuple[int, float] = (1, 1.0)
    per_bot: tuple[int, float] = (30, 1.0)
    per_group: tuple[int, float] = (20, 60.0)


NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
SENDING = {"sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup"}


@dataclass
class FakeTelegram(LocalServer):
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    updates: deque[dict[str, Any]] = field(default_factory=deque)
    admins: set[int] = field(default_factory=set)
    messages: dict[tuple[int, int], tuple[str, Any]] = field(default_factory=dict)
    limits: FloodLimits | None = None
    rejected_429: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _sent: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    @property
    def base(self) -> str:
        return self.url().rstrip("/")

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    def fail(self, method: str, status: int, description: str, **kwargs: Any) -> None:
        self.faults.append(Fault(method, status, description, **kwargs))

    def of(self, method: str, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == method and (chat_id is None or c.chat_id == chat_id)]

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        out: dict[str, Any] = {}
        files = {k: v.file.read() for k, v in form.items() if isinstance(v, web.FileField)}  # multipart uploads
        for key, value in form.items():
            if key in files:
                continue
            text = str(value)
            if text.startswith("attach://"):  # how a Bot API request names the file part it sends
                out[key] = files.get(text.removeprefix("attach://"), b"")
                continue
            if key in ("reply_markup", "allowed_updates", "entities"):
                text = json.loads(text)
            out[key] = text
        return out

    def _flood(self, method: str, chat_id: int | None) -> int | None:
        """Seconds to wait if this send would exceed a limit; records the send otherwise."""
        if self.limits is None or method not in SENDING or chat_id is None:
            return None
        now = time.monotonic()
        buckets = [("bot", self.limits.per_bot), (f"chat:{chat_id}", self.limits.per_chat)]
        if chat_id < 0:
            buckets.append((f"group:{chat_id}", self.limits.per_group))
        for key, (count, window) in buckets:
            sent = self._sent[key]
            while sent and sent[0] <= now - window:
                sent.popleft()
            if len(sent) >= count:
                return max(1, int(window - (now - sent[0])) + 1)
        for key, _ in buckets:
            self._sent[key].append(now)
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params = await self._params(request)
        call = Call(token, method, params)
        self.calls.append(call)
        for fault in list(self.faults):
            if fault.method == method and (fault.chat_id is None or fault.chat_id == call.chat_id):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                if fault.delay:  # a slow answer: the client gives up before it arrives
                    await asyncio.sleep(fault.delay)
                if fault.status == 200:
                    break
                body: dict[str, Any] = {"ok": False, "error_code": fault.status, "description": fault.description}
                if fault.retry_after is not None:
                    body["parameters"] = {"retry_after": fault.retry_after}
                if fault.migrate_to_chat_id is not None:
                    body["parameters"] = {"migrate_to_chat_id": fault.migrate_to_chat_id}
                return web.json_response(body, status=fault.status)
        wait = self._flood(method, call.chat_id)
        if wait is not None:
            self.rejected_429 += 1
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {wait}",
                "parameters": {"retry_after": wait},
            }
            return web.json_response(body, status=429)
        unchanged = self._unchanged(method, params)
        if unchanged is not None:
            return web.json_response({"ok": False, "error_code": 400, "description": unchanged}, status=400)
        result = await self._result(token, method, params)
        if isinstance(result, dict) and "_error" in result:
            return web.json_response({"ok": False, "error_code": 400, "description": result["_error"]}, status=400)
        call.result = result
        return web.json_response({"ok": True, "result": call.result})

    def _unchanged(self, method: str, params: dict[str, Any]) -> str | None:
        """Telegram refuses an edit that changes nothing; records the new content otherwise."""
        if method not in ("editMessageText", "editMessageReplyMarkup") or "message_id" not in params:
            return None
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self.messages:
            return None
        text, markup = self.messages[key]
        new = (params.get("text", text), params.get("reply_markup") or None)
        if new == (text, markup):
            return NOT_MODIFIED
        self.messages[key] = new
        return None

    async def _result(self, token: str, method: str, params: dict[str, Any]) -> Any:
        bot_id = int(token.split(":")[0])
        if method == "getMe":
            return {"id": bot_id, "is_bot": True, "first_name": "NPS", "username": "nps_bot"}
        if method in ("sendMessage", "editMessageText"):
            chat_id = int(params["chat_id"])
            message_id = int(params["message_id"]) if method == "editMessageText" else next(self._ids)
            msg: dict[str, Any] = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": {"id": bot_id, "is_bot": True, "first_name": "NPS"},
                "text": params.get("text", ""),
            }
            if params.get("reply_markup"):
                msg["reply_markup"] = params["reply_markup"]
            if method == "sendMessage":
                self.messages[(chat_id, message_id)] = (msg["text"], params.get("reply_markup") or None)
            return msg
        if method == "sendPhoto":  # multipart: the photo's bytes, the caption
            chat_id = int(params["chat_id"])
            photo = params.get("photo")
            if not isinstance(photo, bytes) or not photo:
                return {"_error": "Bad Request: there is no photo in the request"}
            sizes = [{"file_id": f"AgAD{next(self._ids)}", "file_unique_id": "u1", "width": 640, "height": 320,
                      "file_size": len(photo)}]  # fmt: skip
            msg = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": {"id": bot_id, "is_bot": True, "first_name": "NPS"},
                "photo": sizes,
            }
            if params.get("caption"):
                msg["caption"] = params["caption"]
            return msg
        if method == "getChatMember":
            user_id = int(params["user_id"])
            status = "administrator" if user_id in self.admins else "member"
            user = {"id": user_id, "is_bot": False, "first_name": "U"}
            if status == "administrator":
                return {"status": status, "user": user, **ADMIN_RIGHTS}
            return {"status": status, "user": user}
        if method == "getUpdates":
            # Like Telegram: an update stays queued until a later call's offset confirms it.
            offset = int(params.get("offset") or 0)
            while self.updates and self.updates[0]["update_id"] < offset:
                self.updates.popleft()
            if not self.updates:
                await asyncio.sleep(min(float(params.get("timeout", 0) or 0), 0.2))
            return list(self.updates)
        return True


ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_send_welcome_messages": False,
}
