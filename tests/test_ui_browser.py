"""The web app in a real browser: headless Debian Chromium driven by Playwright, against
`python app.py` on 127.0.0.1 over a copy of the bundled index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from attacks import TAP_EVENT_STREAM
from ui_server import BROWSER_FLAGS, CHROMIUM

from assistant.answering.prompts import NOT_COVERED

pytestmark = pytest.mark.server  # starts processes: left out of `make check`

sync_api = pytest.importorskip("playwright.sync_api")

GPT2 = "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?"
ZEROTA = "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment"


EVIL_TITLE = 'Watermarking <script>window.__xss = 1</script> diffusion images <img src=x onerror="window.__xss=2">'
EVIL_ABSTRACT = (
    'We watermark generated images with invisible signals. <img src=x onerror="window.__xss=3"> '
    "<script>window.__xss=4</script> The watermark survives JPEG compression ${window.__xss=5} "
    "{{constructor.constructor('window.__xss=6')()}} and [a link](javascript:window.__xss=7). "
    "Detection accuracy reaches 99% on Stable Diffusion outputs."
)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(
        viewport={"width": 1400, "height": 950},
        accept_downloads=True,
        permissions=["clipboard-read", "clipboard-write"],
    )
    pg = ctx.new_page()
    pg.add_init_script(TAP_EVENT_STREAM)
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto(server.url)
    pg.wait_for_selector("#pa-question textarea", timeout=60_000)
    yield pg
    ctx.close()


def ask(page, question: str) -> None:
    turns = page.locator("#pa-sources details.pa-turn").count()
    page.fill("#pa-question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('#pa-sources details.pa-turn').length > {turns}", timeout=60_000)


def bot_messages(page):
    return page.locator('#pa-chat [data-testid="bot"]')


def first_title_cell(page):
    """The title cell of the first row the papers table shows (cells keep their unfiltered row index)."""
    return page.locator('#pa-papers [data-testid^="cell-"][data-testid$="-0"]').first


def stream_messages(page) -> list[dict]:
    raw = "".join(page.evaluate("window.__sse"))
    return [json.loads(line[5:]) for line in raw.splitlines() if line.startswith("data:")]


def test_a_question_gets_a_streamed_answer_with_linked_citations_and_sources(page):
    ask(page, GPT2)
    answer = bot_messages(page).last
    # streamed: the answer came as several partial updates (the first one only its opening) before the end;
    # the sources panel can update a moment before the stream's closing message arrives
    page.wait_for_function("window.__sse.join('').includes('process_completed')", timeout=30_000)
    msgs = stream_messages(page)
    generating = [m for m in msgs if m.get("msg") == "process_generating" and m["output"]["data"][0]]
    assert len(generating) >= 3 and any(m.get("msg") == "process_completed" for m in msgs), [m.get("msg") for m in msgs]
    first = generating[0]["output"]["data"][0][-1]["content"][0]["text"]
    assert 0 < len(first) < 40 and answer.inner_text().startswith(first.strip()), (first, answer.inner_text()[:200])
    # cited: markers link to the sources panel, where the cited paper shows its highlighted quote
    assert answer.locator('a[href="#src-1-1"]').count() >= 2
    assert "References" in answer.inner_text() and ZEROTA in answer.inner_text()
    source = page.locator("#src-1-1")
    assert ZEROTA in source.locator(".pa-title").inner_text()
    marked = source.locator("mark").all_inner_texts()
    assert marked and any("GPT-2" in m for m in marked)
    assert all(m.strip() in answer.inner_text() for m in marked)  # the highlighted text is what the answer quotes
    answer.locator('a[href="#src-1-1"]').first.click()
    page.wait_for_function("document.getElementById('src-1-1').classList.contains('pa-flash')", timeout=5000)
    assert "#" not in page.url  # handled in the page, not followed as a link
    # copy / download: the answer with its reference list as Markdown, and BibTeX
    page.get_by_text("Copy or download the last answer").click()
    export = page.locator("#pa-export textarea").input_value()
    assert export.startswith(f"**Question:** {GPT2}") and f"1. **{ZEROTA}**" in export
    page.locator("#pa-chat").get_by_role("button", name="Copy answer").click()
    for _ in range(50):  # the page writes the clipboard asynchronously
        if page.evaluate("navigator.clipboard.readText()") == export:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("navigator.clipboard.readText()") == export, page.evaluate("navigator.clipboard.readText()")
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download Markdown").click()
    assert Path(dl.value.path()).read_text(encoding="utf-8").strip() == export.strip()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download BibTeX").click()
    bib = Path(dl.value.path()).read_text(encoding="utf-8")
    assert bib.startswith("@misc{") and f"title = {{{{{ZEROTA}}}}}" in bib
    # a new conversation clears the chat and the sources
    page.get_by_role("button", name="New conversation").click()
    page.wait_for_function("document.querySelectorAll('#pa-sources details.pa-turn').length === 0", timeout=10_000)
    assert bot_messages(page).count() == 0


def test_an_example_question_starts_a_conversation(page):
    page.locator("#pa-chat").get_by_text("How can CLIP be taught to count objects?").click()
    page.wait_for_selector("#pa-sources .pa-source", timeout=60_000)
    assert "Teaching CLIP to Count to Ten" in page.locator("#src-1-1").inner_text()
    assert page.locator('#pa-chat [data-testid="user"]').last.inner_text() == "How can CLIP be taught to count objects?"


def test_an_uncovered_question_is_shown_as_not_covered(page):
    ask(page, "What reward shaping works best for reinforcement learning of robotic grasping?")
    assert bot_messages(page).last.inner_text().startswith(NOT_COVERED)
    panel = page.locator("#pa-sources").inner_text()
    assert "The collection does not cover this question." in panel and "weak matches" in panel
    assert page.locator("#pa-sources .pa-source").count() == 0


def test_paper_text_with_html_renders_as_text_and_runs_no_script(page, tmp_path):
    f = tmp_path / "evil.jsonl"
    f.write_text(
        json.dumps(
            {
                "id": "evil-1",
                "title": EVIL_TITLE,
                "abstract": EVIL_ABSTRACT,
                "authors": ["Eve <b>Hacker</b>"],
                "year": 2024,
                "url": "javascript:alert(1)",
                "code_url": "https://github.com/example/wm",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    page.get_by_role("tab", name="Add papers").click()
    page.locator("#pa-upload input[type=file]").set_input_files(str(f))
    page.get_by_role("button", name="Add to the collection").click()
    page.wait_for_selector("#pa-report .pa-report", timeout=60_000)
    assert "1 added" in page.locator("#pa-report").inner_text()
    assert EVIL_TITLE in page.locator("#pa-report").inner_text()

    page.get_by_role("tab", name="Chat", exact=True).click()
    ask(page, "how to watermark diffusion images robust to JPEG compression")
    chat_text = bot_messages(page).last.inner_text()
    panel = page.locator("#pa-sources").inner_text()
    assert EVIL_TITLE in chat_text and EVIL_TITLE in panel  # shown literally, tags and all
    assert "<script>window.__xss=4</script>" in chat_text and EVIL_ABSTRACT in panel
    assert "Eve <b>Hacker</b>" in panel

    page.get_by_role("tab", name="Papers", exact=True).click()
    page.fill("#pa-papers input", "Watermarking")
    first_title_cell(page).click()
    page.wait_for_selector("#pa-paper .pa-detail", timeout=30_000)
    assert EVIL_TITLE in page.locator("#pa-paper").inner_text()
    assert EVIL_ABSTRACT in page.locator("#pa-paper").inner_text()
    assert EVIL_TITLE in page.locator("#pa-papers").inner_text()

    assert page.evaluate("window.__xss") is None and page.dialogs == []
    injected = page.evaluate("""() => [...document.querySelectorAll('img, script, b, a')].filter(e =>
        e.getAttribute('src') === 'x' || (e.tagName === 'SCRIPT' && e.textContent.includes('__xss'))
        || (e.tagName === 'B' && e.textContent === 'Hacker') || (e.getAttribute('href') || '').startsWith('javascript'))
        .map(e => e.outerHTML)""")
    assert injected == []
    links = page.evaluate(
        "[...document.querySelectorAll('#pa-sources a, #pa-paper a')].map(a => a.getAttribute('href'))"
    )
    assert links and all(h.startswith(("https://", "#src-")) for h in links)


def test_asking_about_one_paper_from_the_papers_view(page):
    page.get_by_role("tab", name="Papers", exact=True).click()
    page.fill("#pa-papers input", "RITUAL")
    first_title_cell(page).click()
    page.wait_for_selector("#pa-paper .pa-detail", timeout=30_000)
    assert page.locator("#pa-paper .pa-title").inner_text().startswith("RITUAL")
    page.wait_for_function("document.querySelector('#pa-similar').innerText.includes('Halluc')", timeout=30_000)
    page.get_by_role("button", name="Ask about this paper").click()
    page.wait_for_function("document.querySelector('#pa-scope-note').innerText.includes('1 of')", timeout=10_000)
    assert page.get_by_role("tab", name="Chat", exact=True).get_attribute("aria-selected") == "true"
    ask(page, "How do vision-language models hallucinate?")
    titles = page.locator("#pa-sources details[open] .pa-source .pa-title").all_inner_texts()
    assert titles and all(t.startswith("RITUAL") for t in titles)


def test_a_key_typed_in_settings_is_used_but_never_shown_or_logged(page, server):
    key = "sk-browser-SECRET-4242"
    page.get_by_role("tab", name="Settings").click()
    page.get_by_label("Hosted: an OpenAI-compatible API").check()
    page.get_by_label("Base URL of an OpenAI-compatible server").fill("http://127.0.0.1:9/v1")
    page.locator("#pa-api-key input").fill(key)
    assert page.locator("#pa-api-key input").get_attribute("type") == "password"
    page.get_by_role("button", name="Apply").click()
    page.wait_for_function(
        "document.querySelector('#pa-settings-status').innerText.includes('not shown')", timeout=10_000
    )
    assert page.locator("#pa-api-key input").input_value() == ""
    page.get_by_role("tab", name="Chat", exact=True).click()
    ask(page, GPT2)  # answered (extractive, or a noted fallback when the LLM cannot be reached)
    assert ZEROTA in bot_messages(page).last.inner_text()
    assert key not in page.content()
    assert key not in "".join(page.evaluate("window.__sse"))
    assert key not in server.output()


def test_a_follow_up_is_answered_by_its_own_words(page):
    """The conversation picks the paper; the new question's words pick the sentences."""
    ask(page, "What loss does ZeroTA add to keep moment masks apart, and why?")
    first = bot_messages(page).last.inner_text()
    ask(page, "Does it need any training data?")
    second = bot_messages(page).last.inner_text()
    assert ZEROTA in second and "does not require any videos or annotations for training" in second
    assert "does not require any videos or annotations for training" not in first


def add_to_table(page, search: str) -> None:
    page.get_by_role("tab", name="Papers", exact=True).click()
    page.fill("#pa-papers input", search)
    first_title_cell(page).click()
    page.wait_for_function(
        f"(document.querySelector('#pa-paper .pa-title') || {{}}).innerText?.includes({json.dumps(search)})",
        timeout=30_000,
    )
    page.get_by_role("button", name="Add to table").click()


def test_a_comparison_table_quotes_each_cell_and_downloads(page, tmp_path):
    f = tmp_path / "evil.jsonl"
    f.write_text(json.dumps({"id": "evil-t", "title": EVIL_TITLE, "abstract": EVIL_ABSTRACT}) + "\n", encoding="utf-8")
    page.get_by_role("tab", name="Add papers").click()
    page.locator("#pa-upload input[type=file]").set_input_files(str(f))
    page.get_by_role("button", name="Add to the collection").click()
    page.wait_for_selector("#pa-report .pa-report", timeout=60_000)
    for name in ("AGLA", "RITUAL", "Watermarking"):
        add_to_table(page, name)
    page.get_by_role("tab", name="Table", exact=True).click()
    chosen = page.locator("#pa-table-papers").inner_text()
    assert "AGLA" in chosen and "RITUAL" in chosen and "Watermarking" in chosen
    page.fill("#pa-table-aspects textarea", "Is the code released?\nWhat does the watermark survive?")
    page.get_by_role("button", name="Make table").click()
    page.wait_for_selector("#pa-table table.pa-table", timeout=60_000)
    heads = page.locator("#pa-table th").all_inner_texts()
    assert heads == ["Paper", "Is the code released?", "What does the watermark survive?"]
    rows = page.locator("#pa-table tbody tr")
    assert rows.count() == 3 and rows.nth(0).inner_text().startswith("AGLA")
    code = rows.nth(0).locator("td").nth(1)
    assert "github.com/Lackel/AGLA" in code.get_attribute("title")  # the quote on hover
    code.locator("summary").click()  # and on click
    assert code.locator("blockquote.pa-quote").is_visible()
    assert "github.com/Lackel/AGLA" in code.locator("blockquote.pa-quote").inner_text()
    assert rows.nth(1).locator("td").nth(1).inner_text() == "not stated"  # RITUAL names no code
    evil = rows.nth(2)
    assert EVIL_TITLE in evil.locator("td").nth(0).inner_text()  # paper text shown as text
    survive = evil.locator("td").nth(2)
    assert "JPEG compression" in survive.inner_text() or "JPEG compression" in survive.get_attribute("title")
    assert page.evaluate("window.__xss") is None and page.dialogs == []
    assert page.evaluate("document.querySelectorAll('#pa-table script, #pa-table img').length") == 0
    files = page.locator("#pa-table-files")
    with page.expect_download() as dl:
        files.locator('a[download="table.csv"]').click()
    csv_text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert csv_text.startswith("id,key,title,year,Is the code released?") and "github.com/Lackel/AGLA" in csv_text
    with page.expect_download() as dl:
        files.locator('a[download="table.md"]').click()
    md = Path(dl.value.path()).read_text(encoding="utf-8")
    assert md.startswith("| Paper | Is the code released? | What does the watermark survive? |")
    assert "\\<script\\>" in md and "_not stated_" in md
