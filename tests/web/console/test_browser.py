"""The console in a real headless Chromium against a real `failwatch serve`: sign in,
filter incidents, open one, mute it, see the silence, expire it, see the chart draw —
with htmx and uPlot running under the console's CSP, and hostile text never executed.

Needs Debian's `chromium` and `chromium-driver`; without them the tests skip, loudly,
except under CI=true, where they fail. With CONSOLE_SCREENSHOTS=DIR each page is saved
as DIR/console-<page>.png (the README's pictures are made this way).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

from tests.bench.console import fill
from tests.payloads import SECRET, auth, failed_insert, generation
from tests.serving import Server, running_serve
from tests.web.console.harness import HOSTILE_MODEL, TOKEN, hostile_generation

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT = 20.0

pytestmark = pytest.mark.browser


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, DRIVER) if not os.path.exists(p)]
    if missing:
        message = (
            f"BROWSER TESTS NOT RUN: {', '.join(missing)} missing "
            "(apt-get install -y chromium chromium-driver)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (required under CI=true)")
        pytest.skip(message)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # A day of history first (already dispatched), so the chart has a shape to draw and
    # the console's counts start from a backlog; then a few failures over the webhook.
    fill(tmp_path / "failwatch.db", failures=3_000, incidents=0, days=1.0, now=time.time())
    with running_serve(
        tmp_path,
        FAILWATCH_WEBHOOK_SECRET=SECRET,
        FAILWATCH_ADMIN_TOKEN=TOKEN,
        FAILWATCH_GROUP_WAIT="1s",
    ) as served:
        rows = [generation(id=str(uuid.uuid4()), model_id="flux-pro") for _ in range(4)]
        rows += [generation(id=str(uuid.uuid4()), model_id="sdxl") for _ in range(2)]
        rows.append(hostile_generation())
        for n, row in enumerate(rows):
            row["parameters"]["errorContext"]["timestamp"] = f"2024-05-01T12:02:{n:02d}.000Z"
            answer = httpx.post(
                f"{served.url}/webhooks/supabase",
                content=failed_insert(**row),
                headers=auth(),
                trust_env=False,
            )
            assert answer.status_code == 202, answer.text
        yield served


def _shot(driver: WebDriver, name: str) -> None:
    folder = os.environ.get("CONSOLE_SCREENSHOTS")
    if folder:
        driver.save_screenshot(str(Path(folder) / f"console-{name}.png"))


def test_sign_in_filter_mute_see_the_silence_expire_it_and_see_the_chart(
    browser: WebDriver, server: Server
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    wait = WebDriverWait(driver, WAIT)

    # Signing in: / sends a visitor to the form, and the token brings them back.
    driver.get(server.url + "/")
    wait.until(ec.presence_of_element_located((By.ID, "token")))
    _shot(driver, "login")
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    driver.find_element(By.ID, "sign-in").click()
    wait.until(ec.url_contains("/incidents"))

    # The dispatcher opens the incidents after group_wait; reload until they are listed.
    def listed(d: WebDriver) -> bool:
        d.refresh()
        return len(d.find_elements(By.CSS_SELECTOR, "a.incident-link")) >= 3

    WebDriverWait(driver, WAIT, poll_frequency=0.5).until(listed)
    _shot(driver, "incidents")

    # Filter by model.
    driver.find_element(By.ID, "filter-model").send_keys("flux-pro")
    driver.find_element(By.ID, "apply-filters").click()
    wait.until(ec.url_contains("model=flux-pro"))
    links = driver.find_elements(By.CSS_SELECTOR, "a.incident-link")
    assert [link.text for link in links] == ["timeout on flux-pro"]

    # Open it and mute it for an hour.
    links[0].click()
    wait.until(ec.presence_of_element_located((By.ID, "mute-1h")))
    _shot(driver, "incident")
    driver.find_element(By.ID, "mute-1h").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "incident-state"), "muted"))

    # The mute is a silence; the editor's preview (htmx) counts what it would match.
    driver.get(server.url + "/silences")
    active = driver.find_element(By.CSS_SELECTOR, "table.silences.active")
    assert 'model_id="flux-pro"' in active.text
    driver.find_element(By.ID, "matchers").send_keys("model_id=sdxl")
    wait.until(ec.text_to_be_present_in_element((By.ID, "preview-failures"), "2"))
    _shot(driver, "silences")

    # Expire it, with confirmation.
    active.find_element(By.LINK_TEXT, "Expire…").click()
    wait.until(ec.presence_of_element_located((By.ID, "confirm-expire")))
    driver.find_element(By.ID, "confirm-expire").click()
    wait.until(ec.url_to_be(server.url + "/silences"))
    assert not driver.find_elements(By.CSS_SELECTOR, "table.silences.active")
    expired = driver.find_element(By.CSS_SELECTOR, "table.silences.expired")
    assert 'model_id="flux-pro"' in expired.text

    # The chart draws (uPlot, from the page's data attribute, under the CSP).
    driver.get(server.url + "/failures")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#failures-chart.drawn canvas")))
    _shot(driver, "failures")
    for path, name in (("/delivery", "delivery"), ("/status", "status")):
        driver.get(server.url + path)
        _shot(driver, name)

    # Hostile text was shown, never run, and the CSP blocked nothing the console needs.
    driver.get(server.url + "/incidents")
    shown = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "a.incident-link")]
    assert f"rate_limit on {HOSTILE_MODEL}" in shown
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    logs: list[dict[str, str]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    blocked = [entry["message"] for entry in logs if "Content Security Policy" in entry["message"]]
    assert blocked == []
