"""How fast each papers format is read, and that streaming a dump takes constant memory.

    python -m bench.parse_formats [--n 2000] [--big 100000] [--small 10000]

Part 1: the same N synthetic papers (fixtures/synthetic.py, with authors, year, venue, DOI,
tags) are written in every format the library reads -- BibTeX, CSL JSON and RIS by
assistant.references, JSON lines, a JSON document, CSV, arXiv / OpenAlex / Semantic Scholar
dump lines, and a zotero.sqlite laid out as the tests' (fixtures/zotero.py) -- and read back with
`iter_papers` (detection, reader, normalisation, dedupe): records/s per format.

Part 2: an arXiv snapshot slice of `--small` and of `--big` records is parsed in a fresh
process each (the reader alone, then the whole `iter_papers`), and the peak RSS of each
process is printed: the reader's must not grow with the file (iter_papers keeps one 64-bit
hash per id to drop duplicates: that part grows, by about 100 bytes a record).  Parsing only -- no
embedding.  Figures from a shared machine are indicative.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant import references as refs
from assistant.ingest.records import iter_papers, normalize_record
from assistant.types import Paper
from fixtures.synthetic import synthetic_papers, write_arxiv_jsonl
from fixtures.zotero import CREATOR_TYPES, FIELDS, ITEM_TYPES, SCHEMA, Builder

_VENUES = ["NeurIPS", "ICML", "ACL", "CVPR", "Journal of Machine Learning Research", ""]
_PEOPLE = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Jörg Müller", "Anna van der Berg", "Wei Chen"]


def papers(n: int) -> list[Paper]:
    rng = random.Random(7)
    out = []
    for rec in synthetic_papers(n, seed=3):
        rec |= {
            "authors": rng.sample(_PEOPLE, rng.randrange(1, 4)),
            "venue": rng.choice(_VENUES),
            "doi": f"10.5555/bench.{rec['id']}",
            "tags": rng.sample(["nlp", "vision", "speech", "rl"], 2),
        }
        out.append(normalize_record(rec))
    return out


def write_all(ps: list[Paper], folder: Path) -> dict[str, Path]:
    files = {}

    def put(name: str, text: str) -> None:
        files[name] = folder / name
        files[name].write_text(text, encoding="utf-8")

    put("library.bib", refs.to_bibtex(ps))
    put("library.csl.json", refs.to_csl_json(ps))
    put("library.ris", refs.to_ris(ps))
    put("papers.jsonl", "\n".join(json.dumps(p.to_dict(), ensure_ascii=False) for p in ps) + "\n")
    put("papers.json", json.dumps({"papers": [p.to_dict() for p in ps]}, ensure_ascii=False))
    with open(folder / "papers.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "title", "abstract", "authors", "year", "venue", "doi"])
        for p in ps:
            w.writerow([p.id, p.title, p.abstract, "; ".join(p.authors), p.year, p.venue, p.doi])
    files["papers.csv"] = folder / "papers.csv"
    write_arxiv_jsonl(folder / "arxiv.json", len(ps))
    files["arxiv.json"] = folder / "arxiv.json"
    put("openalex.jsonl", "\n".join(json.dumps(openalex_work(i, p)) for i, p in enumerate(ps)) + "\n")
    put("s2.jsonl", "\n".join(json.dumps(s2_paper(i, p)) for i, p in enumerate(ps)) + "\n")

    import sqlite3

    db = folder / "Zotero" / "zotero.sqlite"
    db.parent.mkdir()
    con = sqlite3.connect(db)
    con.executescript(SCHEMA)
    for name, tid in ITEM_TYPES.items():
        con.execute("INSERT INTO itemTypesCombined VALUES (?, ?, 1, 0)", (tid, name))
    for name, fid in FIELDS.items():
        con.execute("INSERT INTO fieldsCombined VALUES (?, ?, NULL, NULL, 0)", (fid, name))
    for name, cid in CREATOR_TYPES.items():
        con.execute("INSERT INTO creatorTypes VALUES (?, ?)", (cid, name))
    con.execute("INSERT INTO libraries (libraryID, type, editable, filesEditable) VALUES (1, 'user', 1, 1)")
    b = Builder(con)
    for i, p in enumerate(ps):
        item = b.item(
            "journalArticle",
            f"K{i:07d}",
            title=p.title,
            abstractNote=p.abstract,
            date=str(p.year),
            DOI=p.doi,
            **({"publicationTitle": p.venue} if p.venue else {}),
        )
        b.creators(item, *[(" ".join(a.split()[:-1]), a.split()[-1], "author", 0) for a in p.authors])
    con.commit()
    con.close()
    files["zotero.sqlite"] = db
    return files


def openalex_work(i: int, p: Paper) -> dict:
    index: dict[str, list[int]] = {}
    for pos, word in enumerate(p.abstract.split()):
        index.setdefault(word, []).append(pos)
    return {
        "id": f"https://openalex.org/W{i}",
        "doi": f"https://doi.org/{p.doi}",
        "title": p.title,
        "publication_year": p.year,
        "authorships": [{"author": {"display_name": a}} for a in p.authors],
        "primary_location": {"source": {"display_name": p.venue}},
        "abstract_inverted_index": index,
    }


def s2_paper(i: int, p: Paper) -> dict:
    return {
        "paperId": f"{i:040x}",
        "corpusId": i,
        "externalIds": {"DOI": p.doi},
        "title": p.title,
        "abstract": p.abstract,
        "year": p.year,
        "venue": p.venue,
        "authors": [{"name": a} for a in p.authors],
    }


def read_rate(path: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = sum(isinstance(x, Paper) for x in iter_papers(path, max_file_mb=1e6, max_records=10**8))
    return n, time.perf_counter() - t0


CHILD = """
import sys, time
from pathlib import Path
from assistant.formats import jsonish
from assistant.ingest.records import iter_papers
from assistant.types import Paper

def status(field):  # kB, from the kernel: VmRSS is resident now, VmHWM the peak so far
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024

path, mode = Path(sys.argv[1]), sys.argv[2]
base = status("VmRSS")
t0 = time.perf_counter()
if mode == "reader":
    with open(path, "rb") as f:
        n = sum(isinstance(r, dict) for _, r in jsonish.read_json_lines(f, path.name))
else:
    n = sum(isinstance(x, Paper) for x in iter_papers(path, max_records=10**8))
dt = time.perf_counter() - t0
print(n, round(dt, 2), base, status("VmRSS"), status("VmHWM"))
"""


def rss(path: Path, mode: str) -> tuple[int, float, int, int, int]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True, check=True)
    n, dt, base, end, peak = out.stdout.split()
    return int(n), float(dt), int(base), int(end), int(peak)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="papers per format in part 1")
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--big", type=int, default=100_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="parse-formats-") as tmp:
        folder = Path(tmp)
        files = write_all(papers(a.n), folder)
        print(f"Part 1: {a.n} papers per format, read with iter_papers (detect + parse + normalise + dedupe)")
        print(f"{'file':<18} {'MB':>6} {'papers':>7} {'seconds':>8} {'papers/s':>9}")
        for name, path in files.items():
            n, dt = read_rate(path)
            print(f"{name:<18} {path.stat().st_size / 1e6:6.1f} {n:7d} {dt:8.2f} {n / dt:9.0f}")
        print("\nPart 2: arXiv snapshot slices, each parsed in a fresh process (RSS in MB; the process")
        print("starts with the library imported, so the peak is the larger of that and what parsing needs)")
        print(
            f"{'records':>8} {'MB':>5} {'mode':<12} {'seconds':>8} {'rec/s':>6} {'RSS before':>10} {'RSS after':>9} {'peak':>5}"
        )
        for size in (a.small, a.big):
            path = write_arxiv_jsonl(folder / f"arxiv-{size}.json", size)
            for mode in ("reader", "iter_papers"):
                n, dt, base, end, peak = rss(path, mode)
                print(
                    f"{n:8d} {path.stat().st_size / 1e6:5.0f} {mode:<12} {dt:8.2f} {n / dt:6.0f} {base:10d} {end:9d} {peak:5d}"
                )


if __name__ == "__main__":
    main()
