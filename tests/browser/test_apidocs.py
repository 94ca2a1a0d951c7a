"""/apidocs in a real headless Chromium that can reach nothing but loopback: it renders, authorizes and calls a tool."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerbero_mcp.simulators.engine.harness import SimStack
from support.stack import Gateway, serve_gateway
from support.tokens import TESTNET

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run does)",
)

# Every name resolves to nothing and every non-loopback connection goes to a dead proxy: no CDN.
OFFLINE_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
    "--window-size=1400,1000",
)
WAIT_S = 15.0


@pytest.fixture
def gateway(sim_stack: SimStack, tmp_path: Path) -> Iterator[Gateway]:
    """Serve the real gateway against the simulators on a loopback port."""
    with serve_gateway(sim_stack, tmp_path) as gw:
        yield gw


@pytest.fixture
def browser() -> Iterator[object]:
    """Start headless Chromium with no route off the machine (and without the test run's faketime)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    assert CHROMIUM is not None
    options.binary_location = CHROMIUM
    for arg in OFFLINE_ARGS:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}
    service = Service(executable_path=CHROMEDRIVER, env=env)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def test_apidocs_renders_authorizes_and_executes_offline(gateway: Gateway, browser: object) -> None:
    """The docs page loads its assets from the gateway, lists operations, and Try it out → Execute answers 200."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    assert isinstance(browser, WebDriver)
    driver = browser
    wait = WebDriverWait(driver, WAIT_S)
    started = time.monotonic()

    driver.get(f"{gateway.url}/apidocs")
    try:
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#operations-deribit-deribit-get_ticker")))
    except Exception:
        logs = "\n".join(str(entry) for entry in driver.get_log("browser"))
        pytest.fail(f"/apidocs rendered no operations offline; browser log:\n{logs}")
    scripts = [el.get_attribute("src") or "" for el in driver.find_elements(By.CSS_SELECTOR, "script[src]")]
    styles = [el.get_attribute("href") or "" for el in driver.find_elements(By.CSS_SELECTOR, "link[href]")]
    assert scripts
    assert all(url.startswith(gateway.url) for url in scripts + styles), scripts + styles
    assert len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) > 10

    # Authorize with the testnet token.
    driver.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
    token_input = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux input[type=text]")))
    token_input.send_keys(TESTNET)
    driver.find_element(By.CSS_SELECTOR, ".modal-ux .auth-btn-wrapper button.authorize").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "button[aria-label='Remove authorization']")))
    assert "Authorized" in driver.find_element(By.CSS_SELECTOR, ".modal-ux .auth-container").text
    driver.find_element(By.CSS_SELECTOR, ".modal-ux button.close-modal").click()

    # Open deribit get_ticker, Try it out, Execute.
    block = driver.find_element(By.CSS_SELECTOR, "#operations-deribit-deribit-get_ticker")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", block)
    block.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    wait.until(lambda _: block.find_elements(By.CSS_SELECTOR, ".opblock-body"))
    try_out = block.find_elements(By.CSS_SELECTOR, "button.try-out__btn")
    if try_out and "cancel" not in (try_out[0].get_attribute("class") or ""):
        try_out[0].click()
    bot_tag = wait.until(lambda _: block.find_element(By.CSS_SELECTOR, "tr[data-param-name='X-Bot-Tag'] input"))
    if not bot_tag.get_attribute("value"):
        bot_tag.send_keys("swagger")
    body = block.find_element(By.CSS_SELECTOR, "textarea.body-param__text")
    assert "BTC-PERPETUAL" in (body.get_attribute("value") or "")
    block.find_element(By.CSS_SELECTOR, "button.execute").click()
    status = wait.until(
        lambda _: block.find_element(By.CSS_SELECTOR, ".live-responses-table .response .response-col_status")
    )
    response_body = block.find_element(By.CSS_SELECTOR, ".live-responses-table").text
    assert status.text.strip() == "200", response_body
    assert "BTC-PERPETUAL" in response_body
    curl = block.find_element(By.CSS_SELECTOR, ".curl-command").text
    assert f"Bearer {TESTNET}" in curl
    assert time.monotonic() - started < 30
