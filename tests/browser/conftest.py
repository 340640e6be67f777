"""Fixtures of the browser tier (marker ``browser``): the real HTTP server on loopback and headless
Chromium from Debian's packages, driven by Selenium through Debian's chromedriver.

The driver's path is given to Selenium, so Selenium Manager never runs (it would download a browser
and driver of its own). ``make test`` installs both packages first (``make browser``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from scripts.local_server import running_server
from tests.browser.key_gateway import KeyGateway, running_key_gateway

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPORTS = Path(__file__).resolve().parents[2] / "reports"
DESKTOP = (1280, 1000)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_server() as url:
        yield url


@pytest.fixture
def key_gateway(base_url: str) -> Iterator[KeyGateway]:
    """The server behind a stand-in for API Gateway with an API key required (tests/browser/key_gateway.py)."""
    with running_key_gateway(base_url) as gateway:
        yield gateway


def chrome_options() -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--no-first-run", "--no-default-browser-check",
                     # Nothing of the browser's own talks to the network: no updates, sync or safe browsing.
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-default-apps", "--disable-extensions", "--metrics-recording-only"):
        options.add_argument(argument)
    # The performance log holds DevTools' network events: every request the page makes, with its size.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return options


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: `make browser` installs Debian's chromium and chromium-driver")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=chrome_options())
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def reports() -> Path:
    REPORTS.mkdir(exist_ok=True)
    return REPORTS
