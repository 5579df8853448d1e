"""The full-text question sets of examples/fulltext/ (dev, test and the independent check) are
usable as they are, without their PDFs: each loads, every question belongs to its split and
names PDFs of that split's manifest, with pages the PDF has and a gold span inside its gold
sentence.  Whether each span is on its page of the real PDF: `python -m bench.fulltext_corpus
--check --spans FILE` (needs the PDFs and pdftotext)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.evaluation.metrics import span_text
from assistant.evaluation.questions import load_questions

FULLTEXT = Path(__file__).resolve().parent.parent / "examples" / "fulltext"
MANIFESTS = {
    "dev": FULLTEXT / "corpus.json",
    "test": FULLTEXT / "corpus.json",
    "check": FULLTEXT / "check" / "corpus.json",
}


def pdfs(manifest: Path) -> dict[str, dict]:
    return {e["file"]: e for e in json.loads(manifest.read_text())["pdfs"]}


ALL = {**pdfs(MANIFESTS["dev"]), **pdfs(MANIFESTS["check"])}


def check_single(q: dict, own: dict[str, dict]) -> None:
    assert q["pdf"] in own, f"{q['id']}: {q['pdf']} is not a PDF of its split"
    assert q["relevant"] == [own[q["pdf"]]["title"]], f"{q['id']}: relevant is not the title of {q['pdf']}"
    assert 1 <= q["gold_page"] <= own[q["pdf"]]["pages"] and q["gold_page"] in q["gold_pages"]
    assert span_text(q["gold_span"]) in span_text(q["gold_sentence"]), f"{q['id']}: span not in its sentence"


def check_multi(q: dict) -> None:
    assert len(q["gold"]) == len(q["relevant"]) >= 2, q["id"]
    for g, title in zip(q["gold"], q["relevant"]):
        assert g["pdf"] in ALL and ALL[g["pdf"]]["title"] == title, f"{q['id']}: {g['pdf']} is not {title!r}"
        assert 1 <= g["page"] <= ALL[g["pdf"]]["pages"] and g["span"].strip()


@pytest.mark.parametrize("split", ["dev", "test", "check"])
def test_question_set_belongs_to_its_split(split):
    qs = load_questions(FULLTEXT / f"questions_{split}.jsonl")
    own = {f: e for f, e in pdfs(MANIFESTS[split]).items() if e["split"] == split}
    for q in qs:
        assert q["split"] == split and q["id"].startswith(f"ft-{split}-"), q["id"]
        if q["type"] == "single":
            check_single(q, own)
        elif q["type"] == "multi":
            check_multi(q)
        else:
            assert q["type"] == "none" and not q["relevant"] and q["near"] in own, q["id"]


def test_check_set_has_the_issues_proportions():
    """Issue #24's check: at least 60 questions, most on the body, some on abstracts and title
    pages, a few over several papers, about ten near misses; every check PDF asked about."""
    qs = load_questions(FULLTEXT / "questions_check.jsonl")
    kinds = Counter((q["type"], q["where"]) for q in qs)
    assert len(qs) >= 60 and kinds["single", "body"] >= 0.6 * len(qs)
    assert kinds["single", "abstract"] >= 0.1 * len(qs) and kinds["single", "metadata"] >= 3
    assert 3 <= kinds["multi", "body"] <= 6 and 8 <= kinds["none", "none"] <= 14
    assert {q["pdf"] for q in qs if q["type"] == "single"} == set(pdfs(MANIFESTS["check"]))
