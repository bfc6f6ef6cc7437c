"""The Telegram webhook path stays on the event loop: aiogram runs a plain or magic-`F` filter (and a plain
handler) through `asyncio.to_thread` on every update, which cost milliseconds of latency per update under load."""

from __future__ import annotations

from bots.config import parse_config
from bots.runtime import Runtime


def test_every_telegram_filter_and_handler_is_a_coroutine(tmp_path) -> None:
    cfg = {
        "database_url": f"sqlite:///{tmp_path / 'h.db'}",
        "profiles": {
            "shop": {"brand": "Shop", "channels": {"telegram": {"token": "123456:hotpath-token", "secret_token": "s"}}}
        },
    }
    channel = Runtime(parse_config(cfg, env={})).channel("telegram", "shop")
    checked = 0
    for router in channel.dispatcher.chain_tail:
        for observer in router.observers.values():
            for handler in observer.handlers:
                assert handler.awaitable, f"{handler.callback} would run in a thread"
                for f in handler.filters or []:
                    assert f.awaitable, f"filter {f.callback} of {handler.callback} would run in a thread"
                    checked += 1
    assert checked >= 4  # Vote, FollowUpAction, /close, topic closed, text
