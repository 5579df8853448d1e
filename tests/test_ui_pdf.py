"""PDFs in the web app, in a real browser: several uploaded at once with a report for each,
answers from their full text cited to the page and section, and the sources panel opening
the collection's copy of the PDF at that page."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from ui_server import BROWSER_FLAGS, CHROMIUM, start_app

pytestmark = pytest.mark.server  # starts the app and a browser: left out of `make check`

sync_api = pytest.importorskip("playwright.sync_api")

LATEX = Path(__file__).parent / "data" / "pdfs" / "latex"
QUESTION = "What half-life does the smoothed failure-rate estimate in the adaptive checkpoint scheduler use?"
CHECKPOINT = "Adaptive Checkpoint Scheduling for Long-Running Scientific Workflows"


@pytest.fixture(scope="module")
def app(built_index, model_cache, tmp_path_factory):
    s = start_app(built_index, model_cache, tmp_path_factory.mktemp("pdf-app"))
    yield s
    s.stop()


@pytest.fixture
def page(app):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test installs it)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS, headless=True)
        pg = browser.new_page(viewport={"width": 1400, "height": 950})
        pg.goto(app.url)
        pg.wait_for_selector("#pa-question textarea", timeout=60_000)
        yield pg
        browser.close()


def test_pdfs_upload_and_answers_open_the_pdf_at_the_cited_page(page, app, tmp_path):
    not_a_pdf = tmp_path / "notes.pdf"
    not_a_pdf.write_text("<html><body>not a paper</body></html>", encoding="utf-8")
    page.get_by_role("tab", name="Add papers").click()
    page.locator("#pa-upload input[type=file]").set_input_files(
        [str(LATEX / "checkpoint.pdf"), str(LATEX / "tokenization.pdf"), str(not_a_pdf)]
    )
    page.get_by_role("button", name="Add to the collection").click()
    page.wait_for_function("document.querySelectorAll('#pa-report .pa-report').length >= 3", timeout=180_000)
    report = page.locator("#pa-report").inner_text()
    assert report.count("1 added") == 2 and "82 papers" in report  # each PDF is one paper, full text
    assert "notes.pdf" in report and "HTML" in report  # the bad file is named and skipped

    page.get_by_role("tab", name="Chat", exact=True).click()
    page.fill("#pa-question textarea", QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector("#pa-sources .pa-source", timeout=90_000)
    source = page.locator("#src-1-1")
    assert CHECKPOINT in source.locator(".pa-title").inner_text()
    where = source.locator(".pa-meta").last.inner_text()
    page_no = int(re.search(r"p\. (\d+)", where).group(1))
    assert "open the PDF at p." in where
    link = source.locator("a.pa-pdf").get_attribute("href")
    assert link.endswith(f"#page={page_no}")
    marked = " ".join(source.locator("mark").all_inner_texts())
    assert "half-life" in marked  # the quoted sentence, highlighted in its passage
    with urllib.request.urlopen(app.url + link.split("#")[0], timeout=30) as r:
        assert r.status == 200 and r.read(5) == b"%PDF-"  # the collection's copy of the PDF
