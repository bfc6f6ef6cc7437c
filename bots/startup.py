"""Starting the channels one by one, each on its own: a channel whose platform call fails at start (setWebhook,
deleteWebhook, auth.test) is reported and retried in the background, so it never takes down the process or the
other profiles and channels with it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.spec import Channel
from core.backoff import backoff_delay

log = logging.getLogger(__name__)
REASON_CHARS = 300  # /healthz shows the reason; a platform's error page must not flood it


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed start is retried: the first retry after `first` seconds, then doubling (with jitter) up to
    `longest`; each attempt is given `timeout` seconds, so a platform that hangs is a failure like one that refuses."""

    first: float = 5.0
    longest: float = 300.0
    timeout: float = 10.0


def describe(exc: BaseException) -> str:
    """One short line: the first line of the error's own text, else its type name."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return "timed out"
    text = (str(exc).strip().splitlines() or [""])[0].strip() or type(exc).__name__
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def name_of(channel: Channel) -> str:
    return f"{channel.name}:{channel.profile}"


class ChannelStarts:
    """Holds why each channel that failed to start is still down (`failures`, shown by /healthz)."""

    def __init__(self, channels: Sequence[Channel], policy: RetryPolicy | None = None) -> None:
        self.channels = channels
        self.policy = policy or RetryPolicy()
        self.failures: dict[str, str] = {}
        self._retries: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Every channel's first attempt, side by side; returns once each one has started or been set to retry."""
        await asyncio.gather(*(self._first(c) for c in self.channels))

    async def stop(self) -> None:
        for task in self._retries:
            task.cancel()
        if self._retries:
            await asyncio.wait(self._retries)
        self._retries.clear()

    async def _first(self, channel: Channel) -> None:
        reason = await self._attempt(channel)
        if reason is None:
            return
        self.failures[name_of(channel)] = reason
        log.error("%s did not start: %s (retrying in the background)", name_of(channel), reason)
        task = asyncio.create_task(self._retry(channel), name=f"start {name_of(channel)}")
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _attempt(self, channel: Channel) -> str | None:
        """None when the channel started, else why not; the traceback goes to DEBUG only."""
        try:
            await asyncio.wait_for(channel.start(), self.policy.timeout)
        except TimeoutError as exc:
            log.debug("%s start failed", name_of(channel), exc_info=True)
            return describe(exc) if str(exc) else f"start timed out after {self.policy.timeout:g}s"
        except Exception as exc:
            log.debug("%s start failed", name_of(channel), exc_info=True)
            return describe(exc)
        return None

    async def _retry(self, channel: Channel) -> None:
        name, attempt = name_of(channel), 0
        while True:
            attempt += 1
            await asyncio.sleep(backoff_delay(attempt, base=self.policy.first, cap=self.policy.longest))
            reason = await self._attempt(channel)
            if reason is None:
                self.failures.pop(name, None)
                log.info("%s started after %d retries", name, attempt)
                return
            if reason != self.failures.get(name):
                log.warning("%s still not started: %s", name, reason)
            self.failures[name] = reason
