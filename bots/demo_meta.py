"""The demo's WhatsApp and Instagram side: the two channels pointed at the local Graph API stand-in, and their
customers. WhatsApp and Instagram have no "conversation closed" event, so here, as in production, the help desk
closes the conversation through npsbot's operator API once the customer has written; the question then arrives in
the customer's chat. A WhatsApp customer whose last message is more than 24 hours old gets the approved template
first, taps its quick reply, and then picks from the list; scores 1 and 2 take the list's "1 – 2" row and a button."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import ClientSession

from bots.sandbox.customers import Person, clip
from bots.sandbox.graph_api import FakeGraph, Sent
from bots.sandbox.meta_customers import MetaCustomers, wa_template_button, wa_text

API_TOKEN = "demo-operator-api-token-0123456789"  # the help desk's token for the operator API
WHATSAPP_SECRET, INSTAGRAM_SECRET = "demo-whatsapp-app-secret-0123", "demo-instagram-app-secret-0123"
WHATSAPP_NUMBER, INSTAGRAM_ACCOUNT = "106540352242922", "17841405822304914"
LATE = timedelta(hours=30)  # how long ago the demo's "late" WhatsApp customers last wrote
# The language of the approved template for each locale (the operator names them as Meta registered them).
LANGUAGES = dict(en="en_US", es="es", ca="ca", it="it", pt="pt_BR", fr="fr", de="de")


def meta_channels(graph: FakeGraph) -> dict[str, dict[str, Any]]:
    """WhatsApp (with an approved template per language, for customers outside the 24-hour window) and Instagram."""
    common = {"verify_token": "demo-verify-token", "api_base": graph.base}
    templates = {loc: {"name": "nps_survey", "language": code, "body": ["brand"]} for loc, code in LANGUAGES.items()}
    whatsapp = {**common, "app_secret": WHATSAPP_SECRET, "access_token": "EAAG-demo-whatsapp-token",
                "phone_number_id": WHATSAPP_NUMBER, "templates": templates}  # fmt: skip
    instagram = {**common, "app_secret": INSTAGRAM_SECRET, "access_token": "IGQV-demo-instagram-token",
                 "account_id": INSTAGRAM_ACCOUNT}  # fmt: skip
    return {"whatsapp": whatsapp, "instagram": instagram}


class MetaDemoCustomers(MetaCustomers):
    """Customers of one channel whose conversations an agent closes from the help desk (the operator API)."""

    def __init__(
        self,
        http: ClientSession,
        base_url: str,
        channel: str,
        profile: str,
        fake: FakeGraph,
        idle: Callable[[], Awaitable[None]],
        settle: Callable[[], Awaitable[None]],
        clock: Callable[[], datetime],
    ) -> None:
        secret, business = (
            (WHATSAPP_SECRET, WHATSAPP_NUMBER) if channel == "whatsapp" else (INSTAGRAM_SECRET, INSTAGRAM_ACCOUNT)
        )
        super().__init__(http, base_url, channel, profile, secret, fake, business, idle)
        self.profile, self.settle, self.clock = profile, settle, clock
        self.late: set[str] = set()  # conversations whose customer last wrote more than 24 hours ago

    async def close(self, conversation: str, customer: Person, agent: Person, opening: str) -> None:
        """The customer writes (yesterday, for a late one), then the agent closes it in the help desk."""
        if conversation in self.late:
            when = int((self.clock() - LATE).timestamp())
            message = wa_text(str(customer.key), opening, ts=when)
            await self.post(conversation, f'message from {customer.name} a day ago: "{clip(opening)}"',
                            self._whatsapp(customer, message))  # fmt: skip
        else:
            await self.write(conversation, customer, opening)
        body = {"profile": self.profile, "channel": self.channel, "conversation_id": conversation,
                "user_id": str(customer.key), "agent": agent.name, "team": agent.team, "locale": customer.locale,
                "customer_name": customer.name}  # fmt: skip
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"}
        note = f"help desk: {agent.name} closes the conversation (operator API)"
        await self._post(conversation, note, "/api/v1/conversations/close", json.dumps(body).encode(), headers)

    async def tap(self, conversation: str, customer: Person, score: int) -> None:
        if self.channel != "whatsapp":
            await super().tap(conversation, customer, score)
            return
        template = self._last_template(customer)
        if template is not None:  # the question came as a template: its quick reply opens the window first
            component = next(c for c in template.json["template"]["components"] if c["type"] == "button")
            payload = component["parameters"][0]["payload"]
            message = wa_template_button(str(customer.key), payload, "Answer", template.message_id or "")
            note = f'{customer.name} taps the template\'s "Answer"'
            await self.post(conversation, note, self._whatsapp(customer, message))
            await self.settle()
        if score in (1, 2):
            await self.choose(conversation, customer, "1 – 2")
            await self.settle()
        await self.choose(conversation, customer, str(score))

    def _last_template(self, customer: Person) -> Sent | None:
        """The template sent to the customer, if it is the last message that offered a choice."""
        sent = [s for s in self.fake.of(to=str(customer.key)) if s.json.get("type") in ("template", "interactive")]
        return sent[-1] if sent and sent[-1].json.get("type") == "template" else None
