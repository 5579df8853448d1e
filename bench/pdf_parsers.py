"""PDF text extractors compared on the test corpus: speed and two-column reading order.

    python -m bench.pdf_parsers              # offline: committed LaTeX papers + cached vignettes
    python -m bench.pdf_parsers --fetch      # first download the vignettes (apt-get; fixtures/debian_pdfs.py)

Rows: the raw page text of pypdfium2, pypdf, pdfplumber and docling-parse (each skipped with a
note when not installed; docling-parse pins an older typer than gradio, so install it apart:
`pip install --target /tmp/docling docling-parse` and run with PYTHONPATH=/tmp/docling), and
`assistant.formats.pdf` (pypdfium2 plus its layout rules).

Columns:
* pages/s -- every page of every corpus PDF, whole files, one process, by the wall clock and
  by this process's CPU time (the steadier figure on a shared machine; both indicative);
* order -- share of the LaTeX papers' source sentences found on their page intact and in source
  order (longest increasing run), compared with spacing, hyphens and punctuation squashed
  out, so it measures reading order only; "pages" is the share of pages with every sentence
  found and in order (layout.tex stores its right column first);
* verbatim -- share found character for character (whitespace runs as one space): what a
  citation quote needs, so line-end hyphens must be undone;
* hyphens -- words TeX split at a line end that come out whole, and compounds broken at their
  own hyphen that keep it ("general-purpose");
* furniture -- running-header/footer strings and page-number lines left in the page text;
* refs -- reference-list entries left in the text.
Results also go to bench/results/pdf_parsers.json.
"""

from __future__ import annotations

import argparse
import json
import re
import unicodedata
from pathlib import Path

from bench.harness import RESULTS, ROOT, Clock, write_result
from fixtures.debian_pdfs import LATEX, readable

# --- extractors: path -> list of page texts -------------------------------------------------------


def pypdfium2_pages(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        return [page.get_textpage().get_text_range() for page in pdf]
    finally:
        pdf.close()


def pypdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(path).pages]


def pdfplumber_pages(path: Path) -> list[str]:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def docling_pages(path: Path) -> list[str]:
    from docling_parse.pdf_parser import DoclingPdfParser

    doc = DoclingPdfParser().load(path_or_stream=str(path))
    try:
        return ["\n".join(cell.text for cell in page.textline_cells) for _, page in doc.iterate_pages()]
    finally:
        doc.unload()


def ours_pages(path: Path) -> list[str]:
    from assistant.formats.pdf import read_pdf

    doc = read_pdf(path)
    ends = doc.page_starts[1:] + [len(doc.text)]
    return [doc.text[a:b] for a, b in zip(doc.page_starts, ends)]


EXTRACTORS = {
    "pypdfium2 (raw)": ("pypdfium2", pypdfium2_pages),
    "pypdf": ("pypdf", pypdf_pages),
    "pdfplumber": ("pdfplumber", pdfplumber_pages),
    "docling-parse": ("docling_parse", docling_pages),
    "assistant.formats.pdf": ("pypdfium2", ours_pages),
}


# --- scores ---------------------------------------------------------------------------------------


def squash(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", unicodedata.normalize("NFKC", text).lower())


def spaced(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).replace("\ufffe", "-").split())


def longest_increasing(xs: list[int]) -> int:
    import bisect

    tails: list[int] = []
    for x in xs:
        i = bisect.bisect_left(tails, x)
        tails[i : i + 1] = [x]
    return len(tails)


def score_paper(truth: dict, pages: list[str]) -> dict[str, int]:
    """Counts for one LaTeX paper: found-in-order, verbatim, hyphen and furniture checks."""
    keys = ("sentences", "in_order", "pages", "pages_in_order", "verbatim", "breaks", "breaks_ok", "furniture", "refs")
    out = dict.fromkeys(keys, 0)
    for number, sentences in truth["sentences_by_page"].items():
        page = pages[int(number) - 1] if int(number) <= len(pages) else ""
        flat, plain = squash(page), spaced(page)
        positions = [flat.find(squash(s)) for s in sentences]
        run = longest_increasing([p for p in positions if p >= 0])
        out["sentences"] += len(sentences)
        out["in_order"] += run
        out["pages"] += 1
        out["pages_in_order"] += run == len(sentences)
        out["verbatim"] += sum(spaced(s) in plain for s in sentences)
    for item in truth["hyphenated"] + truth["compounds"]:
        page = spaced(pages[item["page"] - 1])
        out["breaks"] += 1
        out["breaks_ok"] += bool(re.search(rf"(?<![\w-]){re.escape(item['word'])}(?![\w-])", page))
    for number, page in enumerate(pages, 1):
        out["furniture"] += sum(page.count(r) for r in truth["running"])
        out["furniture"] += sum(1 for line in page.splitlines() if line.strip() in (str(number), f"Page {number}"))
    text = squash("".join(pages))
    out["refs"] += sum(squash(r)[:40] in text for r in truth["references"])
    return out


# --- the run --------------------------------------------------------------------------------------


def corpus(fetch: bool) -> tuple[list[tuple[Path, dict]], list[Path]]:
    papers = [(LATEX / f"{p.stem}.pdf", json.loads(p.read_text())) for p in sorted(LATEX.glob("*.json"))]
    if fetch:
        from fixtures.debian_pdfs import fetch as fetch_all

        fetch_all()
    return papers, readable()


def available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def run(fetch: bool = False) -> dict:
    papers, vignettes = corpus(fetch)
    files = [p for p, _ in papers] + vignettes
    results = {}
    for name, (module, extract) in EXTRACTORS.items():
        if not available(module):
            results[name] = {"skipped": f"{module} not installed"}
            continue
        extract(files[0])  # imports and one-time loading are not per-page costs
        with Clock() as clock:
            pages = {f: extract(f) for f in files}
        seconds, cpu = clock.wall, clock.cpu
        totals: dict[str, int] = {}
        for path, truth in papers:
            for key, value in score_paper(truth, pages[path]).items():
                totals[key] = totals.get(key, 0) + value
        results[name] = {
            "all_pages": sum(len(p) for p in pages.values()),
            "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3),
            **totals,
        }
    return {"files": [str(f.relative_to(ROOT)) for f in files], "results": results}


def table(report: dict) -> str:
    rows = [
        (
            f"{'extractor':24} {'pages/s':>8} {'cpu p/s':>8} {'order':>7} {'pages':>6} {'verbatim':>9} "
            f"{'hyphens':>8} {'furniture':>10} {'refs':>5}"
        )
    ]
    for name, r in report["results"].items():
        if "skipped" in r:
            rows.append(f"{name:24} skipped: {r['skipped']}")
            continue

        def pct(a: str, b: str, r: dict = r) -> str:
            return f"{100 * r[a] / r[b]:.0f}%" if r[b] else "-"

        rows.append(
            f"{name:24} {r['all_pages'] / r['seconds']:8.0f} {r['all_pages'] / r['cpu_seconds']:8.0f} "
            f"{pct('in_order', 'sentences'):>7} "
            f"{pct('pages_in_order', 'pages'):>6} "
            f"{pct('verbatim', 'sentences'):>9} {pct('breaks_ok', 'breaks'):>8} {r['furniture']:>10} {r['refs']:>5}"
        )
    some = next((r for r in report["results"].values() if "sentences" in r), {})
    rows.append(
        f"\n{len(report['files'])} PDFs, {some.get('all_pages', 0)} pages; order/verbatim over "
        f"{some.get('sentences', 0)} source sentences on {some.get('pages', 0)} two-column pages of the LaTeX "
        f"papers, hyphens over {some.get('breaks', 0)} line-end breaks"
    )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fetch", action="store_true", help="first download the vignettes (apt-get)")
    report = run(fetch=ap.parse_args().fetch)
    print(table(report))
    write_result(RESULTS / "pdf_parsers.json", report)


if __name__ == "__main__":
    main()
