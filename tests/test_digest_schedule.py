"""The digest on its stored schedule: several workers on PostgreSQL racing one due occurrence queue one set of
messages, downtime of three weeks sends one digest of the last week, `npsbot digest` previews and sends by hand,
and the configuration refuses targets that could never be delivered."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from PIL import Image

from bots.cli import main
from bots.config import ConfigError, parse_config
from core.digest_job import DigestJob
from core.digest_settings import DigestSettings, DigestTarget
from core.scheduler import Scheduler
from core.schedules import Schedule
from core.store import Store
from tests.digest_app import digest_rows
from tests.digest_world import SINCE, UNTIL, profiles, seed

TARGETS = (DigestTarget("slack", "CLEADS"), DigestTarget("webhook", "https://hooks.example/digest"))
WEEKLY = DigestSettings(Schedule.parse("0 0 * * MON"), targets=TARGETS, min_responses=3)


def job(store: Store, clock) -> DigestJob:
    return DigestJob(store, profiles(digest=WEEKLY, benchmark=30.0)["shop"], clock)


async def test_two_workers_racing_one_occurrence_queue_one_digest(pg_store: Store, clock) -> None:
    await seed(pg_store, clock)
    second = Store(pg_store.engine.url.render_as_string(hide_password=False))
    try:
        clock.now = SINCE + timedelta(days=1)
        workers = [Scheduler(s, [job(s, clock)], clock, owner=f"w{i}") for i, s in enumerate((pg_store, second))]
        await workers[0].run_due()  # seen first on Tuesday: due the coming Monday
        assert await digest_rows(pg_store) == []
        clock.now = UNTIL
        for _ in range(3):  # each round, both workers at once
            await asyncio.gather(*(w.run_due() for w in workers))
    finally:
        await second.dispose()
    rows = await digest_rows(pg_store)
    assert sorted(r.channel for r in rows) == ["slack", "webhook"]
    assert all("NPS +22.2 ± 59.9 (9 responses)" in r.payload["text"] for r in rows)
    assert rows[0].target == {"conversation_id": "CLEADS", "user_id": "", "thread": None, "locale": "en"}


async def test_three_weeks_of_downtime_send_one_digest_of_the_last_week(store: Store, clock) -> None:
    await seed(store, clock)
    clock.now = SINCE - timedelta(days=20)  # seen three weeks before: due Monday 23 February
    scheduler = Scheduler(store, [job(store, clock)], clock)
    assert await scheduler.run_due() == {}
    clock.now = UNTIL + timedelta(hours=5)  # the worker comes back after the occurrences of 23 Feb, 2, 9 and 16 March
    assert await scheduler.run_due() == {"digest:shop": {"messages": 2, "responses": 9}}
    assert await scheduler.run_due() == {}
    rows = await digest_rows(store)
    assert len(rows) == 2 and all(r.payload["subject"] == "Shop NPS digest, 2026-03-09 – 2026-03-16" for r in rows)
    clock.now = UNTIL + timedelta(days=7)
    assert (await scheduler.run_due())["digest:shop"]["messages"] == 2  # the next week's, on time
    assert len(await digest_rows(store)) == 4


def write_config(tmp_path: Path, store: Store, **digest) -> Path:
    data = {
        "database_url": store.engine.url.render_as_string(hide_password=False),
        "profiles": {
            "shop": {
                "brand": "Shop",
                "locale": "fr",
                "channels": {"webhook": {"secrets": ["whsec_c2VjcmV0LWZvci1kaWdlc3RzLTEyMzQ="]}},
                "digest": {"schedule": "0 0 * * MON", "targets": [{"channel": "webhook",
                           "destination": "https://hooks.example/digest"}], "min_responses": 3} | digest,
            }
        },
    }  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


async def test_preview_prints_the_text_and_writes_the_chart(store: Store, clock, tmp_path: Path, capsys) -> None:
    await seed(store, clock)
    path = write_config(tmp_path, store, period="30d")
    png = tmp_path / "trend.png"
    args = ["digest", "preview", "-c", str(path), "--profile", "shop", "--png", str(png), "--until", "2026-03-16"]
    code = await asyncio.to_thread(main, args)
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("Synthèse NPS de Shop")
    assert "Synthèse NPS de Shop : 2026-02-14 – 2026-03-16" in out and "NPS +16,7 ± 41,5 (18 réponses)" in out
    assert "Détracteurs ouverts : 5, dont en retard : 4" in out  # today every deadline of the seeded weeks has passed
    assert Image.open(png).format == "PNG"
    assert await digest_rows(store) == []  # a preview queues nothing


async def test_send_queues_one_digest_now_and_leaves_the_schedule(store: Store, clock, tmp_path: Path, capsys) -> None:
    path = write_config(tmp_path, store)
    code = await asyncio.to_thread(main, ["digest", "send", "-c", str(path), "--profile", "shop"])
    assert code == 0 and "queued 1 digest message" in capsys.readouterr().out
    [row] = await digest_rows(store)
    assert row.channel == "webhook" and "NPS : aucune réponse sur cette période" in row.payload["text"]
    missing = await asyncio.to_thread(main, ["digest", "send", "-c", str(path), "--profile", "nope"])
    assert missing == 2 and "no profile 'nope'" in capsys.readouterr().err


def problems(profile: dict, **top) -> list[str]:
    base = {"brand": "Shop", "channels": {"slack": {"bot_token": "xoxb-1", "signing_secret": "s" * 32}}}
    with pytest.raises(ConfigError) as raised:
        parse_config({"profiles": {"shop": base | profile}, **top}, env={})
    return raised.value.problems


def test_the_configuration_refuses_digests_that_could_never_go_out() -> None:
    def digest(*targets: tuple[str, str], **keys) -> dict:
        return {"digest": {"schedule": "0 8 * * MON", "targets": [{"channel": c, "destination": d}
                                                                   for c, d in targets]} | keys}  # fmt: skip

    assert problems(digest(("telegram", "-100"))) == [
        "profiles.shop.digest.targets[0].channel: the profile has no telegram channel configured"
    ]
    assert problems(digest(("email", "leads@example.com"))) == [
        "profiles.shop.digest.targets[0].channel: email needs an smtp block (top level or profile)"
    ]
    assert problems(digest(("email", "not an address"))) == [
        "profiles.shop.digest.targets[0].destination: expected an email address, e.g. leads@example.com"
    ]
    assert problems(digest(("slack", "T1/C2"))) == [
        "profiles.shop.digest.targets[0].destination: expected <workspace>/<channel>, e.g. T0123ABCD/C0456EFGH "
        "(a team id, or an E… org id)"
    ]
    assert problems(digest(("slack", "C1"), schedule="every day")) == [
        "profiles.shop.digest.schedule: 'every day': write a cron expression with five fields or 'every <n>m|h|d|w'"
    ]
    assert problems(digest(("slack", "C1"), timezone="Mars/Olympus")) == [
        "profiles.shop.digest.timezone: unknown time zone 'Mars/Olympus': use an IANA name such as Europe/Madrid"
    ]
    smtp = {"host": "smtp.example", "from_address": "npsbot@example.com", "password": "${SMTP_PASSWORD}"}
    with pytest.raises(ConfigError, match="SMTP_PASSWORD is not set"):
        parse_config({"smtp": smtp, "profiles": {"shop": {"brand": "S"} | digest(("email", "a@b.example"))}}, env={})


def test_a_digest_with_email_gets_the_email_channel_from_the_top_level_smtp() -> None:
    smtp = {"host": "smtp.example", "from_address": "npsbot@example.com", "password": "${SMTP_PASSWORD}"}
    digest = {"schedule": "every 7d", "timezone": "Europe/Madrid", "locale": "de-CH",
              "targets": [{"channel": "email", "destination": "leads@example.com"}]}  # fmt: skip
    cfg = parse_config(
        {"smtp": smtp, "profiles": {"shop": {"brand": "S", "digest": digest}}}, env={"SMTP_PASSWORD": "pw"}
    )
    email = cfg.profiles["shop"].channels["email"]
    assert email.password == "pw" and email.effective_port == 587  # type: ignore[attr-defined]
    settings = cfg.profile_settings()["shop"].digest
    assert settings is not None and settings.schedule.every == timedelta(days=7)
    assert (settings.timezone, settings.locale, settings.targets) == (
        "Europe/Madrid", "de", (DigestTarget("email", "leads@example.com"),),
    )  # fmt: skip
