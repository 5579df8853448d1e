"""Full-text ingest on the test PDFs: parsing speed, passages per page, ingest time against
the raw embedding time of the same passages, and index size per 1,000 pages.

    python -m bench.fulltext_ingest             # the committed LaTeX papers + the cached vignettes
    python -m bench.fulltext_ingest --fetch     # first download the vignettes (apt-get; fixtures/debian_pdfs.py)
    python -m bench.fulltext_ingest --repeats 3

What is measured (one process; a shared machine makes every time indicative):
* parsing -- `read_pdf` of every readable corpus PDF, wall clock and this process's CPU time;
* chunking -- body passages per page (assistant/fulltext.py), and the passages an ingest embeds
  (abstracts included) per page;
* ingest -- `add_papers(folder)` into an empty index with the embedding cache off (PDFs read,
  chunked, embedded and written: the whole path), against `embedder.embed` of exactly the texts
  that ingest embedded, with the model already loaded for both.  The two runs take turns in each
  repeat, and the ratio is taken per repeat, by the wall clock and by this process's CPU time
  (all threads: ONNX Runtime's, the index writer's) -- the steadier of the two when other work
  shares the cores; target ingest <= 1.3x raw;
* size -- the index directory (Chroma, local files, keyword segments) and the copies of the
  PDFs it keeps, per 1,000 pages: after one ingest of the corpus (fixed costs included), and
  the slope from adding the corpus again twice as other files (a comment appended to each
  PDF, so they are new papers with the same text; vectors from the cache), which is what
  1,000 more pages cost.
Results go to bench/results/fulltext_ingest.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from assistant import PaperAssistant, Settings
from assistant.formats.pdf import read_pdf
from assistant.ingest.chunking import abstract_passages, passage_embed_text
from bench.harness import RESULTS, ROOT, Clock, write_result
from fixtures.debian_pdfs import LATEX, readable


def corpus() -> list[Path]:
    """The committed LaTeX papers, then the readable vignettes in the cache."""
    return sorted(LATEX.glob("*.pdf")) + readable()


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def parse(pdfs: list[Path]) -> dict:
    with Clock() as clock:
        pages = sum(len(read_pdf(p).page_starts) for p in pdfs)
    wall, cpu = clock.wall, clock.cpu
    return {
        "pages": pages,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "pages_per_s": round(pages / wall, 1),
        "pages_per_cpu_s": round(pages / cpu, 1),
    }


def ingest_once(folder: Path, work: Path, models: Path) -> tuple[dict, list[str]]:
    pa = PaperAssistant(
        Settings.load(env={}, index_dir=str(work), model_cache=str(models), collection="", embed_cache="off")
    )
    pa.embedder.embed(["load the model first"])
    with Clock() as clock:
        report = pa.add_papers(folder)
    cpu = clock.cpu
    assert not report.rejected and len(report.added) == len(list(folder.glob("*.pdf"))), report.summary()
    texts = [passage_embed_text(p.title, ps) for p in pa.papers for ps in pa.store.passages(p)]
    assert len(texts) == report.passages_embedded
    body = sum(len(pa.store.passages(p)) - len(abstract_passages(p, pa.settings.chunk_words)) for p in pa.papers)
    root = pa.store.root
    out = {
        "seconds": report.seconds,
        "cpu_seconds": round(cpu, 3),
        "passages": report.passages_embedded,
        "body_passages": body,
        "pages": report.pages_read,
        "papers": len(report.added),
        "index_bytes": size(root) - size(root / "pdfs"),
        "pdf_copies_bytes": size(root / "pdfs"),
    }
    pa.store.close()
    return out, texts


def raw_embed(texts: list[str], models: Path, work: Path) -> tuple[float, float]:
    """One call embedding every text (the embedder sorts them by length: the least padding);
    (wall, CPU) seconds."""
    pa = PaperAssistant(Settings.load(env={}, index_dir=str(work), model_cache=str(models), collection=""))
    pa.embedder.embed(["load the model first"])
    with Clock() as clock:
        pa.embedder.embed(texts)
    pa.store.close()
    return clock.wall, clock.cpu


def marginal_size(folder: Path, tmp: Path, models: Path, copies: int = 3) -> dict:
    """Index bytes per page added: the corpus added `copies` times under other names."""
    pa = PaperAssistant(
        Settings.load(
            env={},
            index_dir=str(tmp / "size"),
            model_cache=str(models),
            collection="",
            embed_cache=str(tmp / "size-vectors.sqlite"),
        )
    )
    points = []
    for c in range(copies):
        again = tmp / f"copy-{c}"
        again.mkdir()
        for p in folder.glob("*.pdf"):  # a comment after the end marker: other bytes (a new paper), same text
            (again / f"{c}-{p.name}").write_bytes(p.read_bytes() + f"\n% copy {c}\n".encode())
        report = pa.add_papers(again)
        root = pa.store.root
        pages = sum(p.pages for p in pa.papers)
        points.append((pages, size(root) - size(root / "pdfs"), size(root / "pdfs")))
        print(f"size: {pages} pages, index {points[-1][1] / 1e6:.1f} MB ({report.summary()})", flush=True)
    pa.store.close()
    (p0, i0, c0), (p1, i1, c1) = points[0], points[-1]
    return {
        "points": [{"pages": p, "index_bytes": i, "pdf_copies_bytes": c} for p, i, c in points],
        "index_mb_per_1000_more_pages": round((i1 - i0) / (p1 - p0) * 1000 / 1e6, 1),
        "pdf_copies_mb_per_1000_more_pages": round((c1 - c0) / (p1 - p0) * 1000 / 1e6, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fetch", action="store_true", help="download the vignette PDFs first")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    if args.fetch:
        from fixtures.debian_pdfs import fetch

        fetch()
    pdfs = corpus()
    load = os.getloadavg()[0]
    print(f"{len(pdfs)} PDFs; load average {load:.1f}", flush=True)
    parsing = parse(pdfs)
    print(
        f"parsing: {parsing['pages']} pages in {parsing['seconds']} s = {parsing['pages_per_s']} pages/s "
        f"({parsing['pages_per_cpu_s']} pages per CPU second)",
        flush=True,
    )
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "pdfs"
        folder.mkdir()
        for p in pdfs:
            shutil.copy(p, folder / p.name)
        models = tmp / "models"
        for i in range(args.repeats):
            ing, texts = ingest_once(folder, tmp / f"ingest-{i}", models)
            raw, raw_cpu = raw_embed(texts, models, tmp / f"raw-{i}")
            ing.update(
                raw_embed_seconds=round(raw, 3),
                raw_embed_cpu_seconds=round(raw_cpu, 3),
                ratio=round(ing["seconds"] / raw, 3),
                cpu_ratio=round(ing["cpu_seconds"] / raw_cpu, 3),
            )
            ing["seconds"] = round(ing["seconds"], 3)
            runs.append(ing)
            print(
                f"repeat {i + 1}: ingest {ing['seconds']:.1f} s ({ing['cpu_seconds']:.1f} CPU s), raw embedding "
                f"{raw:.1f} s ({raw_cpu:.1f} CPU s) of the same {ing['passages']} passages: {ing['ratio']:.2f}x "
                f"wall, {ing['cpu_ratio']:.2f}x CPU",
                flush=True,
            )
        sizes = marginal_size(folder, tmp, models)
    last = runs[-1]
    pages = last["pages"]
    result = {
        "load_average": round(load, 1),
        "pdfs": len(pdfs),
        "parsing": parsing,
        "passages_per_page": round(last["passages"] / pages, 2),
        "body_passages_per_page": round(last["body_passages"] / pages, 2),
        "ingest": runs,
        "ratio_median": round(statistics.median(r["ratio"] for r in runs), 3),
        "cpu_ratio_median": round(statistics.median(r["cpu_ratio"] for r in runs), 3),
        "index_mb_per_1000_pages": round(last["index_bytes"] / pages * 1000 / 1e6, 1),
        "pdf_copies_mb_per_1000_pages": round(last["pdf_copies_bytes"] / pages * 1000 / 1e6, 1),
        "size": sizes,
    }
    print(f"passages per page: {result['passages_per_page']} ({result['body_passages_per_page']} from the body)")
    print(
        f"ingest / raw embedding, median of {len(runs)}: {result['ratio_median']}x wall clock, "
        f"{result['cpu_ratio_median']}x CPU time (target <= 1.3x)"
    )
    print(
        f"index size: {result['index_mb_per_1000_pages']} MB per 1,000 pages, plus the PDF copies "
        f"{result['pdf_copies_mb_per_1000_pages']} MB per 1,000 pages (one ingest of {pages} pages); "
        f"each 1,000 pages more: {sizes['index_mb_per_1000_more_pages']} MB index, "
        f"{sizes['pdf_copies_mb_per_1000_more_pages']} MB PDF copies"
    )
    out = write_result(RESULTS / "fulltext_ingest.json", result)
    print(f"written: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
