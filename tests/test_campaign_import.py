"""A campaign over 10,000 contacts imported from a CSV file through `npsbot contacts import`'s own path, on both
backends: the audience, the channel preference across a person's contacts and one survey per person and period."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bench.campaign_bench import NOW, campaign, settings
from core.campaign_run import CampaignJob
from core.contacts_csv import import_csv
from core.scheduler import Scheduler
from core.store import Store
from core.store.tables import SurveyRow
from core.suppression import SuppressionKeys
from tests.conftest import FakeClock

S = SurveyRow.__table__
PEOPLE = 8_000  # every fourth person also has a Telegram contact: 10,000 rows in all


def write_file(path: Path) -> dict[str, str]:
    """The spreadsheet, and the channel the campaign must choose for each person it is for (plan pro): Telegram
    first in its preference order, so whoever has a Telegram contact is asked there."""
    want: dict[str, str] = {}
    with path.open("w", newline="", encoding="utf-8-sig") as f:  # as a spreadsheet saves it, with a BOM
        out = csv.writer(f, delimiter=";")
        out.writerow(["channel", "id", "external_id", "locale", "timezone", "plan", "seats:int"])
        for i in range(PEOPLE):
            plan = "pro" if i % 3 else "free"
            out.writerow(["webhook", f"w{i}", f"person-{i}", "es", "Europe/Madrid", plan, i % 50])
            if i % 4 == 0:
                out.writerow(["telegram", f"{100000 + i}", f"person-{i}", "es", "", plan, ""])
            if plan == "pro":
                want[f"person-{i}"] = "telegram" if i % 4 == 0 else "webhook"
    return want


async def test_a_campaign_over_ten_thousand_imported_contacts_asks_each_person_once(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "contacts.csv"
    want = write_file(path)
    clock = FakeClock(NOW - timedelta(hours=1))
    imported = await import_csv(
        store, SuppressionKeys(), path, profile="acme", channels=("telegram", "webhook"), clock=clock
    )
    assert (imported.rows, imported.saved, imported.bad_rows) == (10_000, 10_000, 0)

    job = CampaignJob(store, settings(), campaign(), clock)
    scheduler = Scheduler(store, [job], clock)
    assert await scheduler.run_due() == {}  # first due at the next Monday 09:00 in Madrid
    clock.now = NOW
    counts = (await scheduler.run_due())[job.name]
    assert counts["created"] == len(want)

    async with store.read() as conn:
        rows = (await conn.execute(select(S.c.channel, S.c.user_id, S.c.case_key, S.c.kind))).all()
    by_person = {}
    for row in rows:
        person = f"person-{row.user_id[1:]}" if row.channel == "webhook" else f"person-{int(row.user_id) - 100000}"
        assert person not in by_person, f"{person} asked twice"
        by_person[person] = row.channel
    assert by_person == want
    assert {row.kind for row in rows} == {"relational"}

    clock.advance(hours=3)  # the same period run again by hand: nobody is asked twice
    again = await scheduler.run_job(job, force=True)
    assert again is not None and again["created"] == 0
