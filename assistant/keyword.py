"""Keyword (BM25) index over papers, with the tokenizer that both sides share.

One BM25 document per paper (title + abstract): keyword evidence is strongest at paper
level, and that is the unit results are grouped by.  The index is bm25s sparse matrices
saved as plain files plus the per-paper token lists, so adding or replacing papers only
tokenises those papers before the (fast) matrix rebuild.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+")
_VOWEL = re.compile(r"[aeiouy]")
# English function words plus the words people use to *ask* about papers ("is there a
# paper that...", "which method..."): they say nothing about what a paper contains.
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can cannot could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just let me more most my myself no nor not
of off on once only or other ought our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
anyone anything someone something paper papers work works study studies approach approaches method methods way
ways thing things kind kinds use used uses using get gets got make makes made tell know want looking look read
heard find found s t don doesn didn isn aren wasn weren won wouldn shouldn couldn
""".split())

_stemmer = None


def _stem(word: str) -> str:
    global _stemmer
    if _stemmer is None:
        import Stemmer

        _stemmer = Stemmer.Stemmer("english")
    return _stemmer.stemWord(word)


def tokenize(text: str) -> list[str]:
    out = []
    for t in _TOKEN.findall(text.lower()):
        if t in STOPWORDS or (len(t) < 2 and not t.isdigit()):
            continue
        if len(t) > 3 and t.endswith("s") and not _VOWEL.search(t[:-1]):
            t = t[:-1]  # plural acronyms: LLMs -> llm, VLMs -> vlm (the stemmer leaves them alone)
        out.append(_stem(t))
    return out


def paper_text(title: str, abstract: str) -> str:
    return f"{title}\n{abstract}"


class KeywordIndex:
    """BM25 over papers. `ids[i]` is the paper id of BM25 document i.

    Saved as a directory: the bm25s matrices (bm25/), ids.json and tokens.jsonl (each
    paper's tokens, read back only when the index changes, so updates never re-tokenise
    papers that did not change).
    """

    def __init__(self, tokens: dict[str, list[str]] | None = None):
        self._tokens: dict[str, list[str]] | None = dict(tokens or {})
        self._source: Path | None = None
        self.ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._bm25 = None
        self._vocab: dict[str, int] = {}
        self._df: np.ndarray = np.zeros(0)
        self._rebuild()

    # -- updates ------------------------------------------------------------------------
    @property
    def tokens(self) -> dict[str, list[str]]:
        if self._tokens is None:  # loaded index: read the token lists on first update
            self._tokens = _read_tokens(self._source / "tokens.jsonl")
        return self._tokens

    def updated(self, upsert: dict[str, tuple[str, str]] | None = None, remove=()) -> "KeywordIndex":
        """A new index with `upsert` (id -> (title, abstract)) added or replaced and `remove` gone.

        Only the upserted papers are tokenised; this index is left as it is, so searches
        running meanwhile keep a consistent view.
        """
        tokens = {pid: t for pid, t in self.tokens.items() if pid not in set(remove)}
        for pid, (title, abstract) in (upsert or {}).items():
            tokens[pid] = tokenize(paper_text(title, abstract))
        return KeywordIndex(tokens)

    def _rebuild(self) -> None:
        bm25s = _bm25s()

        tokens = self.tokens
        self.ids = sorted(tokens)
        self._pos = {pid: i for i, pid in enumerate(self.ids)}
        if not self.ids:
            self._bm25, self._vocab, self._df = None, {}, np.zeros(0)
            return
        vocab: dict[str, int] = {"": 0}  # placeholder so a corpus of stop words only still indexes
        corpus_ids = [[vocab.setdefault(t, len(vocab)) for t in tokens[pid]] for pid in self.ids]
        bm = bm25s.BM25()
        bm.index(bm25s.tokenization.Tokenized(ids=corpus_ids, vocab=vocab), show_progress=False)
        self._set_model(bm)

    def _set_model(self, bm) -> None:
        self._bm25, self._vocab = bm, dict(bm.vocab_dict)
        self._df = np.diff(np.asarray(bm.scores["indptr"]))  # non-zero docs per token = document frequency

    # -- queries ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query_tokens: list[str], allowed: set[str] | None = None) -> np.ndarray:
        """BM25 score of every document (aligned with `ids`); 0 outside `allowed`."""
        out = np.zeros(len(self.ids), dtype=np.float32)
        qids = [self._vocab[t] for t in query_tokens if t in self._vocab]
        if self._bm25 is not None and qids:
            out = np.asarray(self._bm25.get_scores_from_ids(qids), dtype=np.float32)
        if allowed is not None:
            mask = np.zeros(len(self.ids), dtype=bool)
            mask[[self._pos[p] for p in allowed if p in self._pos]] = True
            out = np.where(mask, out, 0.0)
        return out

    def top(self, query_tokens: list[str], k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        s = self.scores(query_tokens, allowed)
        if not len(s):
            return []
        k = min(k, len(s))
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return [(self.ids[i], float(s[i])) for i in idx if s[i] > 0]

    def df(self, token: str) -> int:
        """How many papers contain the token."""
        return int(self._df[self._vocab[token]]) if token in self._vocab else 0

    def idf(self, token: str) -> float:
        """Smoothed inverse document frequency; a token no paper contains gets the highest value."""
        return math.log((len(self.ids) + 1) / (self.df(token) + 0.5))

    # -- persistence ----------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write into a fresh directory; the store makes it current by an atomic manifest update."""
        directory.mkdir(parents=True, exist_ok=False)
        with open(directory / "tokens.jsonl", "w", encoding="utf-8") as f:
            for pid in self.ids:
                f.write(json.dumps({"id": pid, "t": " ".join(self.tokens[pid])}) + "\n")
        (directory / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")
        if self._bm25 is not None:
            self._bm25.save(str(directory / "bm25"))

    @classmethod
    def load(cls, directory: Path) -> "KeywordIndex":
        bm25s = _bm25s()

        ki = cls.__new__(cls)
        ki._tokens, ki._source = None, directory
        ki.ids = json.loads((directory / "ids.json").read_text(encoding="utf-8"))
        ki._pos = {pid: i for i, pid in enumerate(ki.ids)}
        ki._bm25, ki._vocab, ki._df = None, {}, np.zeros(0)
        if ki.ids:
            bm = bm25s.BM25.load(str(directory / "bm25"), mmap=False)
            if int(bm.scores["num_docs"]) != len(ki.ids):
                raise ValueError("keyword index files disagree (bm25 vs ids.json)")
            ki._set_model(bm)
        return ki


def _bm25s():
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on itself at import
    return bm25s


def _read_tokens(path: Path) -> dict[str, list[str]]:
    tokens: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            tokens[rec["id"]] = rec["t"].split()
    return tokens
