"""The public API of a channel package: what it exports (`SPEC`) and what it is built from (`ChannelDeps`).

bots/ finds every spec (the `adapters` packages and the `npsbot.channels` entry-point group), validates each
profile's `channels.<name>` with the spec's config model and calls `build` with narrow dependencies, so a new
channel is one package: it never sees the configuration file, the runtime or another channel."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

import aiohttp
from aiohttp import web
from pydantic import BaseModel

from adapters.http import client_session
from core.channel import OutboundChannel
from core.profiles import ProfileSettings
from core.secrets import SecretBox
from core.service import SurveyService
from core.store import Store

NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")  # it goes into URLs, outbox rows and config keys
RESERVED = frozenset({"events"})  # the outbound event subscriptions' sender key
C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True)
class ChannelDeps:
    """What one profile's channel may use; never the whole runtime, so a channel can't reach another's state."""

    profile: str
    settings: ProfileSettings
    service: SurveyService
    store: Store  # for core's inbound journal; channels use it only through core APIs
    clock: Callable[[], datetime]
    public_url: str | None
    lease: timedelta  # how long a crashed process's journaled or leased work waits before another takes it
    secrets: SecretBox | None = None  # seals platform tokens kept in the database (None: no token keys configured)

    def http_session(self, **kwargs: Any) -> aiohttp.ClientSession:
        """An aiohttp session that never follows a redirect (adapters.http): a token goes nowhere unconfigured."""
        return client_session(**kwargs)


class Channel(OutboundChannel):
    """One profile's channel as the composition root sees it: the typed sends (core.channel; only `say` is
    required, the rest fall back to text), its routes and its lifecycle, which default to nothing."""

    name: ClassVar[str]  # the spec's name
    profile: str

    def mount(self, app: web.Application) -> None:
        """Add this channel's inbound routes (called once, before the server starts)."""
        return None

    async def start(self) -> None:
        """Reach the platform (register a webhook, start polling). Raising reports the channel as not started and
        it is retried in the background, while every other channel serves."""
        return None

    async def stop(self) -> None:
        return None


@dataclass(frozen=True)
class ChannelSpec(Generic[C]):
    """The only place a channel's name is written. `config` validates `profiles.<p>.channels.<name>` (forbid
    extra keys: a typo should be an error, not a silently ignored setting); `alerts=False` for a channel that only
    talks to customers, so no detractor alert can be configured to go there."""

    name: str
    config: type[C]
    build: Callable[[ChannelDeps, C], Channel]
    alerts: bool = True
    # The key path (below the channel) of a setting that keeps platform tokens in the database, encrypted with the
    # operator's token keys, or None: check-config refuses such a setting while no key is configured.
    stores_tokens: Callable[[C], str | None] | None = None
    # Why an alert destination does not fit this channel's config, or None (check-config names it by key path).
    destination_problem: Callable[[C, str], str | None] | None = None

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name) or self.name in RESERVED:
            raise ValueError(f"channel name {self.name!r}: lowercase letters, digits or _, at most 32, not 'events'")
        if not (isinstance(self.config, type) and issubclass(self.config, BaseModel)):
            raise TypeError(f"channel {self.name!r}: config must be a pydantic model class")
