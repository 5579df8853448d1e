"""What the PDF worker costs: the test PDFs (tests/data/pdfs/cache, `python -m fixtures.debian_pdfs`)
read through `read_within` in this fresh process -- the first (which starts the worker server),
then each other -- beside the same PDFs read in-process (no worker, no budget).

    python -m bench.pdf_worker [--pdfs 5] [--label after] [--repeats 3]

Each repeat runs in a new process (the server starts once per process).  Results go to
bench/results/pdf_worker.json under `--label`, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import harness

RESULTS = harness.RESULTS / "pdf_worker.json"
CACHE = harness.ROOT / "tests" / "data" / "pdfs" / "cache"


def measure(paths: list[Path]) -> dict:
    """Wall seconds of each read_within call, in order, and of the same PDFs read in-process."""
    from assistant.formats import pdf
    from assistant.formats.pdf_worker import read_within

    def refused_too(read):  # a PDF refused (no text layer) costs its round trip all the same
        def call(path: Path) -> None:
            try:
                read(path)
            except pdf.PdfError:
                pass

        return call

    worker = [harness.timed(refused_too(lambda p: read_within(p, 1000)), p) for p in paths]
    inline = [
        harness.timed(refused_too(lambda p: (pdf.page_count(p), pdf.read_pdf(p, max_pages=1000))), p) for p in paths
    ]
    return {"worker_s": worker, "in_process_s": inline}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pdfs", type=int, default=5, help="how many of the smallest test PDFs")
    ap.add_argument("--label", default="current", help="the key of this run in the result file")
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    paths = sorted(CACHE.glob("*.pdf"), key=lambda p: p.stat().st_size)[: args.pdfs]
    if args.child:
        print(json.dumps(measure(paths)))
        return 0
    if len(paths) < args.pdfs:
        sys.exit(f"{CACHE} has {len(paths)} PDFs: fetch them with python -m fixtures.debian_pdfs")
    runs, load = [], os.getloadavg()[0]
    for _ in range(args.repeats):
        t = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bench.pdf_worker", "--child", "--pdfs", str(args.pdfs)],
            capture_output=True,
            text=True,
            check=True,
        )
        run = json.loads(done.stdout.splitlines()[-1]) | {"process_s": time.perf_counter() - t}
        runs.append(run)
    summary = {
        "pdfs": [p.name for p in paths],
        "first_pdf_s": [r["worker_s"][0] for r in runs],
        "all_pdfs_s": [sum(r["worker_s"]) for r in runs],
        "next_pdfs_mean_overhead_s": [
            sum(w - i for w, i in zip(r["worker_s"][1:], r["in_process_s"][1:], strict=True)) / (len(paths) - 1)
            for r in runs
        ],
        "in_process_all_s": [sum(r["in_process_s"]) for r in runs],
        "load_average_1min": [load, os.getloadavg()[0]],
        "runs": runs,
    }
    results = harness.read_result(args.out) | {args.label: summary}
    harness.write_result(args.out, results)
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
