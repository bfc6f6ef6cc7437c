"""The /report dashboard: auth, filters and flags over HTTP, and the page rendered in headless Chromium."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from bots.dashboard.routes import STATIC
from bots.runtime import Runtime
from core import followup
from core.service import utcnow
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived
from tests.browser import chromium, headless_chrome, sign_in, until_loaded
from tests.live import live_app, served

ADMIN, ACME = "dash-admin-token", "dash-acme-token"
SCORES = [10, 10, 9, 9, 9, 8, 7, 6, 3, 0, 10, 9]
MINIMUM = 5
# Survey i is answered in week i % 4 (BASE, BASE + 7 days, …); agent ana for even i; Spanish for i % 3 == 0.
BASE = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=22)


def week(i: int) -> int:
    return i % 4


def config(db: str) -> dict:
    return {
        "database_url": f"sqlite:///{db}",
        "admin_tokens": [ADMIN],
        "report": {"min_responses": MINIMUM},
        "profiles": {
            "acme": {"brand": "Acme", "api_tokens": [ACME], "policy": {"throttle": "0s"}, "channels": {"memory": {}}},
            "tapas": {"brand": "Tapas", "policy": {"throttle": "0s"}, "channels": {"memory": {}}},
        },
    }


async def seed(runtime: Runtime) -> None:
    service = runtime.service
    for i, score in enumerate(SCORES):
        at = BASE + timedelta(days=7 * week(i))
        service.clock = lambda at=at: at
        address = Address("memory", "acme", f"c{i}", f"u{i}")
        locale = "es" if i % 3 == 0 else "en"
        await service.handle(ConversationClosed(address, agent=["ana", "ben"][i % 2], team="care", locale=locale))
        await service.handle(ScoreGiven(address, score))
        await service.handle(TextReceived(address, f"comment number {i}"))
    service.clock = lambda: BASE
    address = Address("memory", "tapas", "t1", "tu1")
    await service.handle(ConversationClosed(address))
    await service.handle(ScoreGiven(address, 2))
    await service.handle(TextReceived(address, "cold food"))
    service.clock = utcnow
    # acme's detractors are c7 (6), c8 (3), c9 (0): c7 resolved after 2 h, c8 claimed, c9 open
    by_conv = {item["comment"]: item["id"] for item in await followup.list_followups(runtime.store, None)}
    done = BASE + timedelta(days=7 * week(7), hours=2)
    await followup.resolve(runtime.store, by_conv["comment number 7"], "lea", done)
    await followup.claim(runtime.store, by_conv["comment number 8"], "max", done)


@pytest.fixture
async def client(tmp_path):
    async with served(config(str(tmp_path / "d.db")), seed) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def get_json(client: TestClient, query: str = "", token: str = ADMIN) -> dict:
    resp = await client.get(f"/report/data.json{query}", headers=bearer(token))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_login_and_token_scope(client: TestClient) -> None:
    resp = await client.get("/report")
    assert resp.status == 401 and 'name="token"' in await resp.text()
    assert (await client.get("/report/data.json")).status == 401
    assert (await client.get("/report/responses.csv")).status == 401
    bad = await client.post("/report/login", data={"token": "nope"}, allow_redirects=False)
    assert bad.status == 401 and "not valid" in await bad.text()
    ok = await client.post("/report/login", data={"token": ACME}, allow_redirects=False)
    assert ok.status == 303 and "npsbot_session" in ok.cookies
    page = await client.get("/report")
    assert page.status == 200 and 'id="distribution"' in await page.text()
    data = await (await client.get("/report/data.json")).json()
    assert data["profiles"] == ["acme"] and data["summary"]["responses"] == len(SCORES)
    assert data["distribution"] == [1, 0, 0, 1, 0, 0, 1, 1, 1, 4, 3]
    assert {r["key"] for r in data["breakdowns"]["profile"]} == {"acme"}
    assert "cold food" not in {c["comment"] for c in data["comments"]}
    assert (await client.get("/report/data.json?profile=tapas")).status == 403
    assert (await client.get("/report/responses.csv?profile=tapas")).status == 403
    search = await (await client.get("/report/data.json?search=number%201&category=promoter")).json()
    assert [c["comment"] for c in search["comments"]] == ["comment number 11", "comment number 10", "comment number 1"]
    rows = list(csv.DictReader(io.StringIO(await (await client.get("/report/responses.csv")).text())))
    assert len(rows) == len(SCORES) and {r["profile"] for r in rows} == {"acme"}
    admin = await get_json(client)
    assert admin["summary"]["responses"] == len(SCORES) + 1
    assert admin["profiles"] == ["acme", "tapas"]
    admin_csv = await (await client.get("/report/responses.csv", headers=bearer(ADMIN))).text()
    assert {r["profile"] for r in csv.DictReader(io.StringIO(admin_csv))} == {"acme", "tapas"}
    js = await client.get("/report/static/dashboard.js")
    assert js.status == 200 and "drawDistribution" in await js.text()
    assert (await client.get("/report/static/../routes.py")).status == 404
    assert (await client.post("/report/logout", allow_redirects=False)).status == 403  # names no origin
    own = {"Origin": str(client.make_url("/").origin())}
    assert (await client.post("/report/logout", headers=own, allow_redirects=False)).status == 303
    assert (await client.get("/report/data.json")).status == 401


async def test_every_filter_narrows_every_figure(client: TestClient) -> None:
    ana = await get_json(client, "?agent=ana")
    expected = [s for i, s in enumerate(SCORES) if i % 2 == 0]
    assert ana["summary"]["responses"] == len(expected) and ana["summary"]["asked"] == len(expected)
    assert sum(ana["distribution"]) == len(expected)
    assert {r["key"] for r in ana["breakdowns"]["agent"]} == {"ana"}
    assert sum(p["responses"] for p in ana["trend"]) == len(expected)
    assert {c["agent"] for c in ana["comments"]} == {"ana"}
    spanish = await get_json(client, "?locale=es")
    assert spanish["summary"]["responses"] == len([i for i in range(len(SCORES)) if i % 3 == 0])
    assert {r["key"] for r in spanish["breakdowns"]["locale"]} == {"es"}
    assert (await get_json(client, "?team=care"))["summary"]["responses"] == len(SCORES)
    assert (await get_json(client, "?team=sales"))["summary"]["responses"] == 0
    assert (await get_json(client, "?channel=memory"))["summary"]["responses"] == len(SCORES) + 1
    assert (await get_json(client, "?channel=slack"))["summary"]["responses"] == 0
    assert (await get_json(client, "?profile=tapas"))["summary"]["responses"] == 1
    # a bare date as "until" includes that day: weeks 0 and 1 of the seed
    until = (BASE + timedelta(days=7)).date().isoformat()
    first_two = await get_json(client, f"?profile=acme&until={until}")
    assert first_two["summary"]["responses"] == len([i for i in range(len(SCORES)) if week(i) <= 1])
    since = (BASE + timedelta(days=14)).date().isoformat()
    last_two = await get_json(client, f"?profile=acme&since={since}")
    assert last_two["summary"]["responses"] == len([i for i in range(len(SCORES)) if week(i) >= 2])
    assert (await client.get("/report/data.json?since=yesterday", headers=bearer(ADMIN))).status == 400
    assert ana["options"]["agent"] == ["ana", "ben"] and ana["options"]["locale"] == ["en", "es"]
    by_day = await get_json(client, "?profile=acme&bucket=day")
    assert [p["period"] for p in by_day["trend"]] == [
        (BASE + timedelta(days=7 * k)).date().isoformat() for k in range(4)
    ]


async def test_min_responses_from_config_flags_small_rows(client: TestClient) -> None:
    data = await get_json(client)
    assert data["min_responses"] == MINIMUM
    profiles = {r["key"]: r for r in data["breakdowns"]["profile"]}
    assert profiles["acme"]["significant"] is True and profiles["tapas"]["significant"] is False
    assert profiles["tapas"]["responses"] == 1 and profiles["tapas"]["nps"] == -100.0
    agents = {r["key"]: r for r in data["breakdowns"]["agent"]}
    assert agents["ana"]["responses"] == 6 and agents["ana"]["significant"] is True
    assert all(p["significant"] is (p["responses"] >= MINIMUM) for p in data["trend"])
    assert data["summary"]["significant"] is True and data["summary"]["low"] < data["summary"]["nps"]


async def test_follow_up_panel(client: TestClient) -> None:
    acme = await get_json(client, "?profile=acme")
    f = acme["follow_up"]
    assert (f["open"], f["claimed"], f["resolved"]) == (1, 1, 1)
    assert f["median_seconds_to_resolve"] == pytest.approx(2 * 3600)
    assert sorted((i["score"], i["status"], i["claimed_by"]) for i in f["items"]) == [
        (0, "open", None),
        (3, "claimed", "max"),
    ]
    assert (await get_json(client))["follow_up"]["open"] == 2  # tapas' detractor too


def test_assets_ship_in_the_package_without_external_urls() -> None:
    files = sorted(STATIC.iterdir())
    assert {f.name for f in files} >= {"dashboard.html", "dashboard.js", "dashboard.css", "login.html"}
    for f in files:
        text = f.read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, f"{f.name} refers to {urls}"  # the SVG namespace is a name
        assert "@import" not in text and "url(" not in text
        assert not re.search(r"""(?:src|href)\s*=\s*["'](?!/report/)""", text), f"{f.name} loads from elsewhere"


@pytest.fixture
def live(tmp_path) -> Iterator[str]:
    with live_app(config(str(tmp_path / "live.db")), seed) as url:
        yield url


@pytest.mark.browser
@pytest.mark.skipif(chromium() is None, reason="Debian chromium and chromium-driver are not installed")
def test_dashboard_renders_charts_in_chromium(live: str, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver = headless_chrome("--window-size=1400,1100")
    try:
        sign_in(driver, live + "/report", ADMIN)
        assert driver.find_element(By.ID, "responses").text == str(len(SCORES) + 1)
        assert "95 % interval" in driver.find_element(By.ID, "interval").text
        bars = driver.find_elements(By.CSS_SELECTOR, "#distribution rect")
        assert len(bars) == 11
        assert len(driver.find_elements(By.CSS_SELECTOR, "#trend circle")) >= 4
        profile_rows = driver.find_elements(By.CSS_SELECTOR, "table[data-dimension=profile] tr")
        flagged = {r.find_element(By.TAG_NAME, "td").text: r.text for r in profile_rows[1:]}
        assert f"(n<{MINIMUM})" in flagged["tapas"] and f"(n<{MINIMUM})" not in flagged["acme"]
        statuses = [r.get_attribute("data-status") for r in driver.find_elements(By.CSS_SELECTOR, "#followups tr")[1:]]
        assert sorted(statuses) == ["claimed", "open", "open"]
        assert "median time to resolve 2.0 h" in driver.find_element(By.ID, "followup-counts").text
        driver.save_screenshot(str(tmp_path / "dashboard.png"))
        png = driver.find_element(By.ID, "distribution").screenshot_as_png
        trend_png = driver.find_element(By.ID, "trend").screenshot_as_png

        Select(driver.find_element(By.ID, "agent")).select_by_value("ben")
        driver.execute_script("document.body.dataset.loaded = 'false'")
        driver.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        until_loaded(driver)
        assert driver.find_element(By.ID, "responses").text == str(len(SCORES) // 2)
        assert "agent=ben" in driver.find_element(By.ID, "csv").get_attribute("href")
        refused = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
        assert refused == [], refused  # the page runs under its policy without tripping it

        driver.find_element(By.CSS_SELECTOR, "#signout button").click()  # a same-origin form post, as sent
        WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.NAME, "token")))
        driver.get(live + "/report/data.json")
        assert "missing or invalid" in driver.find_element(By.TAG_NAME, "body").text
    finally:
        driver.quit()
    pixels = _rgb_pixels(png)

    def near(rgb: tuple[int, ...], target: tuple[int, int, int]) -> bool:
        return sum(abs(a - b) for a, b in zip(rgb, target, strict=True)) < 40

    green = sum(near(p, (0x2E, 0x9E, 0x5B)) for p in pixels)
    red = sum(near(p, (0xD6, 0x45, 0x45)) for p in pixels)
    assert green > 500 and red > 200, f"bars not drawn: {green} green and {red} red pixels"
    trend = _rgb_pixels(trend_png)
    assert sum(near(p, (0x2E, 0x9E, 0x5B)) for p in trend) > 500, "the trend line was not drawn"


def _rgb_pixels(png: bytes) -> list[tuple[int, ...]]:
    from PIL import Image

    raw = Image.open(io.BytesIO(png)).convert("RGB").tobytes()
    return [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]


async def test_operator_api_rows_carry_the_significance_flag(client: TestClient) -> None:
    body = await (await client.get("/api/v1/nps?by=agent&bucket=week", headers=bearer(ADMIN))).json()
    assert body["min_responses"] == MINIMUM  # the configured threshold, as on the dashboard
    rows = {r["key"]: r for r in body["breakdown"]}
    assert rows["ana"]["responses"] == 6 and rows["ana"]["significant"] is True
    assert rows[None]["responses"] == 1 and rows[None]["significant"] is False  # tapas' survey has no agent
    assert body["summary"]["significant"] is True
    expected = [0] * 11
    for score in [*SCORES, 2]:
        expected[score] += 1
    assert body["distribution"] == expected
    assert [p["responses"] for p in body["trend"]] == [4, 3, 3, 3]  # tapas' answer lands in acme's first week
    assert all(p["significant"] is (p["responses"] >= MINIMUM) for p in body["trend"])
    assert (await client.get("/api/v1/nps?bucket=year", headers=bearer(ADMIN))).status == 422


THEMES = {"billing": {"en": ["charge", "invoice"]}, "speed": {"en": ["slow"]}}
THEMED = [(2, "They charged me twice"), (3, "Wrong invoice"), (6, "Slow and a wrong invoice"), (9, "slow but fine")]


async def seed_with_themes(runtime: Runtime) -> None:
    await seed(runtime)
    service = runtime.service
    service.clock = lambda: BASE + timedelta(days=21)
    for i, (score, comment) in enumerate(THEMED):
        address = Address("memory", "acme", f"th{i}", f"thu{i}")
        await service.handle(ConversationClosed(address, agent="ana", team="care", locale="en"))
        await service.handle(ScoreGiven(address, score))
        await service.handle(TextReceived(address, comment))
    service.clock = utcnow


@pytest.fixture
def live_themes(tmp_path) -> Iterator[str]:
    cfg = config(str(tmp_path / "themes.db"))
    cfg["profiles"]["acme"]["themes"] = THEMES
    with live_app(cfg, seed_with_themes) as url:
        yield url


@pytest.mark.browser
@pytest.mark.skipif(chromium() is None, reason="Debian chromium and chromium-driver are not installed")
def test_theme_chart_and_table_filter_the_comments_in_chromium(live_themes: str, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = headless_chrome("--window-size=1400,1600")

    def reload_after(action) -> None:
        driver.execute_script("document.body.dataset.loaded = 'false'")
        action()
        until_loaded(driver)

    def comment_texts() -> list[str]:
        return [
            li.find_elements(By.TAG_NAME, "span")[1].text
            for li in driver.find_elements(By.CSS_SELECTOR, "#comments li")
        ]

    try:
        sign_in(driver, live_themes + "/report", ACME)
        bars = {
            g.get_attribute("data-theme"): g for g in driver.find_elements(By.CSS_SELECTOR, "#theme-chart g.theme-bar")
        }
        assert set(bars) == {"billing", "speed"} and bars["billing"].get_attribute("data-mentions") == "3"
        assert len(bars["billing"].find_elements(By.CSS_SELECTOR, "rect[data-category=detractor]")) == 1
        rows = {
            r.get_attribute("data-theme"): r.text
            for r in driver.find_elements(By.CSS_SELECTOR, "#themes tr[data-theme]")
        }
        assert "100 %" not in rows["billing"] and "billing 3" in rows["billing"]
        driver.find_element(By.ID, "themes-panel").screenshot(str(tmp_path / "themes.png"))
        chart_png = driver.find_element(By.ID, "theme-chart").screenshot_as_png
        assert len(comment_texts()) == len(SCORES) + len(THEMED)

        reload_after(lambda: bars["billing"].click())  # the chart's bar
        assert sorted(comment_texts()) == sorted(c for _, c in THEMED if "charge" in c or "invoice" in c)
        chip = driver.find_element(By.CSS_SELECTOR, "#theme-chip button")
        assert chip.get_attribute("data-theme") == "billing"
        reload_after(chip.click)
        assert len(comment_texts()) == len(SCORES) + len(THEMED)
        reload_after(lambda: driver.find_element(By.CSS_SELECTOR, "#themes tr[data-theme=speed]").click())  # the table
        assert sorted(comment_texts()) == sorted(c for _, c in THEMED if "low" in c)

        driver.find_element(By.ID, "discover").click()
        WebDriverWait(driver, 30).until(
            lambda d: "comments that match no theme" in d.find_element(By.ID, "discover-note").text
        )
        assert "(acme)" in driver.find_element(By.ID, "discover-note").text
        phrases = [
            r.get_attribute("data-phrase") for r in driver.find_elements(By.CSS_SELECTOR, "#discovered tr[data-phrase]")
        ]
        assert "comment number" in phrases  # the seed's comments all say it, and no theme covers it
        refused = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
        assert refused == [], refused
    finally:
        driver.quit()
    red = sum(
        1 for p in _rgb_pixels(chart_png) if sum(abs(a - b) for a, b in zip(p, (0xD6, 0x45, 0x45), strict=True)) < 40
    )
    assert red > 200, f"the theme chart drew {red} red pixels"
