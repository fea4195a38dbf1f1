"""Reports in a real browser: a run's report.html and a suite's index.html in headless Chromium (Debian's
``chromium`` and ``chromium-driver``, driven by Selenium): every image loads, the claims table shows its ✓/✗
cells, the index links to each report (and the browser comes back to it), and the pages log no console
errors. Screenshots go to the test's temporary directory. Skipped, with the reason, where Chromium or
Selenium is missing."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from udl.experiments import Experiment, get_experiment
from udl.report import Run, runner
from udl.report.figures import subplots

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
    pytest.skip(
        "Chromium is not installed (apt-get install chromium chromium-driver; make test-setup)",
        allow_module_level=True,
    )


@dataclass(frozen=True)
class VerdictConfig:
    seed: int = 0
    """seed"""


def _verdicts(cfg: VerdictConfig, run: Run) -> None:
    fig, axes = subplots()
    axes[0, 0].plot([0, 1, 4])
    run.figure("curve", fig)
    run.claim("holds", "a claim that holds", holds=True, measured=1.0, expected="> 0")
    run.claim("fails", "a claim that fails", holds=False, measured=-1.0, expected="> 0")
    run.check("identity", "an identity", error=0.0, tolerance=1e-12)


VERDICTS = Experiment(
    "verdicts", 2, "2.1", "claims that hold and fail", "context", VerdictConfig,
    {"smoke": VerdictConfig(), "quick": VerdictConfig()}, _verdicts,
)  # fmt: skip


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("suite")
    experiments = [(get_experiment("linear-regression"), "smoke"), (VERDICTS, "quick")]
    runner.run_suite(experiments, out=out, title="udl reproduce --suite browser-test", device="cpu")
    return out


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1200,1600")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _open(driver, path: Path, shot: Path) -> None:
    driver.get(path.as_uri())
    driver.save_screenshot(str(shot))
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors


def _images_loaded(driver) -> list[tuple[str, int]]:
    return driver.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete ? i.naturalWidth : 0]);"
    )


def test_run_report_images_and_claims_table(browser, suite_dir: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    _open(browser, suite_dir / "verdicts" / "report.html", tmp_path / "verdicts.png")
    images = _images_loaded(browser)
    assert images and all(width > 0 for _, width in images), images
    claims = browser.find_elements(By.XPATH, "//h2[text()='Claims']/following-sibling::table[1]//tr[td]")
    marks = {
        row.find_elements(By.TAG_NAME, "td")[1].text: row.find_elements(By.TAG_NAME, "td")[0].text
        for row in claims
    }
    assert marks == {"holds": "✓", "fails": "✗"}
    for row in claims:  # the mark is coloured by its verdict
        css = row.find_elements(By.TAG_NAME, "td")[0].get_attribute("class")
        assert css == ("ok" if row.find_elements(By.TAG_NAME, "td")[0].text == "✓" else "bad")
    assert (tmp_path / "verdicts.png").stat().st_size > 1000

    _open(browser, suite_dir / "linear-regression" / "report.html", tmp_path / "linear-regression.png")
    images = _images_loaded(browser)
    assert len(images) >= 1 and all(width > 0 for _, width in images), images


def test_index_links_to_every_report_and_back(browser, suite_dir: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    index = suite_dir / "index.html"
    _open(browser, index, tmp_path / "index.png")
    rows = browser.find_elements(By.XPATH, "//table//tr[td]")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == [
        "✓",
        "✗",
    ]  # linear-regression, verdicts
    names = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table a")]
    assert names == ["linear-regression", "verdicts"]
    for name in names:
        browser.find_element(By.LINK_TEXT, name).click()
        assert browser.current_url == (suite_dir / name / "report.html").as_uri()
        assert name in browser.find_element(By.TAG_NAME, "h1").text
        assert all(width > 0 for _, width in _images_loaded(browser))
        browser.save_screenshot(str(tmp_path / f"via-index-{name}.png"))
        assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
        browser.back()
        assert browser.current_url == index.as_uri()
