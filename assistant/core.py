"""PaperAssistant: the public API that the CLI, the web UI and the benchmarks all use."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from . import answer as answers
from . import focus
from . import generate
from . import llm as llms
from .embedding import MiniLMEmbedding
from .keyword import specificity, tokenize
from .papers import CollectionError, LoadResult, load_papers, normalize_record
from .retrieve import Fused, condense, dense_query, fuse, named_terms, relevance, term_coverage
from .settings import Settings
from .store import Store
from .types import Answer, Hit, IngestReport, Message, Paper, Rejection

log = logging.getLogger(__name__)


class QuestionError(ValueError):
    """The question cannot be answered as asked (empty, too long)."""


@dataclass
class Retrieval:
    """Everything one retrieval produced (hits are the top-k, fused over all candidates)."""

    query: str
    query_tokens: list[str]
    hits: list[Hit]
    relevance: float
    covered: bool
    timings: dict[str, float] = field(default_factory=dict)


class AnswerStream:
    """Iterate to get the answer text as it is produced; `.answer` holds the final Answer."""

    def __init__(self, pieces: Iterator[str], finish):
        self._pieces = pieces
        self._finish = finish
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._pieces
        self.answer = self._finish()


class PaperAssistant:
    """Ask questions about a collection of papers; every claim is cited.

    >>> pa = PaperAssistant()                      # bundled collection, built on first use
    >>> pa.search("reduce hallucination at decoding time", k=5)
    >>> pa.ask("Which work aligns a frozen GPT-2 with CLIP?").text
    """

    def __init__(self, settings: Settings | None = None, *, allow_broken_index: bool = False, **overrides: Any):
        self.settings = settings.with_(**overrides) if settings and overrides else (settings or Settings.load(**overrides))
        cache = Path(self.settings.model_cache or Path(self.settings.index_dir) / "_models")
        self.embedder = MiniLMEmbedding(cache_dir=cache, batch_size=self.settings.embed_batch)
        self.store = Store(self.settings, self.embedder, allow_broken=allow_broken_index)
        self.sentence_vectors = focus.SentenceVectors(self._embed_sentences)  # answers score abstract sentences
        self.last_answer: Answer | None = None
        self._lock = threading.Lock()
        self._llm_for: tuple[Settings, llms.LLM | None] | None = None  # the backend, made for these settings
        if not self.store.problem and not self.store.snapshot.papers and self.settings.collection:
            report = self.add_papers(self.settings.collection)
            log.info("built the index: %s", report.summary())

    def using(self, **changes: Any) -> "PaperAssistant":
        """A view with other answer settings (backend, model, key, top_k...) that shares this
        assistant's index and embedding model: the web UI uses one per session, so a key
        typed into one browser never reaches another.  Settings that shape the index
        (embed_model, chunk_words, index_dir, chroma_url) cannot change here."""
        fixed = {"embed_model", "chunk_words", "index_dir", "chroma_url", "model_cache", "collection"}
        bad = sorted(fixed & set(changes))
        if bad:
            raise ValueError(f"{', '.join(bad)} shape the index; open another PaperAssistant for them")
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view.settings = self.settings.with_(**changes)
        view.last_answer = None
        view._llm_for = None  # the view's own backend: its key stays with it
        return view

    # -- collection ---------------------------------------------------------------------------
    @property
    def papers(self) -> list[Paper]:
        self.store.maybe_sync()  # with a Chroma server: papers other processes added or removed
        return list(self.store.snapshot.papers.values())

    def paper(self, paper_id: str) -> Paper:
        self.store.maybe_sync()
        try:
            return self.store.snapshot.papers[paper_id]
        except KeyError:
            raise KeyError(f"no paper with id {paper_id!r} in the collection") from None

    def add_papers(self, source: str | Path | Iterable[dict | Paper], progress=None, strict: bool = False) -> IngestReport:
        """Add or update papers from a file (papers-page text, JSONL, JSON, CSV) or records.

        Unchanged papers are skipped without embedding; changed ones replace their old
        passages.  A file that cannot be read raises CollectionError and changes nothing.
        Bad records are rejected (listed in the report) and the valid ones added; with
        `strict=True` any bad record raises CollectionError and nothing is added.
        """
        t0 = time.perf_counter()
        if isinstance(source, (str, Path)):
            s = self.settings
            loaded = load_papers(source, max_mb=s.max_file_mb, max_records=s.max_records,
                                 max_abstract_chars=s.max_abstract_chars)
            name = Path(source).name
        else:
            loaded, name = self._records(source), "records"
        if strict and loaded.rejected:
            shown = "; ".join(f"{r.record}: {r.reason}" for r in loaded.rejected[:5])
            more = f" (and {len(loaded.rejected) - 5} more)" if len(loaded.rejected) > 5 else ""
            raise CollectionError(f"{name}: {len(loaded.rejected)} bad record(s), nothing added (strict): {shown}{more}")
        report = IngestReport(source=name, rejected=list(loaded.rejected))
        hashes = self.store.snapshot.hashes
        todo = []
        for p in loaded.papers:
            old = hashes.get(p.id)
            if old == p.content_hash():
                report.unchanged.append(p.id)
            else:
                (report.updated if old else report.added).append(p.id)
                todo.append(p)
        report.passages_embedded = self.store.upsert(todo, progress=progress)
        report.seconds = time.perf_counter() - t0
        return report

    def _records(self, records: Iterable[dict | Paper]) -> LoadResult:
        result = LoadResult()
        seen = set()
        for i, r in enumerate(records, 1):
            try:
                p = r if isinstance(r, Paper) else normalize_record(r, self.settings.max_abstract_chars)
            except ValueError as e:
                result.rejected.append(Rejection(f"record {i}", str(e)))
                continue
            if p.id in seen:
                result.rejected.append(Rejection(f"record {i}", f"duplicate id {p.id!r}"))
                continue
            seen.add(p.id)
            result.papers.append(p)
        return result

    def remove_papers(self, ids: Iterable[str]) -> list[str]:
        """Remove papers (passages, keyword entries and records); returns the ids removed."""
        return self.store.remove(ids)

    def reindex(self, progress=None) -> int:
        """Re-embed every stored paper (repairs an index whose vector store was lost)."""
        return self.store.reindex(progress=progress)

    # -- retrieval ----------------------------------------------------------------------------
    def _check(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise QuestionError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(f"the question is {len(question)} characters long; the limit is "
                                f"{self.settings.max_question_chars} (setting max_question_chars)")
        if self.store.problem:
            from .store import IndexError_

            raise IndexError_(self.store.problem)
        return " ".join(question.split())

    def retrieve(self, question: str, history: list[Message] | None = None, k: int | None = None,
                 paper_ids: Iterable[str] | None = None, query: str | None = None, *,
                 weights: dict[str, float] | None = None) -> Retrieval:
        """Search with everything it produced.  `weights` overrides the fusion weights of the
        three views (retrieve.WEIGHTS) for this call: bench/fusion_weights.py compares them."""
        question = self._check(question)
        self.store.maybe_sync()
        k = k or self.settings.top_k
        snap = self.store.snapshot
        allowed = set(paper_ids) & set(snap.papers) if paper_ids is not None else None
        query = query or condense(question, history)
        timings: dict[str, float] = {}
        t = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal t
            now = time.perf_counter()
            timings[name] = now - t
            t = now

        if not snap.papers or allowed == set():
            return Retrieval(query, [], [], 0.0, False, timings)
        qvec = self.embedder.embed_query(dense_query(query))
        qtokens = tokenize(query)
        lap("embed")
        n = self.settings.candidates
        dense = self.store.dense_passages(qvec, n, allowed)
        dense_papers = self.store.dense_papers(qvec, n, allowed)
        lap("dense")
        keyword = snap.keyword.top(qtokens, n, allowed)
        lap("keyword")
        best_passage: dict[str, Any] = {}
        for d in dense:  # best first
            best_passage.setdefault(d.paper_id, d)
        fused = fuse({"passage": [(d.paper_id, d.similarity) for d in dense],
                      "paper": dense_papers, "keyword": keyword}, weights)
        fused = [f for f in fused if f.paper_id in snap.papers]  # skip passages of papers mid-ingest
        lap("fusion")
        hits = [self._hit(f, best_passage.get(f.paper_id), qtokens, snap) for f in fused[:k]]
        top_cos = max((d.similarity for d in dense), default=0.0)
        top_tokens = [set(tokenize(h.paper.title + " " + h.paper.abstract)) for h in hits[:3]]
        spec = specificity(query)
        coverage = max((term_coverage(qtokens, t, snap.keyword.idf, spec) for t in top_tokens), default=0.0)
        rare = max(3, len(snap.papers) // 50)  # a name a few papers mention, not a field-wide acronym
        named = {t for w in named_terms(question) for t in tokenize(w) if snap.keyword.df(t) <= rare}
        rel = relevance(top_cos, coverage, any(named & t for t in top_tokens))
        lap("gate")
        return Retrieval(query, qtokens, hits, rel, rel >= self.settings.min_relevance, timings)

    def _hit(self, f: Fused, dense_hit, qtokens: list[str], snap) -> Hit:
        paper = snap.papers[f.paper_id]
        if dense_hit is not None:
            text, index = dense_hit.text, dense_hit.passage_index
        else:  # found by keywords only: show the passage with most query terms
            passages = self.store.passages(paper)
            q = set(qtokens)
            best = max(passages, key=lambda p: len(q & set(tokenize(p.text))))
            text, index = best.text, best.index
        return Hit(paper=paper, text=text, score=f.score, passage_index=index, signals=f.signals)

    def as_retriever(self, k: int | None = None, paper_ids: Iterable[str] | None = None, gate: bool = True):
        """This search as a LlamaIndex retriever (assistant/retriever.py): one node per paper,
        nothing for a question the collection does not cover (unless gate=False)."""
        from .retriever import PaperRetriever

        return PaperRetriever(self, k=k, paper_ids=paper_ids, gate=gate)

    def search(self, question: str, k: int | None = None, history: list[Message] | None = None,
               paper_ids: Iterable[str] | None = None) -> list[Hit]:
        """The best papers for a question, best first, one Hit per paper."""
        return self.retrieve(question, history=history, k=k, paper_ids=paper_ids).hits

    # -- answers ------------------------------------------------------------------------------
    def ask(self, question: str, history: list[Message] | None = None, k: int | None = None,
            paper_ids: Iterable[str] | None = None) -> Answer:
        s = self.stream(question, history=history, k=k, paper_ids=paper_ids)
        for _ in s:
            pass
        return s.answer

    def stream(self, question: str, history: list[Message] | None = None, k: int | None = None,
               paper_ids: Iterable[str] | None = None) -> AnswerStream:
        """The answer as it is produced.  With an LLM backend: a follow-up is first rewritten
        into a standalone question by the LLM, then retrieval, then the model's tokens
        (citation-checked as they stream); any LLM fault gives the extractive answer, marked."""
        question = self._check(question)
        model = self._llm()
        timings: dict[str, float] = {}
        query, problem = None, ""
        if model is not None and history and generate.use_llm_condense(model, self.settings):
            t = time.perf_counter()
            try:
                query = generate.condense(model, question, history, self.settings) or None
            except llms.LLMError as e:
                problem = f"the {model.name} backend failed: {e.cause}"
            timings["condense"] = time.perf_counter() - t
        r = self.retrieve(question, history=history, k=k, paper_ids=paper_ids, query=query)
        r.timings.update(timings)
        if model is None or problem or not r.covered:  # the gate refused: no LLM call to make
            ans = self._extractive(question, r, history)
            if problem and r.covered:
                ans = generate.fallback(ans, problem)
            return AnswerStream(iter(_chunks(ans.text)), lambda: self._finished(ans))
        return self._generate(model, question, history, r)

    def _generate(self, model: "llms.LLM", question: str, history: list[Message] | None, r: Retrieval) -> AnswerStream:
        gen = self._generation(model, question, history, r)
        return AnswerStream(gen.pieces(), lambda: self._finished(gen.answer))

    def _generation(self, model: "llms.LLM", question: str, history: list[Message] | None, r: Retrieval,
                    small_model_prompt: bool | None = None) -> "generate.Generation":
        """The LLM answer for a retrieval (the benchmark calls it to compare prompts)."""
        q, plan = self._plan(question, history, r)
        sources = generate.select_sources(r.hits, plan.hits, model.name, self.settings, q, self.store.snapshot.keyword.idf,
                                          self._span, self.sentence_vectors)
        small = model.name == "local" if small_model_prompt is None else small_model_prompt
        messages = generate.answer_messages(question, history, sources, local=small)
        base = Answer(question=question, text="", citations=[], covered=True, hits=r.hits, backend=model.name,
                      model=model.model, standalone_question=r.query)
        supports = generate.support_check(sources, self.settings, self.store.snapshot.keyword.idf)
        return generate.Generation(model, question, messages, sources, self.settings, base,
                                   lambda: self._extractive(question, r, history), r.timings, supports)

    def _finished(self, ans: Answer) -> Answer:
        self.last_answer = ans
        return ans

    def _llm(self) -> "llms.LLM | None":
        """The backend for the current settings, made once (views get their own)."""
        if self._llm_for is None or self._llm_for[0] is not self.settings:
            self._llm_for = (self.settings, llms.create(self.settings))
        return self._llm_for[1]

    def _extractive(self, question: str, r: Retrieval, history: list[Message] | None = None) -> Answer:
        t = time.perf_counter()
        if not r.covered:
            text, citations = answers.not_covered(r.hits), []
        else:
            text, citations = answers.extractive(self._plan(question, history, r)[1])
        r.timings["answer"] = time.perf_counter() - t
        return Answer(question=question, text=text, citations=citations, covered=r.covered, hits=r.hits,
                      backend="extractive", standalone_question=r.query)

    def _plan(self, question: str, history: list[Message] | None, r: Retrieval) -> "tuple[focus.Question, answers.Plan]":
        # a follow-up's own words choose the sentences; the conversation's terms only break ties
        context = r.query_tokens if r.query != question else []
        return answers.answer_plan(question, history, r.hits, self.settings.answer_papers, self.store.snapshot.keyword.idf,
                                   self._span, self.embedder.embed_query, self.sentence_vectors, context,
                                   self.embedder.embed)

    def _embed_sentences(self, texts: list[str]):
        """Sentence vectors, kept in the index's embedding cache: each is computed once per index."""
        cache = self.store.cache
        return cache.embed(self.embedder, texts)[0] if cache is not None else self.embedder.embed(texts)

    def _span(self, hit: Hit) -> tuple[int, int] | None:
        for p in self.store.passages(hit.paper):
            if p.index == hit.passage_index:
                return (p.start, p.end)
        return None

    # -- reporting ----------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """Where answers come from: "extractive", "openai" or "local"."""
        return llms.select(self.settings)

    @property
    def llm(self) -> "llms.LLM | None":
        """The LLM backend of these settings (None for extractive); `llm.complete(prompt)`
        runs one plain prompt (the evaluation's answer-point grader uses it)."""
        return self._llm()

    @property
    def model(self) -> str:
        """The LLM answers come from ("" for extractive)."""
        model = self._llm()
        return model.model if model is not None else ""

    def info(self) -> dict[str, Any]:
        problem = llms.problem(self.settings)
        return {"backend": self.backend, "model": self.model, **({"backend_problem": problem} if problem else {}),
                "papers": len(self.store.snapshot.papers),
                "index": str(self.store.root), "embedding": self.settings.embed_model,
                "chroma": self.settings.chroma_url or "embedded"}

    @property
    def index_problem(self) -> str:
        """Why the index cannot serve searches ("" when it can); only set with allow_broken_index=True."""
        return self.store.problem

    # -- browsing (the web UI's papers view) --------------------------------------------------
    def similar(self, paper_id: str, k: int = 5) -> list[Hit]:
        """The `k` papers closest to `paper_id`, best first (itself excluded).

        Closeness is the cosine between the papers' mean passage vectors (the same paper-level
        vectors retrieval uses), so it needs no query.  Hit.score is that cosine and Hit.text the
        paper's opening passage.  An unknown id raises KeyError.
        """
        self.paper(paper_id)
        vec = self.store.paper_vectors([paper_id]).get(paper_id)
        if vec is None or k < 1:
            return []
        snap = self.store.snapshot
        hits = []
        for pid, cos in self.store.dense_papers(vec, k + 1):
            if pid == paper_id or pid not in snap.papers:
                continue
            p = snap.papers[pid]
            opening = self.store.passages(p)[0].text
            hits.append(Hit(paper=p, text=opening, score=cos, signals={"paper": cos}))
        return hits[:k]

    def select_ids(self, year_from: int | None = None, year_to: int | None = None,
                   author: str | None = None) -> list[str]:
        """Ids of the papers whose metadata passes every given filter (feed them to `paper_ids=`).

        Years are inclusive; a paper without a year fails a year filter.  `author` matches any
        author name case-insensitively as a substring ("hinton" matches "Geoffrey E. Hinton");
        a paper without authors fails it.  No filter given = every paper.
        """
        needle = " ".join((author or "").lower().split())
        out = []
        for p in self.store.snapshot.papers.values():
            if (year_from is not None or year_to is not None) and p.year is None:
                continue
            if year_from is not None and p.year < year_from:
                continue
            if year_to is not None and p.year > year_to:
                continue
            if needle and not any(needle in " ".join(a.lower().split()) for a in p.authors):
                continue
            out.append(p.id)
        return out


def _chunks(text: str) -> Iterator[str]:
    """Split a finished text into word-sized pieces for streaming interfaces."""
    start = 0
    for i, ch in enumerate(text):
        if ch in " \n" and i + 1 - start >= 1:
            yield text[start:i + 1]
            start = i + 1
    if start < len(text):
        yield text[start:]
