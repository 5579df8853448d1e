"""Re-take the README screenshots of the web app (docs/screenshot-chat.png, docs/screenshot-papers.png).

    python docs/screenshots.py            # starts `python app.py` on a free port, over index_store/

Uses Debian's chromium through Playwright (no browser download); the index comes from the
usual settings (ASSISTANT_INDEX_DIR, default index_store/), built on first use.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
QUESTION = "Which papers reduce hallucinations of vision-language models at decoding time?"


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/config", timeout=2)
                break
            except OSError:
                assert app.poll() is None, "app.py exited"
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
            page.goto(url)
            page.wait_for_selector("#pa-question textarea")
            page.fill("#pa-question textarea", QUESTION)
            page.keyboard.press("Enter")
            page.wait_for_selector("#pa-sources .pa-source")
            page.locator('#pa-chat a[href="#src-1-2"]').first.click()
            time.sleep(1.0)
            page.screenshot(path=str(ROOT / "docs" / "screenshot-chat.png"))

            page.get_by_role("tab", name="Papers", exact=True).click()
            page.fill("#pa-papers input", "hallucination")
            page.locator('#pa-papers [data-testid^="cell-"][data-testid$="-0"]').first.click()
            page.wait_for_selector("#pa-paper .pa-detail")
            page.wait_for_function("document.querySelector('#pa-similar').innerText.includes('0.')")
            time.sleep(0.5)
            page.screenshot(path=str(ROOT / "docs" / "screenshot-papers.png"))
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=20)
    print("wrote docs/screenshot-chat.png and docs/screenshot-papers.png")


if __name__ == "__main__":
    main()
