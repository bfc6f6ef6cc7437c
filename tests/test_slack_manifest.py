"""The shipped Slack app manifest (slack-app-manifest.yaml) asks for what the Slack channel uses: the scopes OAuth
asks for by default, every event a listener handles (app_uninstalled and tokens_revoked included), the slash
command and message shortcut it registers, and the routes it mounts; token rotation on, since the channel
refreshes tokens. Manifest fields: docs.slack.dev/reference/app-manifest."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

from adapters.slack.config import BOT_SCOPES, SlackOAuth
from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from core.secrets import new_key

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((ROOT / "slack-app-manifest.yaml").read_text())
PUBLIC = "https://nps.example.com"


def registered() -> dict[str, set[str]]:
    """What adapters/slack/listeners.py registers with `@app.event(...)`, `@app.command(...)`, `@app.shortcut(...)`."""
    tree = ast.parse((ROOT / "adapters" / "slack" / "listeners.py").read_text())
    found: dict[str, set[str]] = {"event": set(), "command": set(), "shortcut": set()}
    for node in ast.walk(tree):
        call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in found
        if call and node.args and isinstance(node.args[0], ast.Constant):
            found[node.func.attr].add(node.args[0].value)
    return found


def test_the_manifest_subscribes_to_what_the_listeners_handle() -> None:
    features, settings = MANIFEST["features"], MANIFEST["settings"]
    events = settings["event_subscriptions"]["bot_events"]
    listened = registered()
    # Slack's message.channels / .groups / .im / .mpim all arrive as events of type "message".
    assert {e.split(".")[0] for e in events} == listened["event"]
    assert {"message.channels", "message.groups", "message.im", "message.mpim"} <= set(events)
    assert {"app_uninstalled", "tokens_revoked"} <= listened["event"]
    assert {c["command"] for c in features["slash_commands"]} == listened["command"]
    assert {s["callback_id"] for s in features["shortcuts"]} == listened["shortcut"]
    assert (
        MANIFEST["oauth_config"]["scopes"]["bot"]
        == sorted(BOT_SCOPES)
        == SlackOAuth(client_id="1", client_secret="s" * 8).scopes
    )
    assert settings["token_rotation_enabled"] is True and settings["org_deploy_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True and settings["socket_mode_enabled"] is False


async def test_the_manifest_urls_are_the_routes_a_profile_mounts(tmp_path: Path) -> None:
    slack: dict[str, Any] = {
        "signing_secret": "signing-secret",
        "oauth": {"client_id": "1.2", "client_secret": "s" * 8},
    }
    cfg = parse_config(
        {"database_url": f"sqlite:///{tmp_path / 'm.db'}", "server": {"public_url": PUBLIC},
         "profiles": {"desk": {"brand": "Acme", "channels": {"slack": slack}}}},
        env={"NPSBOT_TOKEN_KEYS": new_key()},
    )  # fmt: skip
    runtime = Runtime(cfg)
    try:
        app = create_app(runtime)
        mounted = {f"{PUBLIC}{r.resource.canonical}" for r in app.router.routes() if r.resource is not None}
    finally:
        for channel in runtime.channels:
            await channel.stop()
        await runtime.store.dispose()
    settings = MANIFEST["settings"]
    urls = {settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]}
    urls |= {c["url"] for c in MANIFEST["features"]["slash_commands"]} | set(MANIFEST["oauth_config"]["redirect_urls"])
    assert urls == {f"{PUBLIC}/slack/desk/events", f"{PUBLIC}/slack/desk/oauth_redirect"}
    assert urls | {f"{PUBLIC}/slack/desk/install"} <= mounted
