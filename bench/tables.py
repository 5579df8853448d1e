"""Comparison tables: quality on the table sets and speed.

    python -m bench.tables                         # dev + test sets, speed; PDFs from examples/fulltext/cache
    python -m bench.tables --pdfs DIR --index-dir /tmp/idx
    python -m bench.tables --sweep                 # also the dev scores for a "stated" threshold alone
    python -m bench.tables --speed-only            # speed again, quality kept from the result file
    python -m bench.tables --split dev --cells     # one split's quality only, each missed cell shown (no file written)

Quality (examples/tables/tables_{dev,test}.jsonl, gold cells written from the papers' text):
per split and per corpus (bundled abstracts, full-text PDFs), for `PaperAssistant.table` and
the naive baseline (each cell = the paper's passage nearest to the aspect by the embedding):
cells right (a stated gold cell whose text or quote holds a gold sentence), not-stated right,
words per stated cell.  The full-text PDFs are fetched from Debian (fixtures.debian_pdfs) when
missing.

Speed, in this (warm) process: a 10-paper x 4-aspect table over abstracts with no LLM -- the
first one (sentence vectors not yet cached), then the median of 5 more with the same aspects
and of 5 with new aspects each time; and `paper-assistant table` end to end (a new process:
imports, opening the index, the table, printing), median of 3.  Results:
bench/results/tables.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant import PaperAssistant, Settings
from assistant.evaluation.tables import TableSystem, evaluate_tables, holds, load_tables
from assistant.tables import extractive
from bench.harness import RESULTS, ROOT, read_result, write_result

SETS = {
    "dev": ROOT / "examples" / "tables" / "tables_dev.jsonl",
    "test": ROOT / "examples" / "tables" / "tables_test.jsonl",
}
CORPUS = ROOT / "examples" / "fulltext" / "corpus.json"
CACHE = ROOT / "examples" / "fulltext" / "cache"
SPEED_ASPECTS = [
    [
        "What data is it trained on?",
        "Does it need training?",
        "What benchmarks is it evaluated on?",
        "Is code released?",
    ],
    ["What loss is used?", "Which model does it build on?", "What task does it address?", "How large is the model?"],
    ["What is the main result?", "What languages?", "What is frozen?", "How fast is it?"],
    ["What dataset is introduced?", "What is the baseline?", "What metric?", "What is the limitation?"],
    ["Which encoder?", "What decoding strategy?", "How many parameters?", "What modality?"],
    ["What problem?", "What is new?", "Who benefits?", "What is compared?"],
]


def needed_pdfs() -> set[str]:
    return {r["pdf"] for p in SETS.values() for t in load_tables(p) for r in t["rows"] if r.get("pdf")}


def fetch_pdfs(folder: Path) -> Path:
    """The table sets' PDFs in `folder`, downloaded and verified when missing."""
    from fixtures.debian_pdfs import fetch

    want = needed_pdfs()
    if all((folder / f).exists() for f in want):
        return folder
    entries = [e for e in json.loads(CORPUS.read_text())["pdfs"] if e["file"] in want]
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "manifest.json"
        manifest.write_text(json.dumps({"pdfs": entries}))
        fetch(folder, manifest)
    return folder


def quality(pa: PaperAssistant, sweep: bool, splits: list[str] | None = None) -> dict:
    out: dict = {}
    for split, path in SETS.items():
        if splits is not None and split not in splits:
            continue
        report = evaluate_tables(pa, path)
        corpus = {t["id"]: t.get("corpus", "") for t in load_tables(path)}
        out[split] = {}
        for s in report.systems:
            out[split][s.name] = {"all": s.scores()}
            for c in sorted(set(corpus.values())):
                part = TableSystem(s.name, [x for x in s.cells if corpus[x.table] == c], s.seconds)
                scores = part.scores()
                scores.pop("seconds_per_table")
                out[split][s.name][c] = scores
        if sweep and split == "dev":
            out["dev_sweep"] = threshold_sweep(pa, path)
    return out


def diagnose(pa: PaperAssistant, split: str, everything: bool = False) -> list[str]:
    """One line per cell the assistant gets wrong (`everything`: every cell): the table, the
    paper, the aspect, the gold verdict, the cell's score and term share, what it quotes (or the
    closest sentence of a not-stated cell), and the first gold sentence."""
    from assistant.evaluation.questions import title_index
    from assistant.evaluation.tables import _paper_id

    titles = title_index(pa.papers)
    lines = []
    for t in load_tables(SETS[split]):
        made = pa.table(t["aspects"], papers=[_paper_id(t, r, titles) for r in t["rows"]])
        for r, row in zip(t["rows"], made.rows):
            for gold, cell in zip(r["cells"], row.cells):
                text = f"{cell.text} {cell.quote}" if cell.stated else (cell.nearest.quote if cell.nearest else "")
                found = holds(text, gold["gold"]) if gold["gold"] else None
                right = (cell.stated and found) if gold["gold"] else not cell.stated
                if right and not everything:
                    continue
                verdict = "OK" if right else ("MISS-NS" if gold["gold"] and not cell.stated else "MISS")
                if not gold["gold"]:
                    verdict = "OK-NS" if right else "FALSE-STATED"
                where = "" if not cell.citations else f" p{cell.citations[0].page}/{cell.citations[0].section}"
                lines.append(
                    f"{verdict:12s} {t['id'][-5:]} {r['paper'][:24]:24s} | {gold['aspect'][:36]:36s} | "
                    f"score {cell.score:.2f} terms {cell.support:.2f} sentence-holds-gold {found}{where}\n"
                    f"    chose: {' '.join(text.split())[:220]}\n"
                    + (
                        f"    gold:  {' '.join(gold['gold'][0].split())[:220]}"
                        if gold["gold"]
                        else "    gold:  not stated"
                    )
                )
    return lines


def threshold_sweep(pa: PaperAssistant, path: Path) -> list[dict]:
    """Dev scores had `stated` been decided by a score threshold alone (without the term share;
    every cell keeps its score and its best sentence: the quote, or `nearest` for a not-stated
    cell)."""
    from assistant.evaluation.questions import title_index
    from assistant.evaluation.tables import _paper_id

    titles = title_index(pa.papers)
    seen = []  # (gold sentences, score, candidate text)
    for t in load_tables(path):
        made = pa.table(t["aspects"], papers=[_paper_id(t, r, titles) for r in t["rows"]])
        for r, row in zip(t["rows"], made.rows):
            for gold, cell in zip(r["cells"], row.cells):
                text = f"{cell.text} {cell.quote}" if cell.stated else (cell.nearest.quote if cell.nearest else "")
                seen.append((gold["gold"], cell.score, text))
    out = []
    for k in range(0, 21):
        at = 0.2 + 0.05 * k
        stated = [(g, s, x) for g, s, x in seen if g]
        silent = [(g, s, x) for g, s, x in seen if not g]
        right = sum(s >= at and holds(x, g) for g, s, x in stated) / max(1, len(stated))
        quiet = sum(s < at for g, s, x in silent) / max(1, len(silent))
        out.append({"stated_at": round(at, 2), "cells_right": round(right, 3), "not_stated_right": round(quiet, 3)})
    return out


def speed(pa: PaperAssistant) -> dict:
    ids = [p.id for p in pa.papers if not p.full_text][:10]
    first = _seconds(lambda: pa.table(SPEED_ASPECTS[0], papers=ids))
    same = [_seconds(lambda: pa.table(SPEED_ASPECTS[0], papers=ids)) for _ in range(5)]
    new = [_seconds(lambda a=a: pa.table(a, papers=ids)) for a in SPEED_ASPECTS[1:]]
    return {
        "papers": len(ids),
        "aspects": 4,
        "first_table_s": round(first, 3),
        "warm_same_aspects_median_s": round(statistics.median(same), 3),
        "warm_new_aspects_median_s": round(statistics.median(new), 3),
        "warm_new_aspects_max_s": round(max(new), 3),
    }


def _seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def cli_speed(index_dir: str, ids: list[str]) -> dict:
    """`paper-assistant table` end to end, in a new process each time (median of 3)."""
    cmd = [sys.executable, "-m", "assistant.cli", "--index-dir", index_dir, "table", "--json"]
    for a in SPEED_ASPECTS[0]:
        cmd += ["--aspect", a]
    for i in ids:
        cmd += ["--paper", i]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        runs.append(time.perf_counter() - t)
        if done.returncode != 0:
            raise RuntimeError(f"paper-assistant table failed: {done.stderr[-500:]}")
        json.loads(done.stdout)
    return {
        "papers": len(ids),
        "aspects": 4,
        "median_s": round(statistics.median(runs), 3),
        "runs_s": [round(x, 3) for x in runs],
    }


def one_split(pa: PaperAssistant, args: argparse.Namespace) -> int:
    """A split's quality printed (the dev loop: tune on dev without touching the result file)."""
    if args.cells or args.all_cells:
        print("\n".join(diagnose(pa, args.split, args.all_cells)))
    print(json.dumps(quality(pa, args.sweep, [args.split]), indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", help="index of the bundled collection (default: a new one in a temporary folder)")
    ap.add_argument(
        "--pdfs", type=Path, default=CACHE, help="the full-text PDFs (default %(default)s; fetched if missing)"
    )
    ap.add_argument("--sweep", action="store_true", help="also the dev scores for a 'stated' threshold alone")
    ap.add_argument("--json", default=str(RESULTS / "tables.json"), help="result file (default %(default)s)")
    ap.add_argument("--speed-only", action="store_true", help="measure speed only (quality kept from the result file)")
    ap.add_argument("--split", choices=sorted(SETS), help="this split's quality only, printed (no result file written)")
    ap.add_argument("--cells", action="store_true", help="with --split: each missed cell, what it quotes and the gold")
    ap.add_argument("--all-cells", action="store_true", help="with --split: every cell, as --cells shows a miss")
    args = ap.parse_args(argv)
    index_dir = args.index_dir or tempfile.mkdtemp(prefix="pa-bench-tables-")
    pa = PaperAssistant(Settings.load(index_dir=index_dir, collection="bundled"))
    pdfs = fetch_pdfs(args.pdfs)
    for name in sorted(needed_pdfs()):
        pa.add_papers(pdfs / name)
    if args.split:
        return one_split(pa, args)
    result = read_result(Path(args.json)) if args.speed_only else {}
    result.update(stated_threshold=extractive.STATED, stated_support=extractive.SUPPORT)
    result["abstract_preference"] = extractive.ABSTRACT
    if not args.speed_only:
        result["quality"] = quality(pa, args.sweep)
    result["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    result["speed_in_process"] = speed(pa)
    ids = [p.id for p in pa.papers if not p.full_text][:10]
    pa.store.close()  # an embedded index serves one process: the CLI's
    result["cli_end_to_end"] = cli_speed(index_dir, ids)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result(args.json, result)
    print(json.dumps(result, indent=1)[:6000])
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
