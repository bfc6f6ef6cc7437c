"""Start-up when something is wrong: a platform refusing a channel's start call (setWebhook, deleteWebhook,
auth.test) leaves every other profile and channel serving, /healthz names the channel, and the call is retried until
it succeeds; a database_url that cannot be used is one line and a non-zero exit, for `migrate` and `run` alike."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.cli import main
from bots.config import parse_config
from bots.runtime import Runtime
from bots.sandbox.slack_api import FakeSlack
from bots.sandbox.telegram_api import FakeTelegram
from bots.startup import RetryPolicy
from tests.slack_requests import SIGNING
from tests.telegram_app import make_config, telegram_fake, wait_for
from tests.test_cli import ROOT, free_port, write_config
from tests.webhook_signing import signed

fake = pytest.fixture(telegram_fake)
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
QUICK = RetryPolicy(first=0.05, longest=0.2, timeout=5)
BAD_HOOK = "Bad Request: bad webhook: Failed to resolve host: Name or service not known"
ALWAYS = 10**9  # a fault that stays until the test removes it


@contextlib.asynccontextmanager
async def app_with(config: dict[str, Any], clock: Any) -> AsyncIterator[TestClient]:
    runtime = Runtime(parse_config(config, env={}), clock=clock, start_retry=QUICK)
    await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as client:
        client.runtime = runtime  # type: ignore[attr-defined]
        yield client


async def health(client: TestClient) -> tuple[int, dict[str, Any]]:
    resp = await client.get("/healthz")
    return resp.status, await resp.json()


async def recovered(client: TestClient) -> bool:
    """/healthz is ok again: the start's retry task records its success just after the platform has answered it."""
    return await health(client) == (200, {"status": "ok", "database": "sqlite"})


async def webhook_event(client: TestClient, profile: str, conversation: str) -> int:
    payload = {"type": "conversation.closed", "data": {"conversation_id": conversation, "contact_id": "u1"}}
    body, headers = signed(WHSEC, payload)
    return (await client.post(f"/webhook/{profile}/events", data=body, headers=headers)).status


def two_profiles(tmp_path: Path, fake: FakeTelegram, **telegram: Any) -> dict[str, Any]:
    """`shop` on Telegram (webhook mode, registered at start), `desk` on the signed-webhook channel."""
    config = make_config(tmp_path, fake, **telegram)
    config["server"] = {"public_url": "https://nps.example.com"}
    config["profiles"]["desk"] = {"brand": "Desk", "channels": {"webhook": {"secrets": [WHSEC]}}}
    return config


async def test_set_webhook_refused_leaves_the_rest_serving_and_is_retried(tmp_path, fake, clock, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="bots.startup")
    fake.fail("setWebhook", 400, BAD_HOOK, times=ALWAYS)
    async with app_with(two_profiles(tmp_path, fake), clock) as client:
        await wait_for(lambda: len(fake.of("setWebhook")) >= 2, "a retry")  # retried in the background
        status, body = await health(client)
        assert status == 200  # a load balancer keeps the instance
        assert body == {
            "status": "degraded",
            "database": "sqlite",
            "channels": {"telegram:shop": f"setWebhook failed: {BAD_HOOK}"},
        }
        assert await webhook_event(client, "desk", "c1") == 200  # the other profile serves meanwhile
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert [r.getMessage() for r in errors] == [
            f"telegram:shop did not start: setWebhook failed: {BAD_HOOK} (retrying in the background)"
        ]
        assert errors[0].exc_info is None  # the traceback is for DEBUG only
        assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)

        fake.faults.clear()  # Telegram accepts the webhook now
        await wait_for(lambda: fake.of("setWebhook")[-1].result is True, "setWebhook to succeed")
        await wait_for(lambda: recovered(client), "/healthz to be ok again")
    last = fake.of("setWebhook")[-1]
    assert last.params["url"] == "https://nps.example.com/telegram/shop" and last.params["secret_token"]
    assert "telegram:shop started after" in caplog.text


async def test_a_bot_api_that_never_answers_is_a_failed_start_too(tmp_path, fake, clock) -> None:
    fake.fail("setWebhook", 200, "", delay=3600, times=ALWAYS)  # accepts the connection, never answers
    config = parse_config(two_profiles(tmp_path, fake), env={})
    runtime = Runtime(config, clock=clock, start_retry=RetryPolicy(first=3600, timeout=0.2))
    await runtime.store.migrate()
    async with TestClient(TestServer(create_app(runtime))) as client:  # started all the same
        assert (await health(client))[1]["channels"] == {"telegram:shop": "start timed out after 0.2s"}
        assert await webhook_event(client, "desk", "c1") == 200


async def test_polling_waits_for_delete_webhook_then_starts(tmp_path, fake, clock) -> None:
    fake.fail("deleteWebhook", 401, "Unauthorized", times=ALWAYS)
    async with app_with(two_profiles(tmp_path, fake, mode="polling"), clock) as client:
        await wait_for(lambda: len(fake.of("deleteWebhook")) >= 2, "a retry")
        assert (await health(client))[1]["channels"] == {"telegram:shop": "deleteWebhook failed: Unauthorized"}
        assert fake.of("getUpdates") == []  # no polling while the webhook may still be set
        fake.faults.clear()
        await wait_for(lambda: fake.of("getUpdates"), "polling to start")
        assert await health(client) == (200, {"status": "ok", "database": "sqlite"})


async def test_slack_auth_test_failing_is_reported_until_slack_answers(tmp_path, clock) -> None:
    slack = await FakeSlack().start()
    slack.lasting_errors["auth.test"] = "invalid_auth"
    config = {
        "database_url": f"sqlite:///{tmp_path / 'slack.db'}",
        "profiles": {
            "desk": {
                "brand": "Desk",
                "channels": {"slack": {"bot_token": "xoxb-test", "signing_secret": SIGNING, "api_base": slack.base}},
            },
            "shop": {"brand": "Shop", "channels": {"webhook": {"secrets": [WHSEC]}}},
        },
    }
    try:
        async with app_with(config, clock) as client:
            await wait_for(lambda: len(slack.of("auth.test")) >= 2, "a retry")
            assert (await health(client))[1]["channels"] == {"slack:desk": "auth.test failed: invalid_auth"}
            assert await webhook_event(client, "shop", "c1") == 200
            slack.lasting_errors.clear()
            await wait_for(lambda: slack.of("auth.test")[-1].result, "auth.test to succeed")
            await wait_for(lambda: recovered(client), "/healthz to be ok again")
    finally:
        await slack.close()


def example_config(tmp_path: Path, telegram: FakeTelegram, slack: FakeSlack, port: int) -> Path:
    """config.example.yaml as an operator copies it, pointed at the local fakes and a fresh database."""
    data = yaml.safe_load((ROOT / "config.example.yaml").read_text(encoding="utf-8"))
    data["database_url"] = f"sqlite:///{tmp_path / 'run.db'}"
    data["server"].update(host="127.0.0.1", port=port)
    channels = data["profiles"]["acme"]["channels"]
    channels["telegram"]["api_base"] = telegram.base
    channels["slack"]["api_base"] = slack.base
    return write_config(tmp_path / "config.yaml", data)


EXAMPLE_ENV = {
    "NPSBOT_ADMIN_TOKEN": "admin-token-0123456789",
    "ACME_API_TOKEN": "acme-token-0123456789",
    "TELEGRAM_TOKEN": "123456:TEST-token_abc",
    "TELEGRAM_SECRET": "s3cret-Token_1",
    "SLACK_BOT_TOKEN": "xoxb-example",
    "SLACK_SIGNING_SECRET": SIGNING,
    "WEBHOOK_SECRET": WHSEC,
}


async def test_run_on_the_example_config_keeps_serving_when_set_webhook_fails(tmp_path, fake) -> None:
    fake.fail("setWebhook", 400, BAD_HOOK, times=ALWAYS)
    slack = await FakeSlack().start()
    port = free_port()
    cfg = example_config(tmp_path, fake, slack, port)
    env = {**os.environ, **EXAMPLE_ENV, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots.cli", "run", "-c", str(cfg),
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        body = None
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                if proc.returncode is not None:
                    break
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                        status, body = resp.status, await resp.json()
                        break
                await asyncio.sleep(0.1)
        assert proc.returncode is None, "npsbot run exited"
        assert status == 200 and body == {
            "status": "degraded",
            "database": "sqlite",
            "channels": {"telegram:acme": f"setWebhook failed: {BAD_HOOK}"},
        }
        assert slack.of("auth.test")  # the Slack channel of the same profile started
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        output = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
        await slack.close()
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("ERROR")]
    assert errors == [
        f"ERROR bots.startup: telegram:acme did not start: setWebhook failed: {BAD_HOOK} (retrying in the background)"
    ]


# A bad database_url


def only_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_migrate_cannot_reach_postgresql(capsys) -> None:
    port = free_port()  # nothing listens there
    assert main(["migrate", "--database", f"postgresql://npsbot:hunter2@127.0.0.1:{port}/npsbot"]) == 1
    line = only_line(capsys.readouterr().err)
    assert line.startswith(f"npsbot migrate: --database: cannot connect to postgresql://npsbot:***@127.0.0.1:{port}/")
    assert "Connect call failed" in line or "refused" in line.lower()
    assert "hunter2" not in line


def test_migrate_cannot_resolve_the_postgresql_host(tmp_path, capsys) -> None:
    cfg = write_config(
        tmp_path / "c.yaml",
        {"database_url": "postgresql://npsbot:hunter2@nohost.invalid/npsbot", "profiles": {"a": {"brand": "A"}}},
    )
    assert main(["migrate", "-c", str(cfg)]) == 1
    line = only_line(capsys.readouterr().err)
    assert line.startswith("npsbot migrate: database_url: cannot connect to postgresql://npsbot:***@nohost.invalid/")
    assert "hunter2" not in line


@pytest.mark.parametrize(
    ("where", "why"),
    [
        ("plain.txt/npsbot.db", "{tmp}/plain.txt is not a folder"),
        ("missing/npsbot.db", "folder {tmp}/missing does not exist"),
        ("", "{tmp} is a folder"),
    ],
)
def test_migrate_cannot_open_the_sqlite_file(tmp_path, capsys, where: str, why: str) -> None:
    (tmp_path / "plain.txt").write_text("not a folder")
    path = tmp_path / where if where else tmp_path
    assert main(["migrate", "--database", f"sqlite:///{path}"]) == 1
    line = only_line(capsys.readouterr().err)
    assert line == f"npsbot migrate: --database: cannot open sqlite:///{path}: {why.format(tmp=tmp_path)}"


def test_migrate_refuses_a_file_that_is_not_a_database(tmp_path, capsys) -> None:
    path = tmp_path / "npsbot.db"
    path.write_bytes(b"not a database, " * 512)
    assert main(["migrate", "--database", f"sqlite:///{path}"]) == 1
    line = only_line(capsys.readouterr().err)
    assert line == f"npsbot migrate: --database: cannot connect to sqlite:///{path}: file is not a database"


def test_run_with_an_unreachable_database_says_so_in_one_line(tmp_path) -> None:
    import subprocess

    port = free_port()
    cfg = write_config(
        tmp_path / "run.yaml",
        {
            "database_url": f"postgresql+asyncpg://npsbot:hunter2@127.0.0.1:{port}/npsbot",
            "server": {"host": "127.0.0.1", "port": free_port()},
            "profiles": {"acme": {"brand": "A", "channels": {"webhook": {"secrets": [WHSEC]}}}},
        },
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bots.cli", "run", "-c", str(cfg)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stdout == ""
    line = only_line(proc.stderr)
    assert line.startswith(
        f"npsbot run: database_url: cannot connect to postgresql+asyncpg://npsbot:***@127.0.0.1:{port}"
    )
    assert "hunter2" not in proc.stderr
