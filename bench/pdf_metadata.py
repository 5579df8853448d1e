"""The record a PDF gets alone (no bibliography entry): how often its title and year are
right, on the full-text corpus (examples/fulltext/corpus.json, PDFs fetched from Debian
packages by `python -m bench.fulltext_corpus` into examples/fulltext/cache/).

    python -m bench.pdf_metadata                      # both splits
    python -m bench.pdf_metadata --cache DIR          # the PDFs are elsewhere

Each PDF goes through the ingest's own path (`read_full_text`, as `paper-assistant ingest
file.pdf` reads it), and its Paper is compared with the corpus's gold record:

* title: right when it equals the gold title, letters and digits compared case-insensitively
  (a difflib ratio >= 0.9 allows a dropped accent or a hyphen);
* year: right / wrong / missing, over the PDFs whose gold record has a year;
* venue: right when the gold venue starts with it (case-insensitively, "The" ignored), over
  those with a gold venue; DOI: right when equal, over those with a gold DOI.

The corpus's dev split was looked at while the rules were written; the test split was not.
Results go to bench/results/pdf_metadata.json, per split and per kind of document.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections import defaultdict
from pathlib import Path

from bench import harness
from bench.fulltext_corpus import CACHE, entries

RESULTS = harness.RESULTS / "pdf_metadata.json"


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def title_right(got: str, gold: str) -> bool:
    a, b = _norm(got), _norm(gold)
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= 0.9


def venue_right(got: str, gold: str) -> bool:
    strip = lambda v: re.sub(r"^the\s+", "", v.strip().casefold())  # noqa: E731
    return bool(got) and strip(gold).startswith(strip(got))


def read(path: Path):
    from assistant import Settings
    from assistant.ingest.fulltext import file_hash, read_full_text

    s = Settings.load(env={})
    return read_full_text(path, file_hash(path), s.chunk_words, s.max_pages, s.max_abstract_chars).paper


def score(rows: list[dict]) -> dict:
    with_year = [r for r in rows if r["gold_year"]]
    with_venue = [r for r in rows if r["gold_venue"]]
    with_doi = [r for r in rows if r["gold_doi"]]
    share = lambda n, d: round(n / d, 3) if d else None  # noqa: E731
    return {
        "pdfs": len(rows),
        "title_right": share(sum(r["title_right"] for r in rows), len(rows)),
        "year": {
            "with_gold": len(with_year),
            "right": share(sum(r["year"] == r["gold_year"] for r in with_year), len(with_year)),
            "wrong": share(sum(r["year"] not in (None, r["gold_year"]) for r in with_year), len(with_year)),
            "missing": share(sum(r["year"] is None for r in with_year), len(with_year)),
        },
        "title_and_year_right": share(
            sum(r["title_right"] and r["year"] == r["gold_year"] for r in with_year), len(with_year)
        ),
        "venue_right": {
            "with_gold": len(with_venue),
            "right": share(sum(r["venue_right"] for r in with_venue), len(with_venue)),
        },
        "doi_right": {
            "with_gold": len(with_doi),
            "right": share(sum(r["doi"] == r["gold_doi"] for r in with_doi), len(with_doi)),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=str(CACHE), help="folder holding the corpus PDFs")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    rows, missing = [], []
    for e in entries():
        path = Path(args.cache) / e["file"]
        if not path.exists():
            missing.append(e["file"])
            continue
        p = read(path)
        rows.append(
            {
                "file": e["file"],
                "split": e["split"],
                "kind": e["kind"],
                "title": p.title,
                "title_right": title_right(p.title, e["title"]),
                "year": p.year,
                "gold_year": e.get("year"),
                "venue": p.venue,
                "gold_venue": e.get("venue") or "",
                "venue_right": venue_right(p.venue, e.get("venue") or ""),
                "doi": p.doi,
                "gold_doi": (e.get("doi") or "").lower() or None,
                "arxiv_id": p.arxiv_id,
            }
        )
    by_split, by_kind = defaultdict(list), defaultdict(list)
    for r in rows:
        by_split[r["split"]].append(r)
        by_kind[r["kind"]].append(r)
    result = {
        "all": score(rows),
        "splits": {k: score(v) for k, v in sorted(by_split.items())},
        "kinds": {k: score(v) for k, v in sorted(by_kind.items())},
        "not_found": missing,
        "rows": rows,
    }
    print(harness.write_result(args.out, result))
    for name, s in [("all", result["all"]), *result["splits"].items()]:
        print(
            f"{name:5s} {s['pdfs']:3d} PDFs: title {s['title_right']}, year right {s['year']['right']} "
            f"(wrong {s['year']['wrong']}, missing {s['year']['missing']}), title and year {s['title_and_year_right']}, "
            f"venue {s['venue_right']['right']}, DOI {s['doi_right']['right']}"
        )


if __name__ == "__main__":
    main()
