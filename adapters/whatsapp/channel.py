"""One WhatsApp Business phone number per profile: Meta's webhook in at `/whatsapp/{profile}/webhook` (signed,
answered first, worked through the inbound journal), the Cloud API out."""

from __future__ import annotations

from aiohttp import web

from adapters.metagraph.webhook import GraphWebhook
from adapters.spec import Channel, ChannelDeps
from adapters.whatsapp.config import NAME, WhatsAppConfig
from adapters.whatsapp.inbound import Inbound
from adapters.whatsapp.sender import WhatsAppSender
from adapters.whatsapp.steps import Steps
from core.channel import SendsThrough
from core.inbound_journal import InboundJournal

OBJECT = "whatsapp_business_account"  # the `object` of every WhatsApp Business Account webhook


class WhatsAppChannel(SendsThrough, Channel):
    name = NAME

    def __init__(self, deps: ChannelDeps, config: WhatsAppConfig) -> None:
        self.profile = deps.profile
        self.config = config
        self.sender = WhatsAppSender(deps, config)
        self.inbound = Inbound(deps, config, Steps(deps, config))
        self.webhook = GraphWebhook(
            deps,
            channel=NAME,
            path=f"/{NAME}/{deps.profile}/webhook",
            verify_token=config.verify_token,
            app_secret=config.app_secret,
            objects=frozenset({OBJECT}),
            handle_entry=self.inbound.entry,
        )

    @property
    def journal(self) -> InboundJournal:
        """Where /metrics finds the requests answered but not yet worked."""
        return self.webhook.journal

    def mount(self, app: web.Application) -> None:
        self.webhook.mount(app)

    async def start(self) -> None:
        await self.sender.start()
        await self.webhook.start()

    async def stop(self) -> None:
        await self.webhook.stop()
        await self.sender.stop()

    async def idle(self) -> None:
        """Wait until every webhook answered so far has been worked (tests and the demo)."""
        await self.webhook.idle()
