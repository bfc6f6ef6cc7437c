"""A channel is one package: every built-in exports a spec that bots/ discovers, and a pip-installed package
declaring an `npsbot.channels` entry point (tests/example_channel) is checked by `npsbot check-config` and carries a
survey under `npsbot run` exactly like a built-in, through core's text fallback since it implements only `say`."""

from __future__ import annotations

import ast
import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from adapters.spec import Channel, ChannelDeps
from bots.channels import discover
from bots.config import ConfigError, parse_config
from bots.sandbox.bridge import FakeBridge
from core.service import SurveyService
from core.store import Store
from core.store.tables import SurveyRow
from tests.test_cli import free_port, write_config
from tests.test_memory_endpoint import _client as memory_client

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "example_channel"
BUILT_IN = ("chatwoot", "email", "instagram", "memory", "messenger", "slack", "telegram", "webhook", "whatsapp")
TOKEN = "example-bridge-token-0123"


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(data, env={})
    return exc.value.problems


# ---- built-ins ------------------------------------------------------------------------------------------------


def test_every_adapter_package_exports_its_spec_and_bots_finds_them_all() -> None:
    found = discover()
    assert sorted(found.specs) == list(BUILT_IN) and not found.broken
    for name, spec in found.specs.items():
        package = __import__(f"adapters.{name}", fromlist=["SPEC"])
        assert package.SPEC is spec and spec.config.__module__ == f"adapters.{name}.config"
        assert spec.config.model_config.get("extra") == "forbid"


def test_an_unknown_channel_names_its_key_and_the_known_channels() -> None:
    problems = problems_of({"profiles": {"shop": {"brand": "S", "channels": {"memory": {}, "sms": {"to": "1"}}}}})
    assert problems == [f"profiles.shop.channels.sms: unknown channel 'sms'; known: {', '.join(BUILT_IN)}"]


def test_channel_errors_keep_their_full_key_path() -> None:
    channels = {"telegram": {"token": "123456:abc", "mode": "webhook"}, "chatwoot": {"base_url": "ftp://x"}}
    problems = problems_of({"profiles": {"shop": {"brand": "S", "channels": channels}}})
    assert "profiles.shop.channels.telegram: secret_token is required in webhook mode" in problems[0]
    assert {p.split(": ", 1)[0] for p in problems[1:]} == {
        "profiles.shop.channels.chatwoot.base_url",
        "profiles.shop.channels.chatwoot.account_id",
        "profiles.shop.channels.chatwoot.api_token",
        "profiles.shop.channels.chatwoot.webhook_token",
    }


def test_a_null_channel_is_off_and_defaults_come_from_the_channel_model() -> None:
    cfg = parse_config({"profiles": {"shop": {"brand": "S", "channels": {"slack": None, "memory": {}}}}}, env={})
    (memory,) = cfg.profiles["shop"].channels.values()
    assert list(cfg.profiles["shop"].channels) == ["memory"] and memory == discover().specs["memory"].config()


MINIMAL = {
    "telegram": {"token": "123456:abcdef", "mode": "polling"},
    "slack": {"bot_token": "xoxb-1", "signing_secret": "secret"},
    "webhook": {"secrets": ["whsec_abc"]},
    "chatwoot": {"base_url": "https://cw.example", "account_id": 1, "api_token": "tok-1", "webhook_token": "t" * 16},
    "memory": {},
    "email": {"host": "smtp.example", "from_address": "npsbot@example.com"},
    "messenger": {"app_secret": "secret-1", "verify_token": "verify-1", "access_token": "EAAG-tok-1", "page_id": "1"},
    "instagram": {
        "app_secret": "secret-1",
        "verify_token": "verify-1",
        "access_token": "IGAA-tok-1",
        "account_id": "2",
    },
    "whatsapp": {
        "app_secret": "secret-1",
        "verify_token": "verify-1",
        "access_token": "EAAG-tok-1-whatsapp",
        "phone_number_id": "3",
    },
}


@pytest.mark.parametrize("name", BUILT_IN)
async def test_each_built_in_is_built_from_narrow_dependencies_alone(name: str, store: Store, clock: Any) -> None:
    """No Runtime: the profile's settings, the survey service, the store, a clock, the public URL and a lease."""
    cfg = parse_config({"profiles": {"shop": {"brand": "S", "channels": {name: MINIMAL[name]}}}}, env={})
    settings = cfg.profile_settings()
    deps = ChannelDeps("shop", settings["shop"], SurveyService(store, settings, clock), store, clock, None,
                       timedelta(seconds=60))  # fmt: skip
    spec = discover().specs[name]
    channel = spec.build(deps, cfg.profiles["shop"].channels[name])
    try:
        assert isinstance(channel, Channel) and (channel.name, channel.profile) == (name, "shop")
    finally:
        await channel.stop()


@pytest.fixture
def broken_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An installed distribution whose `npsbot.channels` entry point names a module that isn't there."""
    info = tmp_path / "npsbot_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: npsbot-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[npsbot.channels]\nbroken = npsbot_broken_missing:SPEC\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    discover.cache_clear()
    yield
    monkeypatch.undo()
    discover.cache_clear()


def test_a_package_that_fails_to_load_is_named_only_where_it_is_used(broken_package: None) -> None:
    assert sorted(discover().specs) == list(BUILT_IN)  # the channels that load still work
    parse_config({"profiles": {"shop": {"brand": "S", "channels": {"memory": {}}}}}, env={})
    problems = problems_of({"profiles": {"shop": {"brand": "S", "channels": {"broken": {}}}}})
    assert problems == [
        "profiles.shop.channels.broken: the installed channel package 'broken' failed to load "
        "(ModuleNotFoundError: No module named 'npsbot_broken_missing')"
    ]


async def test_each_memory_channel_mounts_the_trial_endpoint_for_its_own_profile(store: Store, clock: Any) -> None:
    """The memory channel is an ordinary one: its `mount` adds the trial route (once, shared), each profile behind
    its own token; bots/ knows nothing of it."""
    tokens = {"acme": "acme-trial-token-0123", "tapas": "tapas-trial-token-0123"}
    profiles = {p: {"brand": p, "channels": {"memory": {"http": True, "token": t}}} for p, t in tokens.items()}
    client = await memory_client(store, clock, {**profiles, "quiet": {"brand": "q", "channels": {"memory": {}}}})
    try:
        routes = [r.resource.canonical for r in client.app.router.routes() if r.resource]
        assert routes.count("/memory/{profile}") == 1
        close = {"type": "close", "conversation_id": "c1", "user_id": "u1"}
        for profile, token in tokens.items():
            other = tokens["tapas" if profile == "acme" else "acme"]
            refused = await client.post(f"/memory/{profile}", json=close, headers={"Authorization": f"Bearer {other}"})
            assert refused.status == 401
            opened = await client.post(f"/memory/{profile}", json=close, headers={"Authorization": f"Bearer {token}"})
            assert opened.status == 200 and (await opened.json())["state"] == "asked"
        quiet = await client.post("/memory/quiet", json=close, headers={"Authorization": f"Bearer {token}"})
        assert quiet.status == 404
    finally:
        await client.close()


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return found | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}


def test_channel_discovery_does_not_import_the_runtime_even_for_type_checking() -> None:
    assert not {m for m in _imports(ROOT / "bots" / "channels.py") if m.startswith(("bots.runtime", "bots.config"))}


# The outbound event subscriptions (adapters.webhook.events) sign with the webhook channel's secret.
ALLOWED_ADAPTER_IMPORTS = {"adapters", "adapters.spec", "adapters.webhook", "adapters.webhook.events"}


@pytest.mark.parametrize(
    "module", ["channels.py", "config.py", "profile_config.py", "runtime.py", "app.py", "startup.py"]
)
def test_the_composition_root_names_no_channel(module: str) -> None:
    path = ROOT / "bots" / module
    strings = {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)}
    assert not strings & set(BUILT_IN)
    assert {m for m in _imports(path) if m.startswith("adapters")} <= ALLOWED_ADAPTER_IMPORTS


# ---- a third-party channel, pip-installed ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/example_channel installed with pip into a directory of its own (not the shared venv); a process with
    that directory on its path sees the package's `npsbot.channels` entry point. Built from a copy, so the build
    leaves nothing in the source tree."""
    work = tmp_path_factory.mktemp("example_channel")
    source = shutil.copytree(EXAMPLE, work / "src", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        check=True,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )  # fmt: skip
    assert list(target.glob("npsbot_example_channel-*.dist-info"))
    return target


def _env(site: Path | None) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *([str(site)] if site else [])])}


def _check_config(path: Path, site: Path | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bots.cli", "check-config", "-c", str(path)],
        env=_env(site),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _profile(example: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"profiles": {"shop": {"brand": "Shop", "channels": {"example": example}, **more}}}


def test_check_config_knows_the_installed_channel_and_checks_its_keys(installed: Path, tmp_path: Path) -> None:
    good = write_config(tmp_path / "good.yaml", _profile({"token": TOKEN, "deliver_url": "https://bridge.example"}))
    out = _check_config(good, installed)
    assert out.returncode == 0, out.stderr
    assert "profile shop: channels example, locale en" in out.stdout

    not_installed = _check_config(good, None)
    assert not_installed.returncode == 2
    assert "profiles.shop.channels.example: unknown channel 'example'; known: chatwoot, " in not_installed.stderr

    alerts = [{"channel": "example", "destination": "x"}]
    bad = write_config(tmp_path / "bad.yaml", _profile({"token": "short", "deliver_url": "ftp://x"}, alerts=alerts))
    out = _check_config(bad, installed)
    assert out.returncode == 2
    problems = [line.removeprefix("  - ") for line in out.stderr.splitlines()[1:]]
    assert sorted(p.split(": ", 1)[0] for p in problems) == [
        "profiles.shop.alerts[0].channel",
        "profiles.shop.channels.example.deliver_url",
        "profiles.shop.channels.example.token",
    ], out.stderr
    assert "profiles.shop.alerts[0].channel: the example channel does not carry alerts" in out.stderr


@pytest.fixture
async def bridge() -> AsyncIterator[FakeBridge]:
    fake = await FakeBridge().start()
    yield fake
    await fake.close()


async def _wait_healthy(http: aiohttp.ClientSession, base: str, proc: asyncio.subprocess.Process) -> None:
    for _ in range(600):
        if proc.returncode is not None:
            break
        try:
            async with http.get(f"{base}/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("npsbot run did not come up")


async def test_npsbot_run_carries_a_survey_through_the_installed_channel(
    installed: Path, bridge: FakeBridge, tmp_path: Path
) -> None:
    port, db = free_port(), tmp_path / "run.db"
    example = {"token": TOKEN, "deliver_url": bridge.url("/deliver")}
    cfg = _profile(example, policy={"throttle": "0s"})
    cfg.update(database_url=f"sqlite:///{db}", server={"host": "127.0.0.1", "port": port})
    path = write_config(tmp_path / "run.yaml", cfg)
    log = (tmp_path / "run.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "run", "-c", str(path), env=_env(installed), stdout=log, stderr=log
    )
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession() as http:
            await _wait_healthy(http, base, proc)

            async def post(event: dict[str, Any], headers: dict[str, str] = auth) -> tuple[int, dict[str, Any]]:
                body = {"conversation_id": "c1", "user_id": "u1", **event}
                async with http.post(f"{base}/example/shop", json=body, headers=headers) as resp:
                    return resp.status, await resp.json()

            assert (await post({"type": "close", "id": "e1"}, headers={}))[0] == 401
            assert await post({"type": "close", "id": "e1"}) == (200, {"status": "ok", "state": "asked"})
            question = (await bridge.next("/deliver")).json
            # Text only: core's fallback shows the scale's labelled ends, and the typed reply is read as the score.
            assert (question["conversation_id"], question["user_id"]) == ("c1", "u1")
            assert "0 · Not likely" in question["text"] and "10 · Very likely" in question["text"]

            scored = await post({"type": "message", "id": "e2", "text": "9"})
            assert scored == (200, {"status": "ok", "state": "scored"})
            comment_question = (await bridge.next("/deliver")).json
            assert comment_question["text"] and comment_question["text"] != question["text"]

            done = await post({"type": "message", "id": "e3", "text": "Quick and kind"})
            assert done == (200, {"status": "ok", "state": "completed"})
            assert (await post({"type": "message", "id": "e3", "text": "Quick and kind"}))[1]["status"] == "duplicate"
            thanks = (await bridge.next("/deliver")).json
            assert thanks["conversation_id"] == "c1"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 60)
        log.close()
    assert code == 0, (tmp_path / "run.log").read_text()
    store = Store(f"sqlite+aiosqlite:///{db}")
    try:
        async with store.read() as conn:
            query = select(SurveyRow.channel, SurveyRow.state, SurveyRow.score, SurveyRow.comment)
            rows = (await conn.execute(query)).all()
    finally:
        await store.dispose()
    assert [tuple(r) for r in rows] == [("example", "completed", 9, "Quick and kind")]
    assert "Quick and kind" not in (tmp_path / "run.log").read_text()  # no message text in the logs
