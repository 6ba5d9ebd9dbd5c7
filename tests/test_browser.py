"""The demo report in a real headless Chromium, offline: every figure renders and the console is clean.

Needs Debian's chromium and chromium-driver (installed by .ci/run). Outside CI the test is skipped
when they are missing; in CI (CI=true) their absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

if not (CHROMIUM and DRIVER):
    if os.environ.get("CI") == "true":
        pytest.fail("CI needs chromium and chromium-driver for the browser test; .ci/run installs them",
                    pytrace=False)
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    cmd = [sys.executable, "-m", "ipt_outcomes.cli.main"]
    result = subprocess.run([*cmd, "demo", "--out", "report.html", "--imputations", "5"], cwd=folder,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return folder / "report.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # no network: the report must be offline
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}", "--window-size=1280,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_every_figure_renders_offline_without_console_errors(demo_report, browser):
    browser.get(demo_report.as_uri())
    deadline = time.time() + 60
    total = rendered = 0
    while time.time() < deadline:
        total = browser.execute_script("return document.querySelectorAll('.plotly-graph-div').length")
        rendered = browser.execute_script(
            "return Array.from(document.querySelectorAll('.plotly-graph-div'))"
            ".filter(d => d.querySelector('.main-svg') && d._fullLayout).length")
        if total and rendered == total:
            break
        time.sleep(0.5)
    assert total >= 11 and rendered == total, f"{rendered} of {total} figures rendered"
    traces = browser.execute_script(
        "return Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => d.data.length)")
    assert all(n > 0 for n in traces)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    assert browser.title.startswith("IPT trial report")
