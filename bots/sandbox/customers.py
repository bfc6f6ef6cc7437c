"""Customers and agents for `npsbot demo`. Every request is shaped and signed the way the platform sends it —
Telegram updates with the secret-token header, Slack events and interactions signed with the app's signing
secret, Standard Webhooks events from a bridge — and POSTed to the running app over 127.0.0.1, so the demo goes
through the same adapter code as production. Each driver also turns what its fake platform recorded into a
transcript line per call."""

from __future__ import annotations

import itertools
import json
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession

from bots.sandbox.bridge import FakeBridge
from bots.sandbox.signing import TELEGRAM_SECRET_HEADER, slack_headers, standard_webhook
from bots.sandbox.slack_api import FakeSlack
from bots.sandbox.telegram_api import FakeTelegram


@dataclass(frozen=True)
class Person:
    """A customer or an agent as one platform knows them: `key` is the Telegram user id, the Slack user id or
    the bridge's contact id; `locale` is in the platform's own form (`es`, or `es-ES` on Slack)."""

    key: int | str
    name: str
    locale: str | None = None
    team: str | None = None


def clip(text: str | None, width: int = 100) -> str:
    one_line = " ".join((text or "").split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


class Driver:
    """What the three drivers share: the app's URL, and a log of the requests sent per conversation, each with
    how many calls the fake had recorded at that moment, so a transcript can interleave the two."""

    def __init__(self, http: ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url
        self.sent: dict[str, list[tuple[int, str]]] = {}

    def recorded(self) -> int:
        raise NotImplementedError

    def calls(self, conversation: str) -> list[tuple[int, str]]:
        """(index in the fake's record, description) of the platform calls that belong to the conversation."""
        raise NotImplementedError

    def transcript(self, conversation: str) -> list[str]:
        """→ what the platform POSTed to npsbot, ← what npsbot called on the platform, in the order they happened."""
        lines = [((seq, 0), f"→ {text}") for seq, text in self.sent.get(conversation, [])]
        lines += [((i, 1), f"← {text}") for i, text in self.calls(conversation)]
        return [text for _, text in sorted(lines, key=lambda line: line[0])]

    async def _post(self, conversation: str, note: str, path: str, body: bytes, headers: dict[str, str]) -> None:
        self.sent.setdefault(conversation, []).append((self.recorded(), note))
        async with self.http.post(self.base_url + path, data=body, headers=headers) as resp:
            answer = await resp.text()
            if resp.status != 200:
                raise RuntimeError(f"POST {path} answered {resp.status}: {answer[:200]}")


class TelegramCustomers(Driver):
    """Customers and agents in Telegram groups: one small group per customer with the support agents in it."""

    def __init__(
        self, http: ClientSession, base_url: str, profile: str, secret: str, fake: FakeTelegram, bot_id: int
    ) -> None:
        super().__init__(http, base_url)
        self.path, self.secret, self.fake, self.bot_id = f"/telegram/{profile}", secret, fake, bot_id
        self._update_ids = itertools.count(810_000_001)
        self._message_ids = itertools.count(1)
        self._queries: dict[str, str] = {}  # callback query id -> conversation

    def recorded(self) -> int:
        return len(self.fake.calls)

    @staticmethod
    def _user(person: Person) -> dict[str, Any]:
        user: dict[str, Any] = {"id": person.key, "is_bot": False, "first_name": person.name}
        if person.locale:
            user["language_code"] = person.locale
        return user

    @staticmethod
    def _chat(conversation: str) -> dict[str, Any]:
        return {"id": int(conversation), "type": "supergroup", "title": "Acme Cloud support"}

    def _message(self, conversation: str, sender: Person, text: str, **extra: Any) -> dict[str, Any]:
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self._chat(conversation),
            "from": self._user(sender),
            "text": text,
            **extra,
        }
        if text.startswith("/"):
            message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
        return message

    async def _update(self, conversation: str, note: str, **payload: Any) -> None:
        body = json.dumps({"update_id": next(self._update_ids), **payload}).encode()
        headers = {"Content-Type": "application/json", TELEGRAM_SECRET_HEADER: self.secret}
        await self._post(conversation, note, self.path, body, headers)

    async def close(self, conversation: str, customer: Person, agent: Person, opening: str) -> None:
        """The customer writes; an agent answers `/close` as a reply to that message."""
        asked = self._message(conversation, customer, opening)
        await self._update(conversation, f'message from {customer.name}: "{clip(opening)}"', message=asked)
        close = self._message(conversation, agent, "/close", reply_to_message=asked)
        note = f"message from {agent.name}: /close, replying to {customer.name}"
        await self._update(conversation, note, message=close)

    async def tap(self, conversation: str, customer: Person, score: int) -> None:
        """A tap on the question's inline keyboard, as the message Telegram holds it."""
        question = next(
            c for c in reversed(self.fake.of("sendMessage", int(conversation))) if c.params.get("reply_markup")
        )
        button = [b for row in question.params["reply_markup"]["inline_keyboard"] for b in row][score]
        sent = question.result
        query_id = f"{abs(int(conversation))}{next(self._message_ids)}"
        self._queries[query_id] = conversation
        query = {
            "id": query_id,
            "from": self._user(customer),
            "message": {k: sent[k] for k in ("message_id", "date", "chat", "from", "text")},
            "chat_instance": str(-abs(int(conversation))),
            "data": button["callback_data"],
        }
        note = f'callback_query from {customer.name}: taps "{button["text"]}" ({button["callback_data"]})'
        await self._update(conversation, note, callback_query=query)

    async def write(self, conversation: str, customer: Person, text: str) -> None:
        message = self._message(conversation, customer, text)
        await self._update(conversation, f'message from {customer.name}: "{clip(text)}"', message=message)

    def calls(self, conversation: str) -> list[tuple[int, str]]:
        chat_id = int(conversation)
        out = []
        for i, call in enumerate(self.fake.calls):
            p = call.params
            if call.method == "answerCallbackQuery" and self._queries.get(str(p.get("callback_query_id"))) == (
                conversation
            ):
                out.append((i, f'answerCallbackQuery "{clip(p.get("text"))}"'))
            elif call.method in ("sendMessage", "editMessageReplyMarkup") and call.chat_id == chat_id:
                out.append((i, f"{call.method} {_telegram_text(p)}"))
        return out


def _telegram_text(params: dict[str, Any]) -> str:
    rows = (params.get("reply_markup") or {}).get("inline_keyboard") or []
    buttons = [b["text"] for row in rows for b in row]
    text = f'"{clip(params["text"])}"' if params.get("text") else ""
    if len(buttons) == 11:
        return f"{text}\n  keyboard [{buttons[0]}] [1] … [9] [{buttons[-1]}]"
    return " ".join([text, *(f"[{b}]" for b in buttons)]).strip()


class SlackCustomers(Driver):
    """Customers in Slack Connect channels (one per customer company); agents close with the reaction or
    `/nps-close`, customers tap the question's buttons or reply in the thread."""

    TEAM, APP = "T0ACMECLOUD", "A0NPSBOT01"

    def __init__(
        self,
        http: ClientSession,
        base_url: str,
        profile: str,
        signing_secret: str,
        fake: FakeSlack,
        idle: Callable[[], Awaitable[None]],
    ) -> None:
        super().__init__(http, base_url)
        self.path, self.signing_secret, self.fake, self.idle = f"/slack/{profile}/events", signing_secret, fake, idle
        self._ids = itertools.count(1)
        self.threads: dict[str, str | None] = {}
        self.customers: dict[str, str] = {}
        self.closes = 0

    def recorded(self) -> int:
        return len(self.fake.calls)

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    async def _signed(self, conversation: str, note: str, body: str, content_type: str) -> None:
        """Signed as Slack signs (bots.sandbox.signing)."""
        headers = {"Content-Type": content_type, **slack_headers(self.signing_secret, body)}
        await self._post(conversation, note, self.path, body.encode(), headers)
        await self.idle()  # Slack gets its answer first; the work runs after the acknowledgement

    async def _event(self, conversation: str, note: str, event: dict[str, Any]) -> None:
        payload = {
            "token": "demo-verification-token",
            "team_id": self.TEAM,
            "api_app_id": self.APP,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
        }
        await self._signed(conversation, note, json.dumps(payload), "application/json")

    async def _message(self, conversation: str, customer: Person, text: str, thread: str | None) -> str:
        ts = self._ts()
        event = {"type": "message", "channel": conversation, "user": customer.key, "text": text, "ts": ts,
                 "event_ts": ts, "channel_type": "channel"}  # fmt: skip
        if thread:
            event["thread_ts"] = thread
        where = "in the thread" if thread else "in the channel"
        await self._event(conversation, f'message from {customer.name} {where}: "{clip(text)}"', event)
        return ts

    async def close(self, conversation: str, customer: Person, agent: Person, opening: str) -> None:
        """The customer asks in the channel; the agent closes with the ✅ reaction, or every other time with
        `/nps-close @customer`."""
        self.fake.locales[str(customer.key)] = customer.locale or "en-US"
        self.fake.names |= {str(customer.key): customer.name, str(agent.key): agent.name}
        self.customers[conversation] = str(customer.key)
        root = await self._message(conversation, customer, opening, None)
        self.closes += 1
        if self.closes % 2:
            self.threads[conversation] = root
            item = {"type": "message", "channel": conversation, "ts": root}
            event = {"type": "reaction_added", "user": agent.key, "reaction": "white_check_mark",
                     "item_user": customer.key, "item": item, "event_ts": self._ts()}  # fmt: skip
            await self._event(conversation, f"reaction_added :white_check_mark: by {agent.name}", event)
            return
        self.threads[conversation] = None
        n = next(self._ids)
        form = {
            "token": "demo-verification-token", "team_id": self.TEAM, "team_domain": "acme-cloud",
            "channel_id": conversation, "channel_name": "shared-support", "user_id": str(agent.key),
            "user_name": agent.name.lower(), "command": "/nps-close", "text": f"<@{customer.key}|{customer.name}>",
            "api_app_id": self.APP, "response_url": self.fake.url(f"/response/{n}"), "trigger_id": f"{n}.demo",
        }  # fmt: skip
        note = f"/nps-close <@{customer.key}> by {agent.name}"
        await self._signed(conversation, note, urllib.parse.urlencode(form), "application/x-www-form-urlencoded")

    async def tap(self, conversation: str, customer: Person, score: int) -> None:
        """A block_actions interaction on the question's 0–10 buttons."""
        question = next(
            c
            for c in reversed(self.fake.of("chat.postMessage"))
            if c.params.get("channel") == conversation and "nps_score_0" in json.dumps(c.params.get("blocks"))
        )
        button = next(
            e
            for block in question.params["blocks"]
            if block["type"] == "actions"
            for e in block["elements"]
            if e["action_id"] == f"nps_score_{score}"
        )
        ts = question.result["ts"] if question.result else self._ts()
        message = {"type": "message", "ts": ts, "text": question.params.get("text"), "bot_id": "B0BOT"}
        if question.params.get("thread_ts"):
            message["thread_ts"] = question.params["thread_ts"]
        action = {"action_id": button["action_id"], "block_id": "nps_scale", "value": button["value"],
                  "type": "button", "text": button["text"], "action_ts": self._ts()}  # fmt: skip
        payload = {
            "type": "block_actions",
            "team": {"id": self.TEAM, "domain": "acme-cloud"},
            "user": {"id": customer.key, "username": customer.name.lower(), "team_id": self.TEAM},
            "api_app_id": self.APP,
            "token": "demo-verification-token",
            "container": {"type": "message", "message_ts": ts, "channel_id": conversation, "is_ephemeral": False},
            "trigger_id": f"{next(self._ids)}.demo",
            "channel": {"id": conversation, "name": "shared-support"},
            "message": message,
            "actions": [action],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        note = f"block_actions from {customer.name}: {button['action_id']} ({button['value']})"
        await self._signed(conversation, note, body, "application/x-www-form-urlencoded")

    async def write(self, conversation: str, customer: Person, text: str) -> None:
        await self._message(conversation, customer, text, self.threads.get(conversation))

    async def follow_up(self, alert: Any, lead: Person, action: str = "nps_claim") -> None:
        """A support lead taps Claim (`nps_claim`) or Resolved (`nps_resolve`) on a detractor alert the fake
        recorded (its chat.postMessage call): a block_actions interaction from the alert's channel."""
        channel = str(alert.params["channel"])
        buttons = [e for b in alert.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
        button = next(e for e in buttons if e["action_id"] == action)
        ts = alert.result["ts"] if alert.result else self._ts()
        message = {"type": "message", "ts": ts, "text": alert.params.get("text"), "bot_id": "B0BOT"}
        payload = {
            "type": "block_actions",
            "team": {"id": self.TEAM, "domain": "acme-cloud"},
            "user": {"id": lead.key, "username": lead.name.lower(), "name": lead.name, "team_id": self.TEAM},
            "api_app_id": self.APP,
            "token": "demo-verification-token",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": f"{next(self._ids)}.demo",
            "channel": {"id": channel, "name": "support-leads"},
            "message": message | {"blocks": alert.params["blocks"]},
            "actions": [{"action_id": action, "block_id": "follow_up", "value": button["value"], "type": "button",
                         "text": button["text"], "action_ts": self._ts()}],
        }  # fmt: skip
        self.fake.names[str(lead.key)] = lead.name
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        await self._signed(channel, f"block_actions from {lead.name}: {action} ({button['value']})", body,
                           "application/x-www-form-urlencoded")  # fmt: skip

    def calls(self, conversation: str) -> list[tuple[int, str]]:
        customer = self.customers.get(conversation)
        out = []
        for i, call in enumerate(self.fake.calls):
            p = call.params
            if call.method.startswith("chat.") and p.get("channel") == conversation:
                out.append((i, f"{call.method}{' in the thread' if p.get('thread_ts') else ''} {_slack_text(p)}"))
            elif call.method == "users.info" and p.get("user") == customer:
                locale = (call.result or {}).get("user", {}).get("locale")
                out.append((i, f"users.info {customer} → locale {locale}"))
            elif call.method == "conversations.replies" and p.get("channel") == conversation:
                out.append((i, "conversations.replies (is the reacted message the thread's first?)"))
            elif call.method == "response_url" and customer and customer in str(p.get("text")):
                out.append((i, f'response_url "{clip(p.get("text"))}"'))
        return out


def _slack_text(params: dict[str, Any]) -> str:
    buttons = [
        e["text"]["text"] for b in params.get("blocks") or [] if b.get("type") == "actions" for e in b["elements"]
    ]
    text = f'"{clip(params.get("text"))}"'
    if len(buttons) == 11:
        return f"{text}\n  buttons [0] [1] … [9] [10]"
    return "\n  buttons ".join([text, " ".join(f"[{b}]" for b in buttons)]) if buttons else text


class BridgeCustomers(Driver):
    """Customers behind a chat bridge (say, WhatsApp): the bridge sends Standard-Webhooks-signed events and
    receives what npsbot says at its deliver URL."""

    def __init__(
        self, http: ClientSession, base_url: str, profile: str, secret: str, fake: FakeBridge, deliver_path: str
    ) -> None:
        super().__init__(http, base_url)
        self.path, self.secret, self.fake, self.deliver_path = f"/webhook/{profile}/events", secret, fake, deliver_path
        self._ids = itertools.count(1)

    def recorded(self) -> int:
        return len(self.fake.received)

    async def _event(self, conversation: str, note: str, payload: dict[str, Any]) -> None:
        """Signed as Standard Webhooks (bots.sandbox.signing)."""
        raw = json.dumps(payload, ensure_ascii=False).encode()
        body, headers = standard_webhook(self.secret, raw, msg_id=f"msg_demo_{next(self._ids):06d}")
        await self._post(conversation, note, self.path, body, headers)

    async def close(self, conversation: str, customer: Person, agent: Person, opening: str) -> None:
        data = {"conversation_id": conversation, "contact_id": customer.key, "locale": customer.locale,
                "agent": agent.name, "team": agent.team, "customer_name": customer.name,
                "metadata": {"first_message": opening}}  # fmt: skip
        note = f"conversation.closed by {agent.name} ({agent.team}), locale {customer.locale}"
        await self._event(conversation, note, {"type": "conversation.closed", "data": data})

    async def tap(self, conversation: str, customer: Person, score: int) -> None:
        """The customer picks an option of the list the bridge showed."""
        question = next(
            r.json
            for r in reversed(self.fake.at(self.deliver_path))
            if r.json.get("type") == "question" and r.json.get("conversation_id") == conversation
        )
        data = {"conversation_id": conversation, "contact_id": customer.key, "option": score,
                "survey_id": question["survey_id"]}  # fmt: skip
        await self._event(conversation, f"message.received option {score}", {"type": "message.received", "data": data})

    async def write(self, conversation: str, customer: Person, text: str) -> None:
        data = {"conversation_id": conversation, "contact_id": customer.key, "text": text}
        note = f'message.received text "{clip(text)}"'
        await self._event(conversation, note, {"type": "message.received", "data": data})

    def calls(self, conversation: str) -> list[tuple[int, str]]:
        out = []
        for i, r in enumerate(self.fake.received):
            if r.path != self.deliver_path or r.json.get("conversation_id") != conversation:
                continue
            m = r.json
            extra = ""
            if m.get("options"):
                extra = f"\n  options [{m['options'][0]['label']}] [1] … [9] [{m['options'][-1]['label']}]"
            elif m.get("score") is not None:
                extra = f" (score {m['score']})"
            out.append((i, f'deliver {m["type"]} "{clip(m.get("text"))}"{extra}'))
        return out
