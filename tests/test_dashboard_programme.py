"""The dashboard's survey programme: the kind filter and campaign picker, the variants panel, the benchmark next to
the headline NPS and the sampled count, in the data it draws from and in headless Chromium. The seed is
tests/test_report_programme.py's (acme's benchmark +10, variants a and b, campaign q4, 12 conversations sampled
out)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestClient

from bots.runtime import Runtime
from tests.browser import chromium, headless_chrome, sign_in, until_loaded
from tests.live import live_app, served
from tests.test_report_programme import ACME, ADMIN, config, insert_programme


async def seed(runtime: Runtime) -> None:
    await insert_programme(runtime.store)


@pytest.fixture
async def client(tmp_path):
    async with served(config(f"sqlite:///{tmp_path / 'dash.db'}"), seed) as c:
        yield c


async def data(client: TestClient, query: str, token: str) -> dict:
    resp = await client.get(f"/report/data.json{query}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_data_carries_benchmark_sampling_and_variants(client: TestClient) -> None:
    mine = await data(client, "", ACME)  # the token's only profile: its benchmark and its variants
    assert mine["summary"]["benchmark"] == {
        "benchmark": 10.0,
        "difference": round(-100 / 62 - 10, 2),
        "significant": False,
    }
    assert mine["sampling"] == {"closed": 95, "sampled": 83, "sampled_out": 12}
    assert mine["variants"]["profile"] == "acme" and mine["variants"]["control"] == "a"
    b = mine["variants"]["variants"][1]
    assert (b["variant"], b["response_rate"], b["versus_control"]["nps"]["verdict"]) == ("b", 0.3, "significant")
    assert mine["options"]["campaign"] == ["q4"] and mine["options"]["variant"] == ["a", "b"]
    assert {r["key"] for r in mine["breakdowns"]["kind"]} == {"transactional", "relational"}
    everyone = await data(client, "", ADMIN)  # two profiles: neither benchmark nor variants apply
    assert everyone["summary"]["benchmark"] is None and everyone["variants"] is None
    relational = await data(client, "?profile=acme&kind=relational&campaign=q4", ADMIN)
    assert relational["summary"]["asked"] == 50 and relational["summary"]["benchmark"]["significant"] is True
    assert relational["sampling"] is None and relational["variants"]["variants"] == []


@pytest.fixture
def live(tmp_path) -> Iterator[str]:
    with live_app(config(f"sqlite:///{tmp_path / 'live.db'}"), seed) as url:
        yield url


@pytest.mark.browser
@pytest.mark.skipif(chromium() is None, reason="Debian chromium and chromium-driver are not installed")
def test_kind_filter_and_variants_panel_in_chromium(live: str, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = headless_chrome("--window-size=1400,1400")

    def apply() -> None:
        driver.execute_script("document.body.dataset.loaded = 'false'")
        driver.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
        until_loaded(driver)

    def text(element_id: str) -> str:
        return driver.find_element(By.ID, element_id).text

    try:
        sign_in(driver, live + "/report", ACME)
        assert text("responses") == "62" and text("nps") == "-1.6"
        assert text("benchmark") == "benchmark +10.0: -11.6 · within the margin of error"
        assert text("sampled") == "sampled 83 of 95 closed conversations"
        rows = {
            r.get_attribute("data-variant"): r
            for r in driver.find_elements(By.CSS_SELECTOR, "#variants tr[data-variant]")
        }
        assert set(rows) == {"a", "b"} and "(control)" in rows["a"].text
        cells = [td.text for td in rows["b"].find_elements(By.TAG_NAME, "td")]
        assert cells[:4] == ["b", "40", "12", "30 %"] and cells[4] == "-45.0 pts · significant"
        assert cells[5] == "-33.3" and cells[7] == "-63.3 · significant"
        verdicts = rows["b"].find_elements(By.CSS_SELECTOR, "td[data-verdict=significant]")
        assert len(verdicts) == 2
        campaigns = Select(driver.find_element(By.ID, "campaign"))
        assert driver.find_element(By.ID, "campaign").is_displayed()
        assert [o.get_attribute("value") for o in campaigns.options] == ["", "q4"]
        driver.find_element(By.ID, "variants-panel").screenshot(str(tmp_path / "variants.png"))

        Select(driver.find_element(By.ID, "kind")).select_by_value("relational")
        apply()
        assert text("responses") == "20" and text("nps") == "-30.0"
        assert text("benchmark") == "benchmark +10.0: -40.0 · significant"
        assert text("sampled") == ""  # campaigns are not sampled conversations
        assert "No survey of acme carries a variant" in text("variants-note")
        assert "kind=relational" in driver.find_element(By.ID, "csv").get_attribute("href")
        kinds = Select(driver.find_element(By.ID, "kind"))
        assert [o.get_attribute("value") for o in kinds.options] == ["", "transactional", "relational"]

        Select(driver.find_element(By.ID, "kind")).select_by_value("transactional")
        apply()
        assert text("responses") == "42" and "variant" not in text("variants-note").split(":")[0]
        assert len(driver.find_elements(By.CSS_SELECTOR, "#variants tr[data-variant]")) == 2
        refused = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
        assert refused == [], refused
        errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
    finally:
        driver.quit()
