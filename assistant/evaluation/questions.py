"""Question sets (examples/EVAL_FORMAT.md): loading and checking them, and naming papers."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from assistant.ingest.fulltext import PDF_ID_PREFIX
from assistant.ingest.records import read_jsonl

QUESTION_TYPES = ("single", "followup", "multi", "none")


class QuestionSetError(ValueError):
    """A question set cannot be used as it is; the message names the question and the problem."""


# --- questions ---------------------------------------------------------------------------------


def load_questions(source: str | Path | list[dict]) -> list[dict[str, Any]]:
    """Questions from a JSONL file (or a list of dicts), checked and with defaults filled in."""
    records = list(read_jsonl(source)) if isinstance(source, (str, Path)) else list(source)
    if not records:
        raise QuestionSetError(f"no questions in {source if isinstance(source, (str, Path)) else 'the list'}")
    qs, seen = [], set()
    for n, rec in enumerate(records, 1):
        where = f"question {n}"
        if not isinstance(rec, dict):
            raise QuestionSetError(f"{where}: expected a JSON object, got {type(rec).__name__}")
        q = dict(rec)
        q.setdefault("id", f"q{n}")
        where = f"question {n} ({q['id']})"
        if not isinstance(q.get("question"), str) or not q["question"].strip():
            raise QuestionSetError(f"{where}: 'question' must be a non-empty string")
        if q.get("type") not in QUESTION_TYPES:
            raise QuestionSetError(f"{where}: 'type' must be one of {', '.join(QUESTION_TYPES)}, not {q.get('type')!r}")
        if q["id"] in seen:
            raise QuestionSetError(f"{where}: duplicate id")
        seen.add(q["id"])
        for key in ("history", "relevant", "answer_points"):
            q[key] = q.get(key) or []
            if not isinstance(q[key], list):
                raise QuestionSetError(f"{where}: {key!r} must be a list")
        _check_full_text(q, where)
        qs.append(q)
    return qs


def _check_full_text(q: dict[str, Any], where: str) -> None:
    """The full-text fields (`pdf`, `gold_page`, `gold_span`), when a question has them."""
    if "pdf" in q and (not isinstance(q["pdf"], str) or not q["pdf"].strip()):
        raise QuestionSetError(f"{where}: 'pdf' must be a file name, e.g. \"lmer.pdf\"")
    page = q.get("gold_page")
    if page is not None and (isinstance(page, bool) or not isinstance(page, int) or page < 1):
        raise QuestionSetError(f"{where}: 'gold_page' must be a page number from 1, not {page!r}")
    pages = q.get("gold_pages")
    if pages is not None and (
        not isinstance(pages, list)
        or not pages
        or any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in pages)
    ):
        raise QuestionSetError(f"{where}: 'gold_pages' must be a list of page numbers from 1, not {pages!r}")
    span = q.get("gold_span")
    if span is not None and (not isinstance(span, str) or not span.strip()):
        raise QuestionSetError(f"{where}: 'gold_span' must be a non-empty string")


PDF_KEY = "file:"  # title_index keys for PDF file names ("file:lmer.pdf")


def title_index(papers) -> dict[str, str]:
    """Normalised title -> paper id, id -> id, and "file:<pdf file name>" -> id: `relevant`
    may name papers by title or id, and a full-text question names its PDF (`pdf`)."""
    index = {" ".join(p.title.lower().split()): p.id for p in papers}
    for p in papers:
        for name in pdf_names(p):
            index.setdefault(PDF_KEY + name, p.id)
    index.update({p.id: p.id for p in papers})
    return index


def pdf_names(paper) -> list[str]:
    """The file names a question may give for a paper's PDF: the file it was read from, and
    for a PDF read alone the name its id comes from ("pdf:lmer" -> lmer.pdf)."""
    names = [Path(paper.pdf_path).name] if paper.pdf_path else []
    if paper.id.startswith(PDF_ID_PREFIX):
        names.append(paper.id[len(PDF_ID_PREFIX) :] + ".pdf")
    return list(dict.fromkeys(_file_key(n) for n in names))


def _file_key(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip().lower()


def gold_pages(q: dict[str, Any]) -> list[int]:
    """The pages a full-text question's answer is on ([] for a question without one)."""
    return list(q.get("gold_pages") or ([q["gold_page"]] if q.get("gold_page") is not None else []))


def relevant_ids(q: dict, titles: dict[str, str]) -> list[str]:
    """The ids of a question's relevant papers.  A question about one PDF (`pdf`) is about the
    paper read from that file when the collection has it (for a multi-paper question, each
    `gold` entry's `pdf`): its `gold_page` counts pages of that file, and a printed title is not
    always the one the reader or a library recorded."""
    pdf = q.get("pdf")
    if pdf and len(q["relevant"]) <= 1 and PDF_KEY + _file_key(pdf) in titles:
        return [titles[PDF_KEY + _file_key(pdf)]]
    files = [g.get("pdf") if isinstance(g, dict) else None for g in q.get("gold") or []]
    if len(files) != len(q["relevant"]):
        files = [None] * len(q["relevant"])
    out = []
    for t, file in zip(q["relevant"], files):
        if file and PDF_KEY + _file_key(file) in titles:
            out.append(titles[PDF_KEY + _file_key(file)])
            continue
        key = t if t in titles else " ".join(str(t).lower().split())
        if key not in titles:
            where = (
                f" (nor a PDF named {pdf!r}: add the PDFs first, e.g. `paper-assistant eval --papers DIR`)"
                if pdf
                else ""
            )
            raise QuestionSetError(f"question {q['id']}: relevant paper {t!r} is not in the collection{where}")
        out.append(titles[key])
    return out


def add_gold(questions: list[dict[str, Any]], source: str | Path) -> None:
    """Give each question its gold sentences from a JSONL file of {"id", "gold_sentences"}."""
    gold = {}
    for n, rec in enumerate(read_jsonl(source), 1):
        if (
            not isinstance(rec, dict)
            or not isinstance(rec.get("id"), str)
            or not isinstance(rec.get("gold_sentences"), list)
        ):
            raise QuestionSetError(f'{Path(source).name}: line {n} is not {{"id": ..., "gold_sentences": [...]}}')
        gold[rec["id"]] = rec["gold_sentences"]
    unknown = sorted(set(gold) - {q["id"] for q in questions})
    if unknown:
        raise QuestionSetError(
            f"{Path(source).name}: gold sentences for questions not in the set: {', '.join(unknown[:5])}"
        )
    for q in questions:
        if q["id"] in gold:
            q["gold_sentences"] = gold[q["id"]]
