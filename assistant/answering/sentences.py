"""Which sentences of an abstract answer a question, best first.

Every sentence of a cited paper is scored against the question itself (`score_sentences`),
clause by clause ("Is there X? How big was the gain?" asks two things; "In the paper
that X, what did they find?" describes the paper, then asks):

* terms   -- the share of the clause's terms the sentence contains, each weighted by its
  IDF in the collection and by how few of this abstract's sentences contain it; words of
  the paper's title and names the question uses (ZeroTA) count little: they say which
  paper is meant, not which of its sentences answers;
* meaning -- the cosine of the sentence's and the clause's vectors (the project's MiniLM
  model; `SentenceVectors` caches sentence vectors, and only the sentences of papers an
  answer may cite are embedded);
* cues    -- what kind of answer the clause asks for and whether the sentence is that
  kind: a number for "how many/how much", data or a benchmark for "evaluated on what", a
  mechanism for "how", a finding for "what did they find", a reason for "why", a
  requirement for "does it need", the contribution ("we propose X") for "is there a paper";
* structure -- the abstract's opening context, sentences about earlier work and code
  notices are marked down unless the question asks about them; a sentence that carries
  on the one before ("This is done with ...") inherits part of its match; a sentence the
  conversation already showed is marked down (a follow-up's sentences are picked by its
  own words; the conversation only chose the paper).

`choose` leads with the best sentence for the clauses that ask for a detail, then gives
each other clause its best sentence, then close runners-up.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answering import cues
from assistant.retrieval.gate import named_terms
from assistant.retrieval.query import dense_query
from assistant.text import abbreviation_terms, md_unescape, sentence_spans, strip_markers, tokenize
from assistant.types import Message

# Scoring weights (how they were chosen: docs/quality.md, "Why the constants are what they are").
W_TERMS = 1.0  # share of the clause's IDF-weighted terms
W_MEANING = 0.7  # cosine of clause and sentence vectors
W_CUE = 0.3  # the sentence is the kind of answer the clause asks for
W_PASSAGE = 0.05  # inside the passage the dense retriever matched
DESCRIBE = 0.7  # a clause that only describes the paper counts this much
TITLE = 0.3  # a question term that is a word of the paper's title counts this much
OTHER_CLAUSES = 0.3  # the question's other clauses' terms, for each clause
CONTEXT = 0.1  # a follow-up's conversation terms: a tie-breaker
CARRY = 0.8  # a sentence carrying on the one before inherits this share of its match
OFF_TOPIC = 0.5  # earlier work, code notices
SEEN = 0.25  # already shown in the conversation
KEEP = 0.6  # a runner-up is quoted only when it scores this share of the lead sentence


@dataclass(frozen=True)
class Clause:
    """One thing a question asks: its terms, its answer-type cues and (when embedded) its vector."""

    text: str
    tokens: tuple[str, ...]
    cues: frozenset[str]
    vector: np.ndarray | None = None
    asks: bool = True  # False for a clause that only says which paper is meant ("There's a paper that ...")

    @property
    def weight(self) -> float:
        return 1.0 if self.asks else DESCRIBE


@dataclass(frozen=True)
class Question:
    """What sentence choice knows about a question."""

    clauses: tuple[Clause, ...]
    seen: str = ""  # what the conversation already showed, normalised (see `norm`)
    context: tuple[str, ...] = ()  # a follow-up's conversation terms; they only break ties
    names: frozenset[str] = (
        frozenset()
    )  # terms of the names it uses (LaVIT, MVP): they say which paper, like title words

    @property
    def asks(self) -> list[bool]:
        return [c.asks for c in self.clauses]

    @property
    def details(self) -> list[int]:
        """The clauses that ask for a detail (not only "is there a paper that ..."): they lead."""
        return [j for j, c in enumerate(self.clauses) if c.asks and (c.cues - {"name"} or not c.cues)]


def norm(text: str) -> str:
    """Text as a reader compares it: [n] markers and Markdown escapes gone, whitespace collapsed."""
    return " ".join(md_unescape(strip_markers(text)).split())


_ASKS = r"(?:what|which|how|why|where|when|who|whose|does|do|did|is|are|was|were|can|could|has|have|will|would|should)"
_IMPERATIVE = re.compile(
    r"^\W*(tell|explain|describe|list|give|show|summari[sz]e|name|compare|what|which|how|why)\b", re.I
)
_QUESTION_START = re.compile(r"^\W*(?:and |but |so |then )?" + _ASKS + r"\b", re.I)
_PREFACE = re.compile(
    r"(?:,|:|;|--|—)\s+(?=(?:and |but |so |then )?" + _ASKS + r"\b)|"
    r"\s+(?=and (?:what|which|how|why|where|when|who)\b)",
    re.I,
)


def clauses_of(question: str) -> list[tuple[str, bool]]:
    """A question split into (text, asks) parts: at its sentence ends ("...? How big ...?"),
    and before a comma-joined further question ("..., and how does it work?") or where a
    preface that describes the paper ends and the ask begins ("In the analysis of X, what
    did they conclude?", "The architecture that X: does it need Y?").  A part asks when it
    is a question or an imperative; a statement ("There's a paper that ...") or a preface
    only says which paper is meant."""
    out: list[tuple[str, bool]] = []
    for sentence in (p.strip() for p in re.split(r"(?<=[?.!])\s+", question.strip())):
        if not sentence:
            continue
        asks = sentence.endswith("?") or bool(_IMPERATIVE.match(sentence))
        pieces = _PREFACE.split(sentence) if asks else [sentence]
        for k, piece in enumerate(pieces):
            ask = asks and (k == len(pieces) - 1 or bool(_QUESTION_START.match(piece)))
            if k and out[-1][1] and len(tokenize(piece)) < 2:  # "..., and why?": a cue for the question before
                text, was = out[-1]
                out[-1] = (f"{text} {piece}", was or ask)
            else:
                out.append((piece, ask))
    return out or [(question, True)]


def question_cues(text: str) -> frozenset[str]:
    return frozenset(name for name, (q, _) in cues.CUES.items() if q.search(text))


def read_question(
    question: str,
    history: Sequence[Message] | None = None,
    embed_query: Callable[[str], np.ndarray] | None = None,
    context: Sequence[str] = (),
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> Question:
    """The question's clauses and what the conversation showed.  Clauses are embedded with
    `embed_query` (cached: a one-clause question was embedded by retrieval already) or,
    when there are several and `embed` is given, all in one batch."""
    parts = clauses_of(question)
    any_ask = any(asks for _, asks in parts)
    # embedded without request framing ("Which papers ..."): not what a sentence must say
    texts = [dense_query(text) for text, _ in parts]
    if embed is not None and len(texts) > 1:
        vectors = list(embed(texts))
    elif embed_query is not None:
        vectors = [embed_query(t) for t in texts]
    else:
        vectors = [None] * len(texts)
    clauses = tuple(
        Clause(text, tuple(tokenize(text)), question_cues(text), vec, asks or not any_ask)
        for (text, asks), vec in zip(parts, vectors)
    )
    shown = " ".join(norm(m.get("content") or "") for m in history or () if m.get("role") == "assistant")
    names = frozenset(t for w in named_terms(question) for t in tokenize(w))
    return Question(clauses, shown, tuple(context), names)


class SentenceVectors:
    """Vectors of abstract sentences, cached by text: a paper's sentences are embedded the
    first time it is cited (~8 sentences, a few ms each) and never again while cached."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], size: int = 20_000):
        self._embed, self._size = embed, size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        new = dict(zip(missing, self._embed(missing))) if missing else {}
        with self._lock:
            self._cache.update(new)
            out = [self._cache[t] if t in self._cache else new[t] for t in texts]
            for t in texts:
                if t in self._cache:
                    self._cache.move_to_end(t)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return np.stack(out) if out else np.zeros((0, 0), dtype=np.float32)


# --- scoring ------------------------------------------------------------------------------


def score_sentences(
    sentences: Sequence[str],
    q: Question,
    idf: Callable[[str], float],
    vectors: np.ndarray | None = None,
    *,
    in_passage: Sequence[bool] = (),
    title: str = "",
    body: bool = False,
) -> np.ndarray:
    """Score of each sentence for each clause, shape (sentences, clauses).

    Terms + meaning + cue (see the module docstring).  A term's weight is its IDF in the
    collection, times how few of this abstract's sentences contain it, times TITLE when it
    is a word of the paper's title: such words say which paper is meant, not which of its
    sentences answers.  A sentence that only carries on the one before ("This is done
    with ...", "Specifically, ...") inherits CARRY of that sentence's match.  Sentences
    about earlier work, and code/URL notices, are marked down unless the question asks
    about them; so is a sentence the conversation already showed.  `body`: the sentences are
    from the body of a paper, not its abstract -- there is no opening context to skip there,
    and a body states its defaults and results next to the works it cites ("Lumley and
    Heagerty (1999) suggest a default of C = 4", "a break has been detected"), so neither
    rule applies."""
    weights = _TermWeights(sentences, idf, set(tokenize(title)) | q.names, " ".join(c.text for c in q.clauses))
    out = np.zeros((len(sentences), len(q.clauses)), dtype=np.float64)
    for j, c in enumerate(q.clauses):
        out[:, j] = c.weight * _clause_scores(sentences, c, q, weights, vectors, body)
    _placement(out, sentences, q, in_passage, body)
    return out


class _TermWeights:
    """A term's weight among these sentences: its IDF, times how few of them contain it."""

    def __init__(self, sentences: Sequence[str], idf: Callable[[str], float], in_title: set[str], asked: str = ""):
        # a sentence that spells out an abbreviation the question uses (or the reverse) has its term
        self.tokens = [set(tokenize(s)) | abbreviation_terms(asked, s) for s in sentences]
        self.idf, self.in_title, self.n = idf, in_title, len(sentences)
        self.sf: dict[str, int] = {}
        for ts in self.tokens:
            for t in ts:
                self.sf[t] = self.sf.get(t, 0) + 1

    def weight(self, t: str) -> float:
        """What missing the term costs."""
        w, n = self.idf(t), self.n
        if n > 1:  # a term in many of this abstract's sentences tells them apart less
            w *= math.log((n + 1) / (self.sf.get(t, 0) + 0.5)) / math.log((n + 1) / 0.5)
        return w

    def matters(self, t: str) -> float:
        """What matching the term is worth: less for a word of the title or a name the question uses."""
        return self.weight(t) * (TITLE if t in self.in_title else 1.0)


def _clause_scores(
    sentences: Sequence[str], c: Clause, q: Question, w: _TermWeights, vectors: np.ndarray | None, body: bool
) -> np.ndarray:
    """Terms + meaning + cue of each sentence for one clause."""
    n = len(sentences)
    own = {t: w.matters(t) for t in set(c.tokens)}
    # the rest of the question says what the clause is about ("How large is it?": what is)
    rest = {t: w.matters(t) for d in q.clauses if d is not c for t in d.tokens if t not in own}
    ctx = {t: w.matters(t) for t in set(q.context) - set(own) - set(rest)}
    base = np.zeros(n)
    for terms, share in ((own, 1.0), (rest, OTHER_CLAUSES), (ctx, CONTEXT)):
        total = sum(w.weight(t) for t in terms)
        if total > 0 and share > 0:
            matched = np.array([sum(v for t, v in terms.items() if t in w.tokens[i]) for i in range(n)])
            base += W_TERMS * share * matched / total
    if vectors is not None and c.vector is not None and len(vectors):
        base += W_MEANING * (np.asarray(vectors) @ c.vector)
    for i in range(1, n):
        if cues.CONTINUES.match(sentences[i]):
            base[i] = max(base[i], CARRY * base[i - 1])
    wanted = c.cues if body else c.cues - cues.BODY_CUES
    for i, s in enumerate(sentences):
        if any(cues.CUES[name][1].search(s) for name in wanted):
            base[i] += W_CUE
    return base


def _placement(out: np.ndarray, sentences: Sequence[str], q: Question, in_passage: Sequence[bool], body: bool) -> None:
    """Where a sentence stands: inside the passage retrieval matched (up), an abstract's
    opening context or earlier work, a code notice, already shown (down)."""
    asked = " ".join(c.text for c in q.clauses)
    # An abstract opens with context (the field, the problem) before its first "we"/"this
    # paper": those sentences answer what was asked only when it asks about the problem.
    opening = next((i for i, s in enumerate(sentences) if cues.FIRST_PERSON.search(s)), 0)
    earlier = body or bool(cues.ASKS_EARLIER.search(asked))
    for i, s in enumerate(sentences):
        if i < len(in_passage) and in_passage[i]:
            out[i] += W_PASSAGE
        if not earlier and (i < opening or (cues.BACKGROUND.search(s) and not cues.FIRST_PERSON.search(s))):
            out[i] -= OFF_TOPIC
        if cues.NOTICE.search(s) and not cues.ASKS_CODE.search(asked):
            out[i] -= OFF_TOPIC
        if body and cues.CAPTION.match(s) and not cues.ASKS_FIGURE.search(asked):
            out[i] -= OFF_TOPIC
        if body and cues.looks_like_code(s) and not cues.ASKS_CODE.search(asked):
            out[i] -= OFF_TOPIC
        if q.seen and norm(s) in q.seen:
            out[i] -= SEEN


def choose(scores: np.ndarray, n: int, asks: Sequence[bool] = (), first: Sequence[int] = ()) -> list[int]:
    """Up to `n` sentence indices in the order the answer shows them: the best sentence
    for the clauses in `first` (the ones asking for a detail; all clauses when empty),
    then the best sentence of each other clause that asks something (it answers another
    part of the question), then runners-up scoring at least KEEP of the best (a weaker
    sentence would only dilute the answer)."""
    if not scores.size:
        return []
    best = scores.max(axis=1)
    lead_cols = list(first) or list(range(scores.shape[1]))
    lead = int(scores[:, lead_cols].max(axis=1).argmax())
    picked = [lead]
    for j in np.argsort(-scores.max(axis=0)):  # the other clauses, the best answered first
        if len(picked) >= n or not (asks[j] if j < len(asks) else True):
            continue
        column = scores[:, j]
        if int(column.argmax()) in picked:  # answered already, unless another sentence answers it about as well
            rest = [i for i in np.argsort(-column) if i not in picked]
            if rest and column[rest[0]] >= KEEP * column.max():
                picked.append(int(rest[0]))
        else:
            picked.append(int(column.argmax()))
    floor = KEEP * best.max()
    for i in np.argsort(-best):
        if len(picked) < n and int(i) not in picked and best[i] >= floor:
            picked.append(int(i))
    return picked


def pick_sentences(
    abstract: str,
    q: Question,
    idf: Callable[[str], float],
    n: int,
    *,
    favoured: tuple[int, int] | None = None,
    vectors: Callable[[list[str]], np.ndarray] | None = None,
    title: str = "",
) -> list[tuple[int, int]]:
    """The `n` (at most) best sentence spans of an abstract for a question, best first."""
    spans = sentence_spans(abstract) or [(0, len(abstract))]
    scores = sentence_scores(abstract, spans, q, idf, favoured=favoured, vectors=vectors, title=title)
    return [spans[i] for i in choose(scores, n, q.asks, q.details)]


def sentence_scores(
    abstract: str,
    spans: list[tuple[int, int]],
    q: Question,
    idf: Callable[[str], float],
    *,
    favoured: tuple[int, int] | None = None,
    vectors: Callable[[list[str]], np.ndarray] | None = None,
    title: str = "",
    body: bool = False,
) -> np.ndarray:
    """score_sentences for the sentences at `spans` of an abstract (or, `body`, a body
    passage); `favoured` is the passage the dense retriever matched, `vectors` gives
    sentence vectors (SentenceVectors)."""
    texts = [abstract[s:e] for s, e in spans]
    inside = [bool(favoured) and s >= favoured[0] and e <= favoured[1] for s, e in spans]
    vecs = vectors(texts) if vectors is not None else None
    return score_sentences(texts, q, idf, vecs, in_passage=inside, title=title, body=body)
