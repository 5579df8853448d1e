"""Full text at scale: 1,000 PDFs (~15,000 pages) -- ingest time and peak memory, and search
and answer latency over the index they make.

    python -m bench.fulltext_scale                       # 1,000 synthetic PDFs + the 12 corpus PDFs
    python -m bench.fulltext_scale --pdfs 100 --work /tmp/ftscale
    python -m bench.fulltext_scale --queries-only        # latency again, on the kept index

The PDFs are synthetic but made like the corpus: each is 15 pages (11-19) of text typeset
with pypdf (Helvetica, US letter, a running header and page numbers), a title, an author
line and an abstract on page 1, and numbered bold section headings every page or two; the
text is sentences of the 12 test PDFs (tests/data/pdfs: 8 published R vignettes and 4
LaTeX papers) drawn at random, with their numbers changed, ~300 words a page -- so a page
chunks into about as many passages as a corpus page does (3.2) and every passage is a new
text with a real vector (nothing comes from the embedding cache: it is off).  Their
vocabulary is the corpus's, so the keyword index has longer posting lists than a varied
collection would: latency is, if anything, overstated.  The 12 corpus PDFs are added too,
so the full-text questions have their answers in the collection.

Each figure comes from its own process: `ingest` adds the folder to an empty index (the
whole path: hash, parse, chunk, embed, write) and reports its wall time, pages and
passages, and its peak RSS (VmHWM); it also embeds a random sample of the passages of 20
PDFs with the same model, half before and half after the ingest (the machine's load
drifts), to give the raw embedding time of all the passages (ingest / raw: target 1.3x).
`query` opens the index and times `search` over ~200 distinct questions (the full-text and
dev question sets, then sentence fragments of the corpus) and `ask` over 40 of them.
Results go to bench/results/fulltext_scale.json, with the load averages before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

from bench import harness
from bench.harness import ROOT, Clock, peak_rss_mb, percentile, read_result, write_result
from fixtures.synthetic import wrap_lines, write_pdf

RESULTS = harness.RESULTS / "fulltext_scale.json"
HEADINGS = (
    "Introduction",
    "Background",
    "Methods",
    "Model",
    "Estimation",
    "Implementation",
    "Data",
    "Examples",
    "Simulation study",
    "Results",
    "Computational details",
    "Discussion",
    "Extensions",
    "Inference",
    "Diagnostics",
    "Software",
    "Related work",
    "Conclusion",
)
LINES_PER_PAGE = 21  # of LINE_CHARS characters: ~300 words a page


# --- the synthetic PDFs ------------------------------------------------------------------------


def sentence_pool() -> list[str]:
    """Body sentences of the corpus PDFs, as Helvetica's encoding can show them."""
    from assistant.formats.pdf import read_pdf
    from assistant.ingest.chunking import body_sentences
    from bench.fulltext_ingest import corpus

    pool = []
    for pdf in corpus():
        text = read_pdf(pdf).text
        for s, e in body_sentences(text):
            sentence = _latin(text[s:e])
            if 8 <= len(sentence.split()) <= 45 and sum(c.isalpha() for c in sentence) > 0.6 * len(sentence):
                pool.append(sentence)
    return sorted(set(pool))


def _latin(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(
        str.maketrans("\u2018\u2019\u201c\u201d\u2013\u2014", "''\"\"--")
    )
    return " ".join(text.encode("cp1252", "replace").decode("cp1252").replace("?", "").split())


def _renumber(sentence: str, rng: random.Random) -> str:
    return re.sub(r"\d", lambda m: str(rng.randrange(10)), sentence)


def paper_lines(rng: random.Random, pool: list[str], pages: int) -> tuple[str, list[list[tuple[str, str]]]]:
    """(title, pages of (style, text) lines): style is "title", "author", "heading" or "body"."""

    def sentences(n: int) -> str:
        return " ".join(_renumber(rng.choice(pool), rng) for _ in range(n))

    title = " ".join(w.capitalize() if len(w) > 3 else w for w in rng.choice(pool).split()[: rng.randint(5, 9)])
    title = title.rstrip(".,;:")
    out: list[list[tuple[str, str]]] = [
        [("title", title), ("author", "A. Author and B. Author"), ("heading", "Abstract")]
    ]
    out[0] += [("body", line) for line in wrap_lines(sentences(6))]
    section, heads = 1, rng.sample(HEADINGS, len(HEADINGS))
    while len(out) < pages:
        page = out[-1]
        if len(page) >= LINES_PER_PAGE:
            out.append(page := [])
        if rng.random() < 0.3 or section == 1:
            page.append(("heading", f"{section} {heads[(section - 1) % len(heads)]}"))
            section += 1
        for line in wrap_lines(sentences(rng.randint(3, 6))):  # a paragraph
            if len(page) >= LINES_PER_PAGE:
                if len(out) == pages:
                    break
                out.append(page := [])
            page.append(("body", line))
    return title, out


def synthetic_pdfs(folder: Path, n: int, pages: tuple[int, int], name: str, seed: int = 0) -> int:
    """`n` synthetic PDFs of pages[0]..pages[1] pages in `folder`, named `{name}-00000.pdf` on;
    returns the pages written."""
    folder.mkdir(parents=True, exist_ok=True)
    pool, rng, total = sentence_pool(), random.Random(seed), 0
    for i in range(n):
        count = rng.randint(*pages)
        title, lines = paper_lines(rng, pool, count)
        write_pdf(folder / f"{name}-{i:05d}.pdf", title, lines)
        total += count
    return total


def make_pdfs(folder: Path, n: int, seed: int = 0) -> int:
    """`n` synthetic PDFs (and the corpus PDFs) in `folder`; returns the pages written."""
    from bench.fulltext_ingest import corpus

    pages = synthetic_pdfs(folder, n, (11, 19), "synthetic", seed)
    for pdf in corpus():
        shutil.copy(pdf, folder / pdf.name)
    return pages


# --- workers (separate processes) --------------------------------------------------------------


def worker_ingest(index: str, models: str, folder: str) -> dict:
    from assistant import PaperAssistant, Settings
    from assistant.ingest.chunking import abstract_passages, passage_embed_text
    from assistant.ingest.fulltext import file_hash, read_full_text

    s = Settings.load(env={}, index_dir=index, model_cache=models, collection="", embed_cache="off")
    pa = PaperAssistant(s)
    pdfs = sorted(Path(folder).glob("*.pdf"))
    sample = []  # the passages of 20 PDFs, for the raw embedding rate
    for pdf in random.Random(0).sample(pdfs, min(20, len(pdfs))):
        ft = read_full_text(pdf, file_hash(pdf), s.chunk_words, s.max_pages, s.max_abstract_chars)
        sample += [passage_embed_text(ft.paper.title, p) for p in abstract_passages(ft.paper, s.chunk_words) + ft.body]
    random.Random(1).shuffle(sample)
    pa.embedder.embed(sample[:32])  # the model loaded outside the timing
    raw = Clock()  # the two halves of the sample, added up
    with raw:
        pa.embedder.embed(sample[: len(sample) // 2])
    with Clock() as ingest:
        report = pa.add_papers(folder)
    ingest_s, ingest_cpu = ingest.wall, ingest.cpu
    with raw:
        pa.embedder.embed(sample[len(sample) // 2 :])
    n = report.passages_embedded
    return {
        "pdfs": len(pdfs),
        "added": len(report.added),
        "rejected": len(report.rejected),
        "pages": report.pages_read,
        "passages": n,
        "passages_per_page": round(n / max(1, report.pages_read), 2),
        "ingest_s": round(ingest_s, 1),
        "ingest_cpu_s": round(ingest_cpu, 1),
        "pages_per_s": round(report.pages_read / ingest_s, 1),
        "raw_sample": len(sample),
        "raw_embed_rate": round(len(sample) / raw.wall, 1),
        "raw_embed_s": round(n * raw.wall / len(sample), 1),
        "raw_embed_cpu_s": round(n * raw.cpu / len(sample), 1),
        "ratio": round(ingest_s / (n * raw.wall / len(sample)), 3),
        "cpu_ratio": round(ingest_cpu / (n * raw.cpu / len(sample)), 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def questions(n: int = 200) -> list[dict]:
    """The full-text and dev question sets, then sentence fragments of the corpus."""
    from assistant.evaluation.questions import load_questions

    qs = [
        {"question": q["question"], "history": q["history"]}
        for name in ("fulltext", "dev")
        for q in load_questions(ROOT / "examples" / f"{name}_questions.jsonl")
    ]
    rng, pool = random.Random(1), sentence_pool()
    while len(qs) < n:
        words = rng.choice(pool).split()
        start = rng.randrange(max(1, len(words) - 8))
        qs.append({"question": " ".join(words[start : start + rng.randint(5, 10)]), "history": []})
    return qs[:n]


def worker_query(index: str, models: str) -> dict:
    from assistant import PaperAssistant, Settings

    pa = PaperAssistant(Settings.load(env={}, index_dir=index, model_cache=models, collection=""))
    qs = questions()
    pa.ask(qs[0]["question"])  # first-call costs are not a question's time
    search, stages, ask = [], {}, []
    for q in qs[1:]:
        t = time.perf_counter()
        r = pa.retrieve(q["question"], history=q["history"] or None)
        search.append(time.perf_counter() - t)
        for name, v in r.timings.items():
            stages.setdefault(name, []).append(v)
    for q in qs[1:41]:  # search + the extractive answer (the query vectors are cached by now)
        t = time.perf_counter()
        pa.ask(q["question"], history=q["history"] or None)
        ask.append(time.perf_counter() - t)
    full = sum(p.full_text for p in pa.papers)
    return {
        "papers": len(pa.papers),
        "full_text_papers": full,
        "pages": sum(p.pages for p in pa.papers),
        "queries": len(search),
        "search_p50_ms": round(1000 * percentile(search, 50, "nearest"), 1),
        "search_p95_ms": round(1000 * percentile(search, 95, "nearest"), 1),
        "ask_p50_ms": round(1000 * percentile(ask, 50, "nearest"), 1),
        "ask_p95_ms": round(1000 * percentile(ask, 95, "nearest"), 1),
        "stage_p50_ms": {k: round(1000 * percentile(v, 50, "nearest"), 2) for k, v in stages.items()},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


# --- the driver ----------------------------------------------------------------------------------


def run_worker(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.fulltext_scale", "--worker", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    if out.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pdfs", type=int, default=1000, help="synthetic PDFs (the 12 corpus PDFs come on top)")
    ap.add_argument("--work", default="/tmp/fulltext-scale", help="where the PDFs, the index and the models go")
    ap.add_argument("--queries-only", action="store_true", help="only the latency, on the index already built")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        kind, *rest = args.worker
        print(json.dumps(worker_ingest(*rest) if kind == "ingest" else worker_query(*rest)), flush=True)
        return
    work = Path(args.work)
    folder, index, models = work / f"pdfs-{args.pdfs}", work / f"index-{args.pdfs}", work / "models"
    result: dict = {"load_average_start": [round(x, 2) for x in os.getloadavg()], "synthetic_pdfs": args.pdfs}
    if not args.queries_only:
        if not folder.exists():
            t = time.perf_counter()
            pages = make_pdfs(folder, args.pdfs)
            print(f"wrote {args.pdfs} PDFs ({pages} pages) in {time.perf_counter() - t:.0f} s", flush=True)
        shutil.rmtree(index, ignore_errors=True)
        result["ingest"] = ing = run_worker("ingest", str(index), str(models), str(folder))
        print(
            f"ingest: {ing['added']} PDFs, {ing['pages']} pages, {ing['passages']} passages in {ing['ingest_s']} s "
            f"({ing['pages_per_s']} pages/s); raw embedding of the same passages ~{ing['raw_embed_s']} s: "
            f"{ing['ratio']}x wall, {ing['cpu_ratio']}x CPU; peak RSS {ing['peak_rss_mb']} MB",
            flush=True,
        )
    result["query"] = q = run_worker("query", str(index), str(models))
    print(
        f"search over {q['papers']} papers ({q['pages']} pages): p50 {q['search_p50_ms']} ms, "
        f"p95 {q['search_p95_ms']} ms; ask p50 {q['ask_p50_ms']} ms; stages {q['stage_p50_ms']}",
        flush=True,
    )
    result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    old = read_result(RESULTS)
    if args.queries_only and "ingest" in old.get(str(args.pdfs), {}):
        result["ingest"] = old[str(args.pdfs)]["ingest"]
    old[str(args.pdfs)] = result
    write_result(RESULTS, old)
    print(f"written: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
