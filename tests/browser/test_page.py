"""The page for an agent in headless Chromium, against the real HTTP server: it prices the prefilled
house as the API does, draws the explanation, shows the API's own problems next to their fields,
loads within its budget from this server alone, fits a phone, and asks for an API key when the
deployment needs one."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from scripts.container.loopback import HOST, request
from tests.browser.key_gateway import KEY, KeyGateway

pytestmark = pytest.mark.browser

FIRST_LOAD_BUDGET = 300 * 1024   # bytes on the wire until the form is ready: page, assets, API calls
WAIT_SECONDS = 30
PHONE = (390, 844)


# ---- the API, called by the test itself -----------------------------------------------------------

def example_house(base_url: str) -> dict[str, Any]:
    """The house the page prefills: the examples of the OpenAPI document's House schema."""
    status, _, document = request(f"{base_url}/v1/swagger?format=json")
    assert status == 200
    fields = document["components"]["schemas"]["House"]["properties"]
    return {name: field["examples"][0] for name, field in fields.items()}


def explain(base_url: str, house: dict[str, Any], **query: str) -> tuple[int, dict[str, Any]]:
    suffix = f"?{urlencode(query)}" if query else ""
    status, _, body = request(f"{base_url}/v1/predict/explain{suffix}", "POST", house)
    return status, body


def dollars(value: float) -> str:
    """As the page writes a price: whole dollars, halves away from zero (Intl.NumberFormat)."""
    return f"${Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"


# ---- the page -------------------------------------------------------------------------------------

def wait(driver: webdriver.Chrome, condition) -> Any:
    return WebDriverWait(driver, WAIT_SECONDS).until(condition)


def open_page(driver: webdriver.Chrome, url: str) -> None:
    driver.get(f"{url}/")
    wait(driver, lambda d: d.find_element(By.ID, "submit").is_enabled())


def submit(driver: webdriver.Chrome) -> None:
    driver.find_element(By.ID, "submit").click()


def price_shown(driver: webdriver.Chrome) -> str:
    wait(driver, expected_conditions.visibility_of_element_located((By.ID, "result")))
    return driver.find_element(By.ID, "price").text


def network_events(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """DevTools network events since the last call (reading the performance log empties it)."""
    events = [json.loads(entry["message"])["message"] for entry in driver.get_log("performance")]
    return [event for event in events if event["method"].startswith("Network.")]


def requested_urls(events: list[dict[str, Any]]) -> list[str]:
    return [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]


def bytes_received(events: list[dict[str, Any]]) -> int:
    return int(sum(e["params"]["encodedDataLength"] for e in events if e["method"] == "Network.loadingFinished"))


def save_screenshot(driver: webdriver.Chrome, path: Path) -> None:
    """The whole page: the window is made as tall as the document first."""
    width = driver.execute_script("return window.innerWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, height + 140)   # the window's own frame is outside innerHeight
    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"


# ---- the tests ------------------------------------------------------------------------------------

def test_the_prefilled_house_is_priced_and_explained_as_the_api_does(browser, base_url, reports):
    house = example_house(base_url)
    status, answer = explain(base_url, house)
    assert status == 200

    open_page(browser, base_url)
    first_load = network_events(browser)
    submit(browser)
    shown = price_shown(browser)

    assert shown == dollars(answer["price"])
    low, high = answer["interval"]["low"], answer["interval"]["high"]
    assert browser.find_element(By.ID, "range").text == f"80% range: {dollars(low)} – {dollars(high)}"
    assert browser.find_element(By.ID, "price-basis").text == answer["price_basis"]
    assert "2014-15" in answer["price_basis"]
    assert "Prices are for the 2014–15 King County market" in browser.find_element(By.TAG_NAME, "header").text
    assert dollars(answer["baseline"]) in browser.find_element(By.ID, "baseline").text

    bars = browser.find_elements(By.CSS_SELECTOR, "#contributions g.bar")
    assert len(bars) == len(answer["contributions"])
    assert [bar.get_attribute("data-group") for bar in bars] == [c["group"] for c in answer["contributions"]]
    assert [("down" in bar.get_attribute("class")) for bar in bars] == [c["usd"] < 0 for c in answer["contributions"]]
    spoken = browser.find_element(By.ID, "contributions").get_attribute("aria-label")   # for screen readers
    for contribution in answer["contributions"]:
        assert f"{contribution['group']} " in spoken and dollars(abs(contribution["usd"])) in spoken, spoken

    rows = browser.find_elements(By.CSS_SELECTOR, "#comparables tbody tr")
    assert len(rows) == 5 == len(answer["comparables"])
    sold = [row.find_elements(By.TAG_NAME, "td")[0].text for row in rows]
    assert sold == [sale["sale_date"] for sale in answer["comparables"]]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#locations g.sale")) == 5
    assert len(browser.find_elements(By.CSS_SELECTOR, "#locations g.house")) == 1

    later = network_events(browser)
    assert bytes_received(first_load) <= FIRST_LOAD_BUDGET
    urls = requested_urls(first_load + later)
    assert any(url.endswith("/v1/predict/explain?model=gbm") for url in urls)
    assert [url for url in urls if urlsplit(url).scheme != "data" and urlsplit(url).hostname != HOST] == []
    # A script or style refused by the Content-Security-Policy, or any failed request, is logged as SEVERE.
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"] == []
    save_screenshot(browser, reports / "page.png")


def test_a_bad_value_gets_the_api_problem_next_to_its_field(browser, base_url):
    status, refusal = explain(base_url, {**example_house(base_url), "sqft_living": -5})
    assert status == 422
    [problem] = [d["problem"] for d in refusal["details"] if d["field"] == "sqft_living"]
    open_page(browser, base_url)

    field = browser.find_element(By.ID, "field-sqft_living")
    field.clear()
    field.send_keys("-5")
    submit(browser)
    shown = wait(browser, lambda d: d.find_element(By.ID, "problem-sqft_living").text)

    assert shown == problem
    assert field.get_attribute("aria-invalid") == "true"
    assert field.get_attribute("aria-describedby").split() == ["hint-sqft_living", "problem-sqft_living"]
    assert not browser.find_element(By.ID, "result").is_displayed()
    assert "Living area (sq ft)" in browser.find_element(By.ID, "form-status").text


def test_a_model_that_cannot_explain_gets_the_api_problem_beside_the_model_choice(browser, base_url):
    status, refusal = explain(base_url, example_house(base_url), model="basic")
    assert status == 422 and refusal["error"] == "cannot_explain"
    open_page(browser, base_url)
    choice = Select(browser.find_element(By.ID, "model"))
    assert choice.first_selected_option.get_attribute("value") == "gbm"   # the default model

    choice.select_by_value("basic")
    submit(browser)

    assert wait(browser, lambda d: d.find_element(By.ID, "problem-model").text) == refusal["details"][0]["problem"]


def test_the_page_fits_a_phone(browser, base_url, reports):
    browser.set_window_size(*PHONE)
    open_page(browser, base_url)
    submit(browser)
    price_shown(browser)

    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than a phone"
    save_screenshot(browser, reports / "page-phone.png")


def test_an_api_key_is_asked_for_once_kept_in_the_tab_and_sent_on_every_call(browser, key_gateway: KeyGateway):
    browser.get(f"{key_gateway.url}/")
    key_field = wait(browser, expected_conditions.visibility_of_element_located((By.ID, "api-key")))
    key_field.send_keys("not-the-key\n")
    wait(browser, lambda d: "refused" in d.find_element(By.ID, "key-why").text)
    browser.find_element(By.ID, "api-key").send_keys(f"{KEY}\n")
    wait(browser, lambda d: d.find_element(By.ID, "submit").is_enabled())
    submit(browser)
    price_shown(browser)

    assert not browser.find_element(By.ID, "key-form").is_displayed()
    assert browser.execute_script("return sessionStorage.getItem('sound-realty-api-key')") == KEY
    assert browser.execute_script("return localStorage.length") == 0
    assert browser.execute_script("return document.cookie") == ""
    with key_gateway.seen.lock:
        seen = list(key_gateway.seen.requests)
    api_calls = [(method, path, key) for method, path, key in seen if path.startswith("/v1/")]
    accepted = [call for call in api_calls if call[2] == KEY]
    assert {path for _, path, _ in accepted} == {"/v1/swagger", "/v1/models", "/v1/predict/explain"}
    # Once given, the key goes with every call: nothing after the first accepted call went without it.
    first = api_calls.index(accepted[0])
    assert all(key == KEY for _, _, key in api_calls[first:])
    # The page and its assets reach the browser without a key, as API Gateway serves them.
    assert {path for _, path, key in seen if key is None} >= {"/", "/app/page.js", "/app/page.css"}
