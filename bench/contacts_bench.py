"""Contact import bench: a generated CSV of 100,000 contacts through `npsbot contacts import`'s own path
(core.contacts_csv.import_csv: streamed, validated row by row, suppression-checked, upserted a batch per
transaction), next to a bare baseline measured in the same run — a plain executemany INSERT of the same rows, already
in memory, into the same table in transactions of the same size — on SQLite and PostgreSQL.

    python -m bench.contacts_bench                             # 100,000 contacts on both backends
    python -m bench.contacts_bench --rows 5000 --backends sqlite

The file has the columns an operator's export would: channel, id, name, locale, timezone, consent, external_id and
three attributes (text, a whole number, a flag). Measured: the baseline, the import into an empty table (every row
created), and the same file imported again (every row updated, attributes merged)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select

from bench.databases import empty_store
from core.contact_batches import MAX_BATCH
from core.contacts_csv import import_csv
from core.store import Store
from core.store.tables import ContactRow
from core.suppression import SuppressionKeys

C = ContactRow.__table__
PROFILE, CHANNEL = "shop", "telegram"
ZONES = ("Europe/Madrid", "America/New_York", "Asia/Tokyo", "America/Sao_Paulo", "Africa/Lagos")
LOCALES = ("en", "es-ES", "pt-BR", "fr", "de")
HEADER = ["channel", "id", "name", "locale", "timezone", "consent", "external_id", "plan", "seats:int", "vip:bool"]
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def row(i: int) -> list[str]:
    consent = ("granted", "denied", "")[i % 3]
    plan = ("free", "pro", "team")[i % 3]
    return [CHANNEL, f"u{i}", f"Customer {i}", LOCALES[i % 5], ZONES[i % 5], consent, f"crm-{i}", plan,
            str(i % 50), ("true", "false")[i % 2]]  # fmt: skip


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        out.writerows(row(i) for i in range(rows))


def baseline_rows(rows: int) -> Iterator[list[dict[str, Any]]]:
    """The same contacts as plain column values, a batch at a time (built before the clock starts)."""
    batch: list[dict[str, Any]] = []
    for i in range(rows):
        r = row(i)
        batch.append(
            {"profile": PROFILE, "channel": CHANNEL, "user_id": r[1], "name": r[2], "locale": r[3][:2],
             "timezone": r[4], "consent": r[5] or None, "consent_at": NOW if r[5] else None, "external_id": r[6],
             "attributes": {"plan": r[7], "seats": int(r[8]), "vip": r[9] == "true"}, "created_at": NOW,
             "updated_at": NOW}
        )  # fmt: skip
        if len(batch) == MAX_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def count(store: Store) -> int:
    async with store.read() as conn:
        return (await conn.execute(select(func.count()).select_from(C))).scalar_one()


async def bench(store: Store, rows: int, directory: Path) -> list[tuple[str, float]]:
    await store.migrate()
    path = directory / "contacts.csv"
    write_csv(path, rows)
    keys = SuppressionKeys([b"bench-hash-key-0123456789abcdef"])
    batches = list(baseline_rows(rows))
    statement = insert(C)

    t0 = time.perf_counter()
    for batch in batches:
        async with store.transaction() as conn:
            await conn.execute(statement, batch)
    baseline = time.perf_counter() - t0
    assert await count(store) == rows
    async with store.transaction() as conn:
        await conn.execute(delete(C))

    async def imported() -> float:
        t0 = time.perf_counter()
        done = await import_csv(store, keys, path, profile=PROFILE, channels=(CHANNEL,), clock=lambda: NOW)
        seconds = time.perf_counter() - t0
        assert (done.rows, done.saved, done.bad_rows) == (rows, rows, 0), done
        return seconds

    created = await imported()
    updated = await imported()
    assert await count(store) == rows
    return [
        ("baseline: executemany INSERT of the same rows", baseline),
        ("import: every row created", created),
        ("import again: every row updated", updated),
    ]


async def run_backend(backend: str, rows: int) -> list[tuple[str, float]]:
    directory = Path(tempfile.mkdtemp(prefix="npsbot-cbench-"))
    try:
        async with empty_store(backend, "cbench") as store:
            return await bench(store, rows, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def show(backend: str, rows: int, results: list[tuple[str, float]]) -> None:
    base = results[0][1]
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{backend}, {rows:,} contacts (load {load}):")
    for label, seconds in results:
        rate = rows / seconds if seconds else float("inf")
        print(f"  {label:<48} {seconds:8.2f} s  {rate:10,.0f} rows/s  {seconds / base:6.1f}× the baseline")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="contacts in the file (default 100,000)")
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    args = parser.parse_args()
    for backend in args.backends:
        show(backend, args.rows, await run_backend(backend, args.rows))


if __name__ == "__main__":
    asyncio.run(main())
