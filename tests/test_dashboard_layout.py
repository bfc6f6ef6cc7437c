"""The dashboard as a support lead reads it, in headless Chromium at a desktop (1366×900) and a phone (390×844)
width: tables as tall as their rows, words left-aligned and figures right-aligned, the detractor list with each
follow-up's priority, tags and SLA, the SLA tables, and nothing wider than a phone's screen. Screenshots of both
are saved under the test's tmp path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bots.runtime import Runtime
from core import followup
from core.service import utcnow
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived
from tests.browser import chromium, headless_chrome, sign_in, until_loaded
from tests.live import live_app

ADMIN = "layout-admin-token"
NOW = datetime.now(UTC).replace(microsecond=0)
LONG = (
    "The invoice was wrong twice, nobody called me back for three days and the refund still has not arrived, "
    "which is not what I expect after six years as a customer"
)
# (team, agent, score, comment): two teams, four agents, the detractors' comments long and short.
RESPONSES = [
    ("billing", "Ana", 0, LONG),
    ("billing", "Ana", 2, "Charged twice"),
    ("billing", "Ben", 5, "Slow answer"),
    ("billing", "Ben", 9, "Quick and kind"),
    ("tech", "Carla", 10, "Solved in minutes"),
    ("tech", "Carla", 6, "Fixed, but it took a week"),
    ("tech", "Dmitri", 1, "The app still crashes"),
    ("tech", "Dmitri", 8, "Fine"),
    ("billing", "Ana", 9, "Great"),
    ("tech", "Carla", 7, "OK"),
]


def config(db: str) -> dict[str, Any]:
    rules = [
        {
            "name": "urgent",
            "when": {"score": "0-2"},
            "then": {
                "priority": "urgent",
                "tags": ["churn-risk"],
                "claim_within": "2h",
                "resolve_within": "1d",
                "escalate_to": [{"channel": "memory", "destination": "head-of-support"}],
            },
        },
        {
            "name": "detractors",
            "when": {"category": "detractor"},
            "then": {"tags": ["follow-up"], "claim_within": "8h"},
        },
    ]
    profile = {
        "brand": "Acme",
        "policy": {"throttle": "0s"},
        "channels": {"memory": {}},
        "alerts": [{"channel": "memory", "destination": "leads"}],
        "rules": rules,
    }
    return {"database_url": f"sqlite:///{db}", "admin_tokens": [ADMIN], "profiles": {"acme": profile}}


async def seed(runtime: Runtime) -> None:
    service = runtime.service
    for i, (team, agent, score, comment) in enumerate(RESPONSES):
        at = NOW - timedelta(days=3, hours=i)
        service.clock = lambda at=at: at
        address = Address("memory", "acme", f"c{i}", f"u{i}")
        await service.handle(ConversationClosed(address, agent=agent, team=team, customer_name=f"Customer {i}"))
        await service.handle(ScoreGiven(address, score))
        await service.handle(TextReceived(address, comment))
    ids = {item["comment"]: item["id"] for item in await followup.list_followups(runtime.store, None)}
    await followup.claim(runtime.store, ids["Charged twice"], "lea", NOW - timedelta(days=3, hours=0.5))  # in time
    await followup.resolve(runtime.store, ids["Slow answer"], "max", NOW - timedelta(days=2))  # claimed late
    service.clock = utcnow
    await service.tick()  # the unclaimed urgent ones are escalated now


@pytest.fixture
def live(tmp_path: Path) -> Iterator[str]:
    with live_app(config(str(tmp_path / "layout.db")), seed) as url:
        yield url


def _viewport(driver: Any, width: int, height: int, mobile: bool) -> None:
    """The page's own viewport, exactly (a window size would include the browser's frame)."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def _load(driver: Any, url: str) -> None:
    driver.get(url)
    until_loaded(driver)


# Facts about the laid-out page, read in one script: row heights, each table's height against its rows',
# alignment of text and number cells (computed style, and where the text actually sits in its cell).
FACTS = """
const rect = (e) => e.getBoundingClientRect();
const textBox = (td) => {
  const r = document.createRange();
  r.selectNodeContents(td);
  return r.getBoundingClientRect();
};
const tables = [...document.querySelectorAll('#breakdowns table, #sla-tables table')];
const cardsShown = getComputedStyle(document.querySelector('#followups tr')).display === 'none';  // the phone's cards
const numbers = cardsShown ? '#sla-tables td.num' : '#followups td.num, #sla-tables td.num';
return {
  scrollWidth: document.documentElement.scrollWidth,
  beyond: [...document.querySelectorAll('body *')].filter((e) => rect(e).right > window.innerWidth + 1)
    .slice(0, 8).map((e) => `${e.tagName}#${e.id}.${e.className.baseVal ?? e.className}`),
  innerWidth: window.innerWidth,
  breakdownRows: [...document.querySelectorAll('#breakdowns tr, #sla-tables tr')].map((tr) => rect(tr).height),
  tableSlack: tables.map((t) => rect(t).height - [...t.rows].reduce((sum, tr) => sum + rect(tr).height, 0)),
  textCells: [...document.querySelectorAll('#followups td.text')].filter((td) => td.textContent.trim()).map((td) => ({
    align: getComputedStyle(td).textAlign,
    gap: textBox(td).left - (rect(td).left + parseFloat(getComputedStyle(td).paddingLeft)),
  })),
  numCells: [...document.querySelectorAll(numbers)].map((td) => ({
    align: getComputedStyle(td).textAlign,
    gap: (rect(td).right - parseFloat(getComputedStyle(td).paddingRight)) - textBox(td).right,
  })),
  clipped: [...document.querySelectorAll('#followups td')].filter((td) => td.scrollWidth > td.clientWidth + 1)
    .map((td) => td.dataset.label),
  followupDisplay: getComputedStyle(document.querySelector('#followups tr:nth-child(2)')).display,
  followupRows: [...document.querySelectorAll('#followups tr')].slice(1).map((tr) => ({
    priority: tr.dataset.priority, text: tr.innerText,
    deadlines: [...tr.querySelectorAll('.deadline')].map((d) => d.dataset.kind + ':' + d.dataset.status),
  })),
  slaTeams: [...document.querySelectorAll('table[data-sla=team] tr')].slice(1).map((tr) => tr.cells[0].innerText),
};
"""


@pytest.mark.browser
@pytest.mark.skipif(chromium() is None, reason="Debian chromium and chromium-driver are not installed")
def test_dashboard_layout_at_desktop_and_phone_widths(live: str, tmp_path: Path) -> None:

    driver = headless_chrome("--hide-scrollbars")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        _viewport(driver, 1366, 900, mobile=False)
        sign_in(driver, live + "/report", ADMIN)
        _load(driver, live + "/report")
        desktop = driver.execute_script(FACTS)
        _full_page_screenshot(driver, shots / "dashboard-desktop-1366.png", 1366)

        _viewport(driver, 390, 844, mobile=True)
        _load(driver, live + "/report")
        phone = driver.execute_script(FACTS)
        _full_page_screenshot(driver, shots / "dashboard-phone-390.png", 390)
    finally:
        driver.quit()

    for facts in (desktop, phone):
        assert facts["breakdownRows"] and max(facts["breakdownRows"]) < 64, facts["breakdownRows"]  # no stretched rows
        assert max(facts["tableSlack"]) < 40, facts["tableSlack"]  # a table is its rows plus its padding, no more
        assert facts["textCells"] and {c["align"] for c in facts["textCells"]} == {"left"}
        assert facts["numCells"] and {c["align"] for c in facts["numCells"]} == {"right"}
        assert max(abs(c["gap"]) for c in facts["numCells"]) < 2  # the figures end at the cell's right edge
        assert facts["clipped"] == []  # nothing in the detractor list is cut off
        assert facts["slaTeams"] == ["billing", "tech"] or facts["slaTeams"] == ["tech", "billing"]

    rows = desktop["followupRows"]
    assert [r["priority"] for r in rows][:2] == ["urgent", "urgent"]  # the most urgent first
    urgent = [r for r in rows if r["priority"] == "urgent"]
    assert all("churn-risk" in r["text"] and "follow-up" in r["text"] for r in urgent)
    # Scores 0 and 1 were never claimed, score 2 was within its 2 h; none was resolved within the day.
    assert sorted(tuple(r["deadlines"]) for r in urgent) == [
        ("claim:breached", "resolve:breached"),
        ("claim:breached", "resolve:breached"),
        ("claim:met", "resolve:breached"),
    ]
    assert all("escalated" in r["text"] for r in urgent)
    normal = [r for r in rows if r["priority"] == "normal"]  # score 6, never claimed, past its 8 h
    assert [tuple(r["deadlines"]) for r in normal] == [("claim:breached",)]
    assert max(abs(c["gap"]) for c in desktop["textCells"]) < 2  # the words start at the cell's left edge
    assert desktop["followupDisplay"] == "table-row"
    assert phone["followupDisplay"] == "block"  # one card per detractor on a phone
    assert phone["scrollWidth"] <= phone["innerWidth"] == 390, phone["beyond"]
    assert desktop["scrollWidth"] <= desktop["innerWidth"] == 1366, desktop["beyond"]
    assert (shots / "dashboard-desktop-1366.png").stat().st_size > 10_000
    assert (shots / "dashboard-phone-390.png").stat().st_size > 10_000


def _full_page_screenshot(driver: Any, path: Path, width: int) -> None:
    """The whole page, not only the first screenful: Chromium captures beyond the viewport through CDP."""
    import base64

    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"captureBeyondViewport": True, "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
    )
    path.write_bytes(base64.b64decode(shot["data"]))
