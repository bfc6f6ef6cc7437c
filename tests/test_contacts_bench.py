"""The contact import bench runs end to end on a small file (its timings are read by people, never asserted): the
import path and the bare baseline are both measured, and the figures are printed next to each other."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.contacts_bench import bench, show
from bench.databases import empty_store


async def test_bench_reports_the_import_next_to_the_baseline(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    async with empty_store("sqlite", "test") as store:
        results = await bench(store, 1500, tmp_path)  # each import also checks every row was saved
    labels = [label for label, _ in results]
    assert labels[0].startswith("baseline") and len(labels) == len(set(labels)) == 3
    assert all(seconds > 0 for _, seconds in results)
    show("sqlite", 1500, results)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("sqlite, 1,500 contacts")
    assert printed[1].split("×")[0].split()[-1] == "1.0"  # the baseline against itself
    assert all("× the baseline" in line for line in printed[1:]) and len(printed) == 4
