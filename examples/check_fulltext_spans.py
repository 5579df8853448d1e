"""Check examples/fulltext_questions.jsonl against the PDFs it cites (an authoring aid, not a test).

Every line must be a JSON object with the fields of EVAL_FORMAT.md; every answerable question must
name a `pdf`, a 1-based `gold_page` and a `gold_span` of 5-25 words that occurs on that page of
the PDF as poppler's `pdftotext` reads it (plain mode, falling back to `-raw` for two-column pages
whose plain text interleaves the columns), after the normalisation the set was written with:
accents composed (NFC), line-end hyphens joined, whitespace squashed to single spaces, ligatures (Unicode, or the control
codes of strucchange-intro.pdf's Type 3 fonts) spelled out.  Needs poppler-utils (`pdftotext`) and
the PDFs (`python -m fixtures.debian_pdfs` for the R papers).

    python examples/check_fulltext_spans.py            # exit status 1 on any problem
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "examples" / "fulltext_questions.jsonl"
PDF_DIRS = (ROOT / "tests" / "data" / "pdfs" / "cache", ROOT / "tests" / "data" / "pdfs" / "latex")
FIELDS = ("id", "type", "question", "relevant", "answer_points", "history")
LIGATURES = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    # strucchange-intro.pdf: its bitmap fonts put ligatures in control-code slots
    "\x1b": "ff",
    "\x1c": "fi",
    "\x1d": "fl",
    "\x1e": "ffi",
}


def normalise(text: str, keep_hyphen: bool) -> str:
    # NFC: poppler gives some accented letters as base letter + combining mark ("o\u0308").
    text = unicodedata.normalize("NFC", text)
    for lig, letters in LIGATURES.items():
        text = text.replace(lig, letters)
    # A hyphen at a line end either splits a word (drop it) or ends a compound (keep it).
    text = re.sub(r"(\w)-\s*\n\s*(?=\w)", r"\1-" if keep_hyphen else r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


@functools.cache
def page_texts(pdf: Path, page: int) -> dict[str, list[str]]:
    out = {}
    for mode, extra in (("plain", []), ("raw", ["-raw"])):
        raw = subprocess.run(
            ["pdftotext", *extra, "-f", str(page), "-l", str(page), str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        out[mode] = [normalise(raw, False), normalise(raw, True)]
    return out


def find_pdf(name: str) -> Path | None:
    return next((d / name for d in PDF_DIRS if (d / name).exists()), None)


def check(path: Path = QUESTIONS) -> tuple[list[str], dict[str, str]]:
    problems, modes = [], {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: not JSON ({e})")
            continue
        missing = [f for f in FIELDS if f not in q]
        if missing:
            problems.append(f"line {n} ({q.get('id')}): missing {missing}")
            continue
        if q["type"] == "none":
            continue
        pdf = find_pdf(q.get("pdf", ""))
        if pdf is None:
            problems.append(f"{q['id']}: no PDF named {q.get('pdf')!r}")
            continue
        span = unicodedata.normalize("NFC", q["gold_span"])
        words = len(span.split())
        if not 5 <= words <= 25:
            problems.append(f"{q['id']}: gold_span has {words} words (want 5-25)")
        found = [mode for mode, variants in page_texts(pdf, q["gold_page"]).items() if any(span in v for v in variants)]
        if not found:
            problems.append(f"{q['id']}: gold_span not on page {q['gold_page']} of {pdf.name}: {span!r}")
        else:
            modes[q["id"]] = found[0]
    return problems, modes


def main() -> None:
    problems, modes = check()
    raw_only = sorted(i for i, m in modes.items() if m == "raw")
    print(f"{len(modes)} spans found on their page" + (f"; only in -raw order: {raw_only}" if raw_only else ""))
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
