"""The web app over a library of the user's own PDFs, in a real browser (headless Debian
Chromium, Playwright), served by `paper-assistant serve --watch FOLDER`: the header, the
examples and the Library tab follow the library, and a PDF dropped into the folder shows up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from library_samples import paper_pdf
from servers import free_port, stop_process, wait_until_up
from ui_server import BROWSER_FLAGS, CHROMIUM

pytestmark = pytest.mark.server  # starts processes: left out of `make check`

sync_api = pytest.importorskip("playwright.sync_api")
ROOT = Path(__file__).parent.parent
KELP = "Kelp Forest Recovery after Marine Heatwaves"


def test_the_app_follows_a_watched_folder_of_pdfs(model_cache, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    paper_pdf(folder / "kelp.pdf", KELP, "kelp forest recovery")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_", "GRADIO_"))}
    env |= dict(ASSISTANT_INDEX_DIR=str(tmp_path / "index"), ASSISTANT_MODEL_CACHE=str(model_cache))
    env |= dict(GRADIO_ANALYTICS_ENABLED="False", GRADIO_SERVER_NAME="127.0.0.1")
    first = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "sync", str(folder)], env=env, cwd=ROOT, capture_output=True
    )
    assert first.returncode == 0, first.stderr
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--watch", str(folder)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, url + "/config", 180, "serve", lambda: log.read_text(errors="replace"), lambda: None)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            page.goto(url)
            page.wait_for_selector("#pa-question textarea", timeout=60_000)
            header = page.locator("#pa-header").inner_text()
            assert "about 1 paper." in header and "cited to a page of a paper's PDF" in header
            # the example is about the library's own paper, and it is answered from it
            page.locator("#pa-chat").get_by_text(f"What does “{KELP}” propose?").click()
            page.wait_for_selector("#pa-sources .pa-source", timeout=60_000)
            assert KELP in page.locator("#src-1-1").inner_text()
            page.get_by_role("tab", name="Library").click()
            table = page.locator("#pa-sources-table")
            assert str(folder.resolve()) in table.inner_text()
            # a PDF dropped into the watched folder: the Library tab shows it within its refreshes
            paper_pdf(folder / "owls.pdf", "Barn Owl Hunting at Dusk", "barn owl hunting")
            page.wait_for_function(
                "document.querySelector('#pa-sources-table') && "
                "document.querySelector('#pa-sources-table').innerText.includes('+1 ~0 -0')",
                timeout=120_000,
            )
            row = table.locator("tr").nth(1).inner_text()
            assert "\t2\t" in row or " 2 " in row.replace("\t", " ")
            browser.close()
    finally:
        stop_process(proc)
    assert "Traceback" not in log.read_text(errors="replace")
