"""The /report dashboard: auth over HTTP, and the page rendered in headless Chromium with its charts drawn."""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bots.app import create_app
from bots.config import parse_config
from bots.runtime import Runtime
from core.types import Address, ConversationClosed, ScoreGiven, TextReceived
from tests.live import live_app

ADMIN, ACME = "dash-admin-token", "dash-acme-token"
SCORES = [10, 10, 9, 9, 9, 8, 7, 6, 3, 0, 10, 9]


def config(db: str) -> dict:
    return {
        "database_url": f"sqlite:///{db}",
        "admin_tokens": [ADMIN],
        "profiles": {
            "acme": {"brand": "Acme", "api_tokens": [ACME], "policy": {"throttle": "0s"}, "channels": {"memory": {}}},
            "tapas": {"brand": "Tapas", "policy": {"throttle": "0s"}, "channels": {"memory": {}}},
        },
    }


async def seed(runtime: Runtime) -> None:
    for i, score in enumerate(SCORES):
        address = Address("memory", "acme", f"c{i}", f"u{i}")
        await runtime.service.handle(ConversationClosed(address, agent=["ana", "ben"][i % 2], team="care"))
        await runtime.service.handle(ScoreGiven(address, score))
        await runtime.service.handle(TextReceived(address, f"comment number {i}"))
    address = Address("memory", "tapas", "t1", "tu1")
    await runtime.service.handle(ConversationClosed(address))
    await runtime.service.handle(ScoreGiven(address, 2))


@pytest.fixture
async def client(tmp_path):
    runtime = Runtime(parse_config(config(str(tmp_path / "d.db")), env={}))
    await runtime.store.migrate()
    await seed(runtime)
    async with TestClient(TestServer(create_app(runtime))) as c:
        yield c


async def test_login_and_token_scope(client: TestClient) -> None:
    resp = await client.get("/report")
    assert resp.status == 401 and 'name="token"' in await resp.text()
    assert (await client.get("/report/data.json")).status == 401
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
    assert (await client.get("/report/data.json?profile=tapas")).status == 403
    search = await (await client.get("/report/data.json?search=number%201&category=promoter")).json()
    assert [c["comment"] for c in search["comments"]] == ["comment number 11", "comment number 10", "comment number 1"]
    csv_text = await (await client.get("/report/responses.csv")).text()
    assert csv_text.count("\n") == len(SCORES) + 1
    admin = await (await client.get("/report/data.json", headers={"Authorization": f"Bearer {ADMIN}"})).json()
    assert admin["summary"]["responses"] == len(SCORES) + 1
    js = await client.get("/report/static/dashboard.js")
    assert js.status == 200 and "drawDistribution" in await js.text()
    assert (await client.get("/report/static/../routes.py")).status == 404


def chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture
def live(tmp_path) -> Iterator[str]:
    with live_app(config(str(tmp_path / "live.db")), seed) as url:
        yield url


@pytest.mark.browser
@pytest.mark.skipif(chromium() is None, reason="Debian chromium and chromium-driver are not installed")
def test_dashboard_renders_charts_in_chromium(live: str, tmp_path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = chromium()  # type: ignore[misc]
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1100",
        f"--user-data-dir={tempfile.mkdtemp(prefix='npsbot-chromium-')}",
    ):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(live + "/report")
        driver.find_element(By.NAME, "token").send_keys(ADMIN)
        driver.find_element(By.ID, "signin").click()
        WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, "body[data-loaded=true]")))
        assert driver.find_element(By.ID, "responses").text == str(len(SCORES) + 1)
        bars = driver.find_elements(By.CSS_SELECTOR, "#distribution rect")
        assert len(bars) == 11
        driver.save_screenshot(str(tmp_path / "dashboard.png"))
        png = driver.find_element(By.ID, "distribution").screenshot_as_png
        trend_png = driver.find_element(By.ID, "trend").screenshot_as_png
    finally:
        driver.quit()
    pixels = _rgb_pixels(png)

    def near(rgb: tuple[int, int, int], target: tuple[int, int, int]) -> bool:
        return sum(abs(a - b) for a, b in zip(rgb, target, strict=True)) < 40

    green = sum(near(p, (0x2E, 0x9E, 0x5B)) for p in pixels)
    red = sum(near(p, (0xD6, 0x45, 0x45)) for p in pixels)
    assert green > 500 and red > 200, f"bars not drawn: {green} green and {red} red pixels"
    trend = _rgb_pixels(trend_png)
    assert sum(near(p, (0x2E, 0x9E, 0x5B)) for p in trend) > 20, "the trend line was not drawn"


def _rgb_pixels(png: bytes) -> list[tuple[int, ...]]:
    from PIL import Image

    raw = Image.open(io.BytesIO(png)).convert("RGB").tobytes()
    return [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
