"""Fetch the full-text development corpus (examples/fulltext/corpus.json) from Debian packages.

Published papers Debian ships as R package vignettes, plus two-column documents and LaTeX
package documentation from texlive-*-doc packages.

The manifest lists every PDF (package, version, path in the .deb, SHA-256,
facts read from the text); fixtures/debian_pdfs.py downloads and verifies them.

    python -m bench.fulltext_corpus                   # fetch + verify into examples/fulltext/cache/
    python -m bench.fulltext_corpus --text DIR        # also DIR/<file stem>/p001.txt ... (pdftotext)
    python -m bench.fulltext_corpus --update          # take the versions apt offers now (rewrites hashes)
    python -m bench.fulltext_corpus --check           # also the independent check's PDFs (check/corpus.json)
    python -m bench.fulltext_corpus --check --spans examples/fulltext/questions_check.jsonl
                                                      # every gold span on its gold page (pdftotext)?
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from fixtures.debian_pdfs import FetchError, fetch, update

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "examples" / "fulltext" / "corpus.json"
CHECK_MANIFEST = ROOT / "examples" / "fulltext" / "check" / "corpus.json"  # issue #24's independent check
CACHE = ROOT / "examples" / "fulltext" / "cache"
PAPER_KINDS = ("jss", "rjournal", "rnews", "article")


def entries(manifest: Path = MANIFEST) -> list[dict]:
    return json.loads(manifest.read_text())["pdfs"]


def is_paper(entry: dict) -> bool:
    return entry["kind"] in PAPER_KINDS


def assign_splits(pdfs: list[dict]) -> dict[str, str]:
    """The split rule, by paper: within each kind (kinds in alphabetical order), files ordered by
    the SHA-256 of their file name are dealt alternately to dev and test; a kind's first file goes
    to the split with fewer documents of its group (papers / other layouts) so far, dev on a tie."""
    split: dict[str, str] = {}
    dealt = {True: Counter(), False: Counter()}
    for kind in sorted({e["kind"] for e in pdfs}):
        files = sorted(
            (e["file"] for e in pdfs if e["kind"] == kind), key=lambda f: hashlib.sha256(f.encode()).hexdigest()
        )
        group = dealt[kind in PAPER_KINDS]
        first = "test" if group["test"] < group["dev"] else "dev"
        order = (first, "test" if first == "dev" else "dev")
        for i, f in enumerate(files):
            split[f] = order[i % 2]
            group[split[f]] += 1
    return split


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def write_text(pdf: Path, out: Path) -> int:
    """pdftotext each physical page (1-based) to out/p001.txt ...; returns the page count."""
    out.mkdir(parents=True, exist_ok=True)
    n = page_count(pdf)
    for page in range(1, n + 1):
        subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), "-enc", "UTF-8", str(pdf), str(out / f"p{page:03d}.txt")],
            check=True,
        )
    return n


def page_text(pdf: Path, page: int, raw: bool = False) -> str:
    """One physical page (1-based) as pdftotext prints it (reading order, or -raw content order)."""
    cmd = ["pdftotext", *(["-raw"] if raw else []), "-f", str(page), "-l", str(page), "-enc", "UTF-8", str(pdf), "-"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def gold_spans(q: dict) -> list[tuple[str, int, str]]:
    """(pdf file, page, span) of each answer a question's PDFs hold: one for a single
    question, one per `gold` entry for a multi-paper one, none for a near miss."""
    if q.get("gold_span"):
        return [(q["pdf"], q["gold_page"], q["gold_span"])]
    return [(g["pdf"], g["page"], g["span"]) for g in q.get("gold") or []]


def span_problems(questions: Path, paths: dict[str, Path]) -> list[str]:
    """Gold spans not on their gold page, compared as the evaluation compares spans
    (assistant.evaluation.metrics.span_text); a page whose plain text interleaves columns is
    read again in -raw order.  `paths`: file name -> PDF."""
    from assistant.evaluation.metrics import span_text

    problems = []
    for q in map(json.loads, questions.read_text(encoding="utf-8").splitlines()):
        for file, page, span in gold_spans(q):
            if file not in paths:
                problems.append(f"{q['id']}: no PDF named {file}")
            elif not any(span_text(span) in span_text(page_text(paths[file], page, raw)) for raw in (False, True)):
                problems.append(f"{q['id']}: {span!r} is not on page {page} of {file}")
    return problems


def summary(pdfs: list[dict]) -> str:
    papers = [e for e in pdfs if is_paper(e)]
    lines = [
        f"{len(papers)} papers from {len({e['package'] for e in papers})} packages, "
        f"{len(pdfs) - len(papers)} other layouts; {sum(e['pages'] for e in pdfs)} pages; "
        f"{len({e['package'] for e in pdfs})} .debs, "
        f"{sum({e['package']: e['deb_bytes'] for e in pdfs}.values()) / 1e6:.0f} MB"
    ]
    for split in sorted({e["split"] for e in pdfs}, key=("dev", "test", "check").index):
        part = [e for e in pdfs if e["split"] == split]
        kinds = Counter(e["kind"] for e in part)
        lines.append(
            f"{split}: {sum(is_paper(e) for e in part)} papers, "
            f"{sum(not is_paper(e) for e in part)} other, {sum(e['pages'] for e in part)} pages "
            f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})"
        )
    dealt = [e for e in pdfs if e["split"] != "check"]  # the check set is a fixed list, not dealt
    wrong = [f for f, s in assign_splits(dealt).items() if s != next(e["split"] for e in pdfs if e["file"] == f)]
    if wrong:
        lines.append(f"warning: split differs from assign_splits for {', '.join(wrong)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=CACHE, help="where the PDFs go (default %(default)s)")
    parser.add_argument("--text", type=Path, help="also write each PDF's pages as text under this folder")
    parser.add_argument("--update", action="store_true", help="take the package versions apt offers now")
    parser.add_argument("--spans", type=Path, help="check that this question file's gold spans are on their pages")
    parser.add_argument(
        "--check", action="store_true", help="also the PDFs of the independent check (check/corpus.json)"
    )
    args = parser.parse_args()
    manifests = [MANIFEST, CHECK_MANIFEST] if args.check else [MANIFEST]
    if args.update:
        for manifest in manifests:
            update(manifest)
    try:
        paths = {name: path for manifest in manifests for name, path in fetch(args.cache, manifest).items()}
    except FetchError as e:
        sys.exit(f"fulltext_corpus: {e}")
    pdfs = [e for manifest in manifests for e in entries(manifest)]
    if args.text:
        for e in pdfs:
            n = write_text(paths[e["file"]], args.text / Path(e["file"]).stem)
            if n != e["pages"]:
                print(f"warning: {e['file']} has {n} pages, the manifest says {e['pages']}")
    print(f"{len(paths)} PDFs in {args.cache}")
    print(summary(pdfs))
    if args.spans:
        problems = span_problems(args.spans, paths)
        print("\n".join(problems) or f"{args.spans.name}: every gold span is on its gold page")
        sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
