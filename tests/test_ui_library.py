"""The web app follows the library it serves: header, example questions, empty state and
the Library tab (sources, last sync, changes, failures)."""

from __future__ import annotations

import pytest
from library_samples import paper_pdf

from assistant import PaperAssistant, Settings
from ui import build_app
from ui.app import WebApp


@pytest.fixture
def lib(model_cache, tmp_path) -> PaperAssistant:
    pa = PaperAssistant(Settings.load(env={}, index_dir=str(tmp_path / "index"), model_cache=str(model_cache)))
    yield pa
    pa.store.close()


def test_an_empty_library_says_how_to_fill_it(lib):
    app = WebApp(lib)
    assert "Your library is empty" in app.papers.header() and "paper-assistant sync FOLDER" in app.papers.header()
    assert app.chat.examples() == [] and "library is empty" in app.chat.placeholder()
    assert "No source is synced yet" in app.library.render()


def test_a_pdf_library_gets_its_own_examples_and_is_cited_to_pages(lib, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    paper_pdf(folder / "kelp.pdf", "Kelp Forest Recovery after Marine Heatwaves", "kelp forest recovery")
    paper_pdf(folder / "owls.pdf", "Barn Owl Hunting at Dusk", "barn owl hunting")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    lib.sync(folder)
    app = WebApp(lib)
    header = app.papers.header()
    assert "**2 papers**" in header and "cited to a page of a paper's PDF" in header
    examples = [e["text"] for e in app.chat.examples()]
    assert len(examples) == 2 and all("vision-language" not in q for q in examples)
    assert {"Kelp Forest Recovery after Marine Heatwaves", "Barn Owl Hunting at Dusk"} == {
        q.split("“")[1].split("”")[0] for q in examples
    }
    # an example is a question the library answers, about that paper
    ans = lib.ask(examples[0])
    assert ans.covered and ans.citations and ans.citations[0].paper.title in examples[0]
    panel = app.library.render()
    assert str(folder.resolve()) in panel and "<td>2</td>" in panel and "+2 ~0 -0" in panel
    assert "broken.pdf" in panel and "Could not be read" in panel
    build_app(lib).close()  # the app with its Library tab builds


def test_paths_in_the_library_tab_are_escaped(lib, tmp_path):
    folder = tmp_path / "<img src=x onerror=alert(1)>"
    folder.mkdir()
    paper_pdf(folder / "kelp.pdf", "Kelp Forest Recovery after Marine Heatwaves", "kelp forest recovery")
    lib.sync(folder)
    panel = WebApp(lib).library.render()
    assert "&lt;img src=x onerror=alert(1)&gt;" in panel and "<img" not in panel
