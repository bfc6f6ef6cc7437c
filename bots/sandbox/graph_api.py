"""A fake Meta Graph API on 127.0.0.1 for WhatsApp, Messenger and Instagram sends: records every POST to
`/{version}/{id}/messages` (raw path, headers, JSON), answers as Meta does — WhatsApp with the `wamid` of the message
it accepted, Messenger and Instagram with `recipient_id` and `message_id` — and can be told to fail the next sends
with a Graph error envelope (HTTP status, code, subcode, type, message, WhatsApp's `error_data`), to refuse an
access token it does not know (190), or to misbehave unlike Graph (LocalServer.misbehave)."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bots.sandbox.server import LocalServer

VERSION = "v21.0"


@dataclass
class Sent:
    """One POST to a `messages` edge as it arrived: `node` is the id in the path (phone-number id, page id, `me`)."""

    raw_path: str
    version: str
    node: str
    headers: dict[str, str]
    json: dict[str, Any]
    answer: dict[str, Any] | None = None  # what the fake answered when it accepted the send

    @property
    def token(self) -> str:
        return self.headers.get("Authorization", "").removeprefix("Bearer ")

    @property
    def to(self) -> str | None:
        """The recipient: WhatsApp's `to`, Messenger's and Instagram's `recipient.id`."""
        if isinstance(self.json.get("to"), str):
            return str(self.json["to"])
        recipient = self.json.get("recipient")
        return str(recipient.get("id")) if isinstance(recipient, dict) and recipient.get("id") is not None else None

    @property
    def whatsapp(self) -> bool:
        return self.json.get("messaging_product") == "whatsapp"

    @property
    def message_id(self) -> str | None:
        """The id Meta gave the message (wamid… or m_…), as status and read webhooks later name it."""
        a = self.answer or {}
        if a.get("messages"):
            return str(a["messages"][0]["id"])
        return str(a["message_id"]) if a.get("message_id") else None


@dataclass
class GraphFault:
    """The answer to the next `times` matching sends: Graph's error envelope with this status and codes."""

    code: int
    status: int = 400
    subcode: int | None = None
    type: str = "OAuthException"
    message: str = "An error occurred"
    details: str | None = None  # WhatsApp's error_data.details
    times: int = 1
    to: str | None = None  # only sends to this recipient
    retry_after: int | None = None  # a Retry-After header, as a proxy in front of Graph might add
    regain_minutes: int | None = None  # X-Business-Use-Case-Usage's estimated_time_to_regain_access, as Meta sends
    usage: str | None = None  # that header's raw value instead (a malformed one, on purpose)

    def headers(self) -> dict[str, str]:
        out = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        if self.regain_minutes is not None:
            usage = {"1": [{"type": "messenger", "call_count": 100, "total_cputime": 12, "total_time": 30,
                            "estimated_time_to_regain_access": self.regain_minutes}]}  # fmt: skip
            out["X-Business-Use-Case-Usage"] = json.dumps(usage)
        if self.usage is not None:
            out["X-Business-Use-Case-Usage"] = self.usage
        return out

    def envelope(self, trace: str) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code, "fbtrace_id": trace}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        return {"error": error}


# Errors as Meta documents them, ready for `fake.fail(**ERRORS[name])`.
ERRORS: dict[str, dict[str, Any]] = {
    "whatsapp_rate_limit": {"code": 130429, "message": "(#130429) Rate limit hit"},
    "whatsapp_pair_rate_limit": {
        "code": 131056,
        "message": "(#131056) (Business Account, Consumer Account) pair rate limit hit",
    },
    "whatsapp_outside_window": {
        "code": 131047,
        "message": "(#131047) Re-engagement message",
        "details": "Message failed to send because more than 24 hours have passed since the customer last replied "
        "to this number.",
    },
    "whatsapp_undeliverable": {"code": 131026, "message": "(#131026) Message Undeliverable"},
    "whatsapp_template_missing": {
        "code": 132001,
        "message": "(#132001) Template name does not exist in the translation",
    },
    "invalid_token": {
        "code": 190,
        "status": 401,
        "subcode": 463,
        "message": "Error validating access token: Session has expired",
    },
    "messenger_outside_window": {
        "code": 10,
        "subcode": 2018278,
        "message": "(#10) This message is sent outside of allowed window.",
    },
    "messenger_unavailable": {"code": 551, "subcode": 1545041, "message": "This person isn't available right now."},
    "messenger_rate_limit": {"code": 613, "message": "(#613) Calls to this api have exceeded the rate limit."},
    "temporary": {"code": 2, "status": 500, "message": "Service temporarily unavailable"},
}


@dataclass
class FakeGraph(LocalServer):
    sent: list[Sent] = field(default_factory=list)
    faults: list[GraphFault] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)  # when set, any other token is refused with error 190
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # GET /{version}/{id}: a user's profile
    version: str = VERSION
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _taken: int = 0  # how many sends `next` has returned

    @property
    def base(self) -> str:
        """A channel's `api_base`: the server and the version, as https://graph.facebook.com/v21.0 is."""
        return self.url(f"/{self.version}").rstrip("/")

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{version}/{node}/messages", self._messages)
        app.router.add_get("/{version}/{node}", self._profile)

    def fail(self, code: int, **kwargs: Any) -> GraphFault:
        """Answer the next matching send(s) with this Graph error; see ERRORS for Meta's documented ones."""
        fault = GraphFault(code, **kwargs)
        self.faults.append(fault)
        return fault

    def of(self, node: str | None = None, to: str | None = None) -> list[Sent]:
        return [s for s in self.sent if (node is None or s.node == node) and (to is None or s.to == to)]

    async def next(self) -> Sent:
        """The next send `next` has not returned yet, waited for (a minute at most, so a broken run fails)."""

        async def arrived() -> Sent:
            while len(self.sent) <= self._taken:
                await asyncio.sleep(0.01)
            self._taken += 1
            return self.sent[self._taken - 1]

        return await asyncio.wait_for(arrived(), 60)

    def _refusal(self, request: web.Request, to: str | None) -> web.Response | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.tokens and token not in self.tokens:
            fault = GraphFault(190, status=401, message="Invalid OAuth access token - Cannot parse access token")
            return web.json_response(fault.envelope(self._trace()), status=fault.status)
        for fault in list(self.faults):
            if fault.to is not None and fault.to != to:
                continue
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            return web.json_response(fault.envelope(self._trace()), status=fault.status, headers=fault.headers())
        return None

    def _trace(self) -> str:
        return f"A{next(self._ids):010d}"

    async def _messages(self, request: web.Request) -> web.Response:
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        sent = Sent(
            request.raw_path,
            request.match_info["version"],
            request.match_info["node"],
            dict(request.headers),
            payload if isinstance(payload, dict) else {},
        )
        self.sent.append(sent)
        if not isinstance(payload, dict):
            fault = GraphFault(100, message="(#100) The parameter messaging_product is required.")
            return web.json_response(fault.envelope(self._trace()), status=400)
        refused = self._refusal(request, sent.to)
        if refused is not None:
            return refused
        sent.answer = self._answer(sent)
        return web.json_response(sent.answer)

    def _answer(self, sent: Sent) -> dict[str, Any]:
        n = next(self._ids)
        if sent.whatsapp:
            if sent.json.get("status") == "read":  # marking a received message as read
                return {"success": True}
            to = sent.to or ""
            wamid = f"wamid.HBgL{to}FQIAERgS{n:020X}"
            contacts = [{"input": to, "wa_id": to}]
            return {"messaging_product": "whatsapp", "contacts": contacts, "messages": [{"id": wamid}]}
        if sent.json.get("sender_action"):  # typing_on, mark_seen: no message is created
            return {"recipient_id": sent.to}
        return {"recipient_id": sent.to, "message_id": f"m_AG5Hz2Uq7tuwNEhX{n:012d}"}

    async def _profile(self, request: web.Request) -> web.Response:
        """A Messenger / Instagram user profile (first_name, locale, …), as the `fields` asked for it."""
        node = request.match_info["node"]
        refused = self._refusal(request, node) if self.tokens else None
        if refused is not None:
            return refused
        known = self.profiles.get(node)
        if known is None:
            why = f"Unsupported get request. Object with ID '{node}' does not exist"
            fault = GraphFault(100, subcode=33, type="GraphMethodException", message=why)
            return web.json_response(fault.envelope(self._trace()), status=400)
        fields = [f for f in request.query.get("fields", "").split(",") if f]
        return web.json_response({"id": node, **({k: v for k, v in known.items() if k in fields} if fields else known)})
