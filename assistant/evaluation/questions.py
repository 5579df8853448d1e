"""Question sets (examples/EVAL_FORMAT.md): loading and checking them, and naming papers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..papers import read_jsonl

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
        qs.append(q)
    return qs


def title_index(papers) -> dict[str, str]:
    """Normalised title -> paper id, and id -> id: `relevant` may name papers either way."""
    index = {" ".join(p.title.lower().split()): p.id for p in papers}
    index.update({p.id: p.id for p in papers})
    return index


def relevant_ids(q: dict, titles: dict[str, str]) -> list[str]:
    out = []
    for t in q["relevant"]:
        key = t if t in titles else " ".join(str(t).lower().split())
        if key not in titles:
            raise QuestionSetError(f"question {q['id']}: relevant paper {t!r} is not in the collection")
        out.append(titles[key])
    return out


def add_gold(questions: list[dict[str, Any]], source: str | Path) -> None:
    """Give each question its gold sentences from a JSONL file of {"id", "gold_sentences"}."""
    gold = {}
    for n, rec in enumerate(read_jsonl(source), 1):
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str) or not isinstance(
                rec.get("gold_sentences"), list):
            raise QuestionSetError(f"{Path(source).name}: line {n} is not {{\"id\": ..., \"gold_sentences\": [...]}}")
        gold[rec["id"]] = rec["gold_sentences"]
    unknown = sorted(set(gold) - {q["id"] for q in questions})
    if unknown:
        raise QuestionSetError(f"{Path(source).name}: gold sentences for questions not in the set: {', '.join(unknown[:5])}")
    for q in questions:
        if q["id"] in gold:
            q["gold_sentences"] = gold[q["id"]]
