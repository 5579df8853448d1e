"""The cost of keeping a library in sync: `pa.sync(FOLDER)` over a folder of 1,000 PDFs.

    python -m bench.library_sync                      # 1,000 PDFs in a temporary folder
    python -m bench.library_sync --pdfs 200 --work /tmp/libsync

The PDFs are synthetic, made as bench/fulltext_scale.py makes them (a title, an author line,
an abstract, headings and corpus sentences with their numbers changed), but 2-4 pages each,
so the first sync (every PDF parsed and embedded) takes minutes, not an hour.  What is timed,
in this process, after that first sync:

* `unchanged`: a sync with nothing changed (5 runs): a stat of every file, the registry read
  and written -- the target is <= 2 s for 1,000 PDFs;
* `one_added`: a sync after one new PDF was dropped in, against that same PDF's ingest alone
  (`add_papers` into a small index of the same settings, its model warm): the difference is
  what the sync adds to the ingest -- the target is <= 2 s;
* `one_renamed`: a sync after a PDF was renamed (its bytes hashed, nothing embedded).

The embedding cache is off, so every text is embedded when it is new.  Results go to
bench/results/library_sync.json, with the load averages before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench import harness
from bench.fulltext_scale import synthetic_pdfs

RESULTS = harness.RESULTS / "library_sync.json"
TARGET_SECONDS = 2.0


def make_pdfs(folder: Path, n: int, seed: int = 0) -> int:
    """`n` synthetic PDFs of 2-4 pages in `folder`; returns the pages written."""
    return synthetic_pdfs(folder, n, (2, 4), "paper", seed)


def timed_sync(pa, folder: Path):
    t0 = time.perf_counter()
    [report] = pa.sync(folder)
    return time.perf_counter() - t0, report


def run(work: Path, n: int) -> dict:
    from assistant import PaperAssistant, Settings

    folder, spare = work / "papers", work / "spare"
    pages = make_pdfs(folder, n)
    make_pdfs(spare, 2, seed=1)
    settings = dict(env={}, model_cache=os.environ.get("ASSISTANT_MODEL_CACHE") or None, embed_cache="off")
    pa = PaperAssistant(Settings.load(index_dir=str(work / "index"), **settings))
    first, report = timed_sync(pa, folder)
    assert len(report.added) == n, report.summary()
    unchanged = [timed_sync(pa, folder) for _ in range(5)]
    assert all(not r.changed and r.files_read == 0 for _, r in unchanged)

    new = spare / "paper-00000.pdf"
    alone = PaperAssistant(Settings.load(index_dir=str(work / "alone"), **settings))
    alone.add_papers(spare / "paper-00001.pdf")  # the model loaded and warm, as in the synced index
    t0 = time.perf_counter()
    alone.add_papers(new)
    ingest_alone = time.perf_counter() - t0
    shutil.copy(new, folder / "new.pdf")
    added, report = timed_sync(pa, folder)
    assert report.added == ["pdf:new"], report.summary()

    (folder / "paper-00001.pdf").rename(folder / "renamed.pdf")
    renamed, report = timed_sync(pa, folder)
    assert report.renamed and not report.added and not report.removed, report.summary()
    walls = [t for t, _ in unchanged]
    return {
        "pdfs": n,
        "pages": pages,
        "first_sync_seconds": round(first, 1),
        "unchanged": {
            "seconds_median": round(statistics.median(walls), 3),
            "seconds_max": round(max(walls), 3),
            "target_seconds": TARGET_SECONDS,
        },
        "one_added": {
            "sync_seconds": round(added, 3),
            "ingest_alone_seconds": round(ingest_alone, 3),
            "overhead_seconds": round(added - ingest_alone, 3),
            "target_overhead_seconds": TARGET_SECONDS,
        },
        "one_renamed": {"sync_seconds": round(renamed, 3), "passages_embedded": report.passages_embedded},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pdfs", type=int, default=1000)
    ap.add_argument("--work", help="folder for the PDFs and indexes (default: a temporary one, removed)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    load_before = os.getloadavg()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="library-sync-"))
    try:
        result = run(work, args.pdfs)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    result.update(load_average_before=[round(x, 2) for x in load_before], load_average_after=list(os.getloadavg()))
    print(harness.write_result(args.out, result))
    print(result)


if __name__ == "__main__":
    main()
