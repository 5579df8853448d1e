"""Synthetic paper collections of any size, recombined from the bundled collection.

Each synthetic paper takes a title made of two halves of bundled titles and an abstract
of sentences drawn from the bundled abstracts (about as many as a real abstract has),
with a new id.  The result has the length distribution of the real collection, so
chunking, embedding and BM25 costs per paper match it; it is deterministic in `seed`.

`write_arxiv_jsonl` writes the same papers as a slice of arXiv's metadata snapshot (one JSON
object per line, the snapshot's fields), for the streaming reader's benchmarks.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

from assistant.papers import load_papers
from assistant.settings import BUNDLED_COLLECTION
from assistant.text import sentence_spans


def _pools() -> tuple[list[str], list[str], list[int], list[str]]:
    papers = load_papers(BUNDLED_COLLECTION).papers
    heads, tails = [], []
    for p in papers:
        words = p.title.split()
        cut = p.title.find(":") if ":" in p.title else -1
        if cut > 0:
            heads.append(p.title[:cut].strip())
            tails.append(p.title[cut + 1 :].strip())
        else:
            half = max(1, len(words) // 2)
            heads.append(" ".join(words[:half]))
            tails.append(" ".join(words[half:]))
    sentences = [p.abstract[a:b] for p in papers for a, b in sentence_spans(p.abstract)]
    lengths = [len(sentence_spans(p.abstract)) for p in papers]
    return heads, tails, lengths, sentences


def synthetic_papers(n: int, seed: int = 0, prefix: str = "syn") -> Iterator[dict]:
    """`n` paper records {id, title, abstract, year}; ids are `<prefix>-<i>`."""
    heads, tails, lengths, sentences = _pools()
    rng = random.Random(seed)
    for i in range(n):
        k = rng.choice(lengths)
        start = rng.randrange(len(sentences))
        # a run of neighbouring sentences plus a few from elsewhere: reads like one abstract, mostly
        picked = [sentences[(start + j) % len(sentences)] for j in range(k // 2)]
        picked += rng.sample(sentences, k - len(picked))
        title = f"{rng.choice(heads)}: {rng.choice(tails)}"
        title = re.sub(r"\s+", " ", title).strip(": ")
        yield {"id": f"{prefix}-{i:06d}", "title": title, "abstract": " ".join(picked), "year": 2020 + rng.randrange(6)}


def write_jsonl(path: Path, n: int, seed: int = 0, prefix: str = "syn") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for rec in synthetic_papers(n, seed, prefix):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


_NAMES = [
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Jörg Müller",
    "María García",
    "Wei Chen",
    "Anna van der Berg",
    "C. -P. Yuan",
    "E. L. Berger",
    "Chidi Okafor",
    "Yuki Tanaka",
    "Priya Natarajan",
]
_CATEGORIES = ["cs.CL", "cs.CV", "cs.LG", "cs.AI", "stat.ML", "eess.AS", "cs.IR"]
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def arxiv_records(n: int, seed: int = 0) -> Iterator[dict]:
    """`n` records shaped like lines of arXiv's `arxiv-metadata-oai-snapshot.json`."""
    rng = random.Random(seed + 1)
    for i, p in enumerate(synthetic_papers(n, seed)):
        year, month = p["year"], rng.randrange(1, 13)
        aid = f"{year % 100:02d}{month:02d}.{i % 100000:05d}"
        people = rng.sample(_NAMES, rng.randrange(1, 6))
        parsed = [[name.split()[-1], " ".join(name.split()[:-1]), ""] for name in people]
        day = rng.randrange(1, 29)
        yield {
            "id": aid,
            "submitter": people[0],
            "authors": ", ".join(people),
            "title": p["title"],
            "comments": f"{rng.randrange(4, 40)} pages",
            "journal-ref": None,
            "doi": f"10.5555/syn.{i}" if rng.random() < 0.3 else None,
            "report-no": None,
            "categories": " ".join(rng.sample(_CATEGORIES, rng.randrange(1, 3))),
            "license": "http://creativecommons.org/licenses/by/4.0/",
            "abstract": "  " + p["abstract"].replace(". ", ".\n", 3) + "\n",
            "versions": [{"version": "v1", "created": f"Mon, {day} {_MONTHS[month - 1]} {year} 10:00:00 GMT"}],
            "update_date": f"{year}-{month:02d}-{day:02d}",
            "authors_parsed": parsed,
        }


def write_arxiv_jsonl(path: Path, n: int, seed: int = 0) -> Path:
    """A slice of `n` records in arXiv's snapshot format (JSON lines under a .json name, as arXiv ships it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for rec in arxiv_records(n, seed):
            f.write(json.dumps(rec) + "\n")
    return path


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("n", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--arxiv", action="store_true", help="write an arXiv metadata snapshot slice instead of plain JSONL"
    )
    a = ap.parse_args()
    (write_arxiv_jsonl if a.arxiv else write_jsonl)(a.out, a.n, a.seed)
    print(f"wrote {a.n} papers to {a.out}")
