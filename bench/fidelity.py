"""Fidelity of LLM answers: how many are shown, and how many of their shown sentences carry
a detail (number, name, acronym) that the passages they cite do not have.

    python -m bench.fidelity                       # the 54 answerable dev questions, bundled local model
    python -m bench.fidelity --n 24 --out bench/results/fidelity_before.json

Every answerable question is asked through the public streaming API (pa.stream) with the
local backend at temperature 0.  An answer is *shown* when it comes from the model (not
the extractive fallback).  Each sentence of a shown answer is judged by
assistant.fidelity.check_answer against the passages its [n] markers cite (the quote the
Citation holds, and the paper's title); the judge's verdicts are printed for a person to
check.  Also reported: citation precision of the shown answers (cited papers that the
question set names as relevant), and for each missing detail whether it is at least in
the cited paper's whole abstract (a passage given to the small model is cut to 80 words).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from assistant import PaperAssistant, Settings
from assistant.answering.fidelity import check_answer, unsupported
from bench.harness import RESULTS, ROOT, write_result

DEV = ROOT / "examples" / "dev_questions.jsonl"
OUT = RESULTS / "fidelity.json"


def answerable(path: Path, n: int) -> list[dict]:
    """n answerable questions in the mix bench.local_llm uses (single first, then 2
    multi and 2 follow-ups); n = 0: all of them."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["type"] != "none"]
    if not n or n >= len(rows):
        return rows
    by = {t: [r for r in rows if r["type"] == t] for t in ("single", "multi", "followup")}
    extra = min(2, n // 5)
    return by["single"][: n - 2 * extra] + by["multi"][:extra] + by["followup"][:extra]


def run_one(pa, q: dict, titles: dict[str, str]) -> dict:
    t0 = time.perf_counter()
    stream = pa.stream(q["question"], history=q["history"] or None)
    pieces = list(stream)
    ans = stream.answer
    row = {
        "id": q["id"],
        "type": q["type"],
        "seconds": round(time.perf_counter() - t0, 2),
        "covered": ans.covered,
        "backend": ans.backend,
        "fallback": ans.fallback,
        "text": ans.text,
        "streamed_is_final": "".join(pieces) == ans.text,
    }
    verification = getattr(ans, "verification", None)
    if verification is not None:
        row["verification"] = verification.to_dict()
    shown = ans.backend == "local" and ans.covered
    row["shown"] = shown
    if not shown:
        return row
    relevant = {titles.get(" ".join(t.lower().split()), t) for t in q["relevant"]}
    row.update(
        citations=[
            {
                "number": c.number,
                "id": c.paper.id,
                "title": c.paper.title,
                "quote": c.quote,
                "abstract": c.paper.abstract,
            }
            for c in ans.citations
        ],
        cited=[c.paper.id for c in ans.citations],
        cited_relevant=sum(c.paper.id in relevant for c in ans.citations),
    )
    return judge(row)


def judge(row: dict) -> dict:
    """Each sentence of a shown answer against the passages (and titles) it cites."""
    sources = {c["number"]: [c["quote"], c["title"]] for c in row["citations"]}
    abstracts = {c["number"]: [c["abstract"], c["title"]] for c in row["citations"]}
    sentences = []
    for s in check_answer(row["text"], sources):
        in_abstract = (
            [d for d in s.missing if not unsupported(d, [t for n in s.cited for t in abstracts.get(n, [])])]
            if s.cited
            else []
        )
        sentences.append(
            {"text": s.text, "cited": s.cited, "missing": s.missing, "missing_but_in_abstract": in_abstract}
        )
    row["sentences"] = sentences
    return row


def summarize(rows: list[dict]) -> dict:
    answered = [r for r in rows if r["covered"]]
    shown = [r for r in answered if r["shown"]]
    sentences = [s for r in shown for s in r["sentences"]]
    flagged = [s for s in sentences if s["missing"]]
    cited = sum(len(r["cited"]) for r in shown)
    kept = [r["verification"] for r in rows if "verification" in r]
    return {
        "questions": len(rows),
        "answered": len(answered),
        "shown": len(shown),
        "share_shown": round(len(shown) / max(1, len(answered)), 3),
        "shown_sentences": len(sentences),
        "uncited_shown_sentences": sum(not s["cited"] for s in sentences),
        "shown_sentences_with_missing_detail": len(flagged),
        "share_shown_sentences_with_missing_detail": round(len(flagged) / max(1, len(sentences)), 3),
        "shown_answers_with_missing_detail": sum(any(s["missing"] for s in r["sentences"]) for r in shown),
        "missing_details_in_whole_abstract": sum(len(s["missing_but_in_abstract"]) for s in flagged),
        "missing_details": sum(len(s["missing"]) for s in flagged),
        "citation_precision": round(sum(r["cited_relevant"] for r in shown) / cited, 3) if cited else None,
        "stream_equals_final": sum(r["streamed_is_final"] for r in shown),
        "model_sentences": sum(v["sentences"] for v in kept) if kept else None,
        "model_sentences_kept": sum(v["verified"] for v in kept) if kept else None,
        "seconds_median": sorted(r["seconds"] for r in rows)[len(rows) // 2] if rows else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=0, help="answerable dev questions (default: all 54)")
    ap.add_argument("--questions", default=str(DEV))
    ap.add_argument("--gguf", default="", help="GGUF model (default: bundled SmolLM2-135M-Instruct)")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--rejudge", default="", help="judge the answers of an earlier run's JSON again (no model run)")
    args = ap.parse_args(argv)

    overrides = {"backend": "local", "temperature": 0.0, "timeout": 300.0, "collection": "bundled"}
    if args.gguf:
        overrides["gguf"] = args.gguf
    questions = answerable(Path(args.questions), args.n)
    if args.rejudge:
        earlier = json.loads(Path(args.rejudge).read_text())
        model, load, load_after = earlier["model"], earlier["load_average_before"], earlier.get("load_average_after")
        rows = [judge(r) if r["shown"] else r for r in earlier["rows"]]
    else:
        pa = PaperAssistant(Settings.load(**overrides))
        titles = {" ".join(p.title.lower().split()): p.id for p in pa.papers}
        load = os.getloadavg()
        pa.ask(questions[0]["question"])  # loads the model; not counted
        rows = [run_one(pa, q, titles) for q in questions]
        model, load_after = pa.model, os.getloadavg()
    subset = {q["id"] for q in answerable(Path(args.questions), 24)}
    summary = {"all": summarize(rows), "first_24": summarize([r for r in rows if r["id"] in subset])}
    for name, s in summary.items():
        print(
            f"[{name}] {s['shown']}/{s['answered']} LLM answers shown ({s['share_shown']:.0%}); "
            f"{s['shown_sentences_with_missing_detail']}/{s['shown_sentences']} shown sentences carry a detail "
            f"their cited passages lack ({s['shown_answers_with_missing_detail']} answers; "
            f"{s['missing_details_in_whole_abstract']}/{s['missing_details']} such details are in the whole abstract); "
            f"{s['uncited_shown_sentences']} shown sentences cite nothing; citation precision {s['citation_precision']}; "
            f"model sentences kept {s['model_sentences_kept']}/{s['model_sentences']}"
        )
    print("\nflagged sentences (check by eye):")
    for r in rows:
        for s in r.get("sentences", []):
            if s["missing"]:
                print(f"  {r['id']:16s} {s['missing']!s:40s} cites {s['cited']}: {s['text'][:160]}")
    report = {
        "model": model,
        "load_average_before": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in load_after or ()],
        "summary": summary,
        "rows": rows,
    }
    write_result(args.out, report)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
