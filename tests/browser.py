"""Headless Chromium for the dashboard's browser tests: Debian's chromium and chromium-driver, a fresh profile each
time, the console kept (Content-Security-Policy reports land there)."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

QUIET = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)  # fmt: skip


def chromium() -> tuple[str, str] | None:
    """The browser and its driver, or None where they are not installed (the browser tests are then skipped)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def headless_chrome(*args: str) -> Any:
    """A driver for a new headless browser; `args` add to its command line (a window size, hidden scrollbars)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = chromium()  # type: ignore[misc]
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (*QUIET, *args, f"--user-data-dir={tempfile.mkdtemp(prefix='npsbot-chromium-')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


def until_loaded(driver: Any) -> None:
    """Wait until the dashboard has drawn its data: it then sets body[data-loaded=true]."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, "body[data-loaded=true]")))


def sign_in(driver: Any, url: str, token: str) -> None:
    """Open the dashboard at `url`, sign in with `token` and wait until it has drawn."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    driver.find_element(By.NAME, "token").send_keys(token)
    driver.find_element(By.ID, "signin").click()
    until_loaded(driver)
