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
from pathlib import Path

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
        "return Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => [d.id, d.data.length, "
        "d._fullLayout.annotations.length])")
    # every chart has data; the CONSORT diagram is boxes (annotations) only
    assert all(n > 0 for key, n, _ in traces if key != "fig-flow"), traces
    assert next(boxes for key, _, boxes in traces if key == "fig-flow") >= 9
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    assert browser.title.startswith("IPT trial report")


def test_screenshots_of_every_figure_show_a_drawing(demo_report, browser, tmp_path):
    """Each figure photographed as Chromium draws it (kept in $IPT_SCREENSHOTS when set, to look at);
    a picture that is blank (a failed draw) or one flat colour fails."""
    from PIL import Image

    folder = Path(os.environ.get("IPT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    browser.get(demo_report.as_uri())
    deadline = time.time() + 60
    while time.time() < deadline and browser.execute_script(
            "return Array.from(document.querySelectorAll('.plotly-graph-div')).some(d => !d._fullLayout)"):
        time.sleep(0.5)
    divs = browser.find_elements("css selector", ".plotly-graph-div")
    assert len(divs) >= 11
    for div in divs:
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", div)
        path = folder / f"{div.get_attribute('id')}.png"
        div.screenshot(str(path))
        image = Image.open(path).convert("L")
        pixels = list(image.getdata())
        inked = sum(1 for v in pixels if v < 200) / len(pixels)
        assert image.width > 300 and image.height > 200, path.name
        assert 0.005 < inked < 0.6, f"{path.name}: {inked:.1%} of pixels drawn"


HOSTILE_ARM = '<a href="https://evil.example/">IPT</a>'
HOSTILE_ID = '<img src=x onerror="window.__owned=1">'


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    """A report whose arm names, participant ids and outcome carry markup, a link and script."""
    import ipt_outcomes as ipt

    folder = tmp_path_factory.mktemp("hostile")
    df = ipt.simulate_trial(40, seed=2)
    df["arm"] = df["arm"].replace({"IPT": HOSTILE_ARM, "TAU": "TAU <script>window.__owned=2</script>"})
    first = df["participant_id"].iloc[0]
    df["participant_id"] = df["participant_id"].replace({first: HOSTILE_ID})
    df.to_csv(folder / "hostile.csv", index=False)
    result = subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", "report", "hostile.csv", "--out",
                             "report.html", "--imputations", "2", "--reference-arm",
                             "TAU <script>window.__owned=2</script>"],
                            cwd=folder, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return folder / "report.html"


def test_data_text_in_a_report_is_text_only(hostile_report, browser):
    """No script from the data runs, no link from the data exists, and the labels read as typed."""
    browser.get(hostile_report.as_uri())
    deadline = time.time() + 60
    while time.time() < deadline:
        done = browser.execute_script(
            "const d = Array.from(document.querySelectorAll('.plotly-graph-div'));"
            "return d.length > 0 && d.every(x => x._fullLayout && x.querySelector('.main-svg'))")
        if done:
            break
        time.sleep(0.5)
    assert done
    # hover every point of every figure, so hover labels render too
    browser.execute_script(
        "for (const d of document.querySelectorAll('.plotly-graph-div')) {"
        "  for (let i = 0; i < d.data.length; i++) { try { Plotly.Fx.hover(d, [{curveNumber: i, pointNumber: 0}]); }"
        "  catch (e) {} } }")
    time.sleep(1)
    assert browser.execute_script("return window.__owned") is None
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href') || a.getAttribute('xlink:href'))")
    assert all(h and h.startswith("#") for h in links), links
    legend = browser.execute_script(
        "return Array.from(document.querySelectorAll('.legendtext')).map(t => t.textContent).join(' | ')")
    assert HOSTILE_ARM in legend
    assert browser.execute_script("return document.querySelectorAll('img, script[src], iframe').length") == 0
