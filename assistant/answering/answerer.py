"""From a question to an Answer: retrieval, then the extractive answer or an LLM's (its
citations checked as it streams; any fault gives the extractive answer, marked)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from assistant.answering import generation
from assistant.answering.context import AnswerContext, Plan
from assistant.answering.extractive import extractive, not_covered, unmentioned_detail
from assistant.answering.metadata import metadata_answer
from assistant.answering.passages import Focus, PassageTerms
from assistant.answering.plan import answer_plan
from assistant.answering.sentences import SentenceVectors, read_question
from assistant.index import Store
from assistant.llm import LLM, LLMError
from assistant.retrieval.query import asks_metadata, condense
from assistant.retrieval.search import Retrieval, Searcher
from assistant.settings import Settings
from assistant.types import Answer, Message, Passage


class AnswerStream:
    """Iterate to get the answer text as it is produced; `.answer` holds the final Answer.

    While an LLM writes, a piece may be "" (tokens arrived that the citation check still
    holds back): `.status` then says what is under way, so a reader can show progress."""

    def __init__(self, pieces: Iterator[str], finish: Callable[[], Answer], status: Callable[[], str] = lambda: ""):
        self._pieces = pieces
        self._finish = finish
        self._status = status
        self.answer: Answer | None = None

    @property
    def status(self) -> str:
        """What is under way ("" once the answer is done, and for an extractive answer)."""
        return "" if self.answer is not None else self._status()

    def __iter__(self) -> Iterator[str]:
        yield from self._pieces
        self.answer = self._finish()


@dataclass(frozen=True)
class Ask:
    """One question as asked: the words typed (checked), the conversation so far, how many
    papers to retrieve and which ones may be used (None: all)."""

    question: str
    history: list[Message] | None = None
    k: int | None = None
    allowed: set[str] | None = None


@dataclass(frozen=True)
class Reading:
    """What answers read papers with, shared by every view of an assistant: the index, the
    embedding model, and the caches of sentence vectors and passage terms."""

    store: Store
    embedder: Any
    sentence_vectors: SentenceVectors
    passage_terms: PassageTerms


class Answerer:
    """Answers questions with these settings, this search and this LLM (None: extractive);
    `no_llm_reason` marks every answer as extractive for that reason (a rate limit)."""

    def __init__(self, settings: Settings, searcher: Searcher, reading: Reading, llm: LLM | None, no_llm_reason=""):
        self.settings, self.searcher, self.reading = settings, searcher, reading
        self.llm, self.no_llm_reason = llm, no_llm_reason

    def stream(self, ask: Ask, done: Callable[[Answer], Any] = lambda a: None) -> AnswerStream:
        """The answer as it is produced.  With an LLM a follow-up is first rewritten into a
        standalone question, then retrieval, then the model's tokens; `done` hears the final Answer."""
        query, problem, timings = self._condense(ask)
        r = self.searcher.run(
            ask.question, query or condense(ask.question, ask.history), ask.k or self.settings.top_k, ask.allowed
        )
        r.timings.update(timings)
        fields = asks_metadata(ask.question) if r.covered and r.hits else []
        if fields:  # about the paper's record, not its text: the record answers
            ans = self.from_record(ask, r, fields)
            return AnswerStream(iter(_chunks(ans.text)), lambda: self._finished(ans, done))
        if self.llm is None or problem or not r.covered:  # the gate refused: no LLM call to make
            ans = self.extractive(ask, r)
            if problem and r.covered:
                ans = generation.fallback(ans, problem)
            return AnswerStream(iter(_chunks(ans.text)), lambda: self._finished(ans, done))
        gen = self.generation(self.context(ask, r))
        return AnswerStream(gen.pieces(), lambda: self._finished(gen.answer, done), gen.status)

    def _condense(self, ask: Ask) -> tuple[str | None, str, dict[str, float]]:
        """The LLM's standalone rewrite of a follow-up (None: the rules' own), and why it failed."""
        model = self.llm
        if model is None or not ask.history or not generation.use_llm_condense(model, self.settings):
            return None, "", {}
        t = time.perf_counter()
        try:
            query, problem = generation.condense(model, ask.question, ask.history, self.settings) or None, ""
        except LLMError as e:
            query, problem = None, f"the {model.name} backend failed: {e.cause}"
        return query, problem, {"condense": time.perf_counter() - t}

    def context(self, ask: Ask, r: Retrieval) -> AnswerContext:
        """The answer's context: the question read once (a follow-up's own words choose the
        sentences; the conversation's terms only break ties) and where quotes come from."""
        emb, reading = self.reading.embedder, self.reading
        follow = r.query_tokens if r.query != ask.question else []
        return AnswerContext(
            question=ask.question,
            read=read_question(ask.question, ask.history, emb.embed_query, follow, emb.embed),
            idf=reading.store.term_stats.idf,
            retrieval=r,
            history=ask.history,
            vectors=reading.sentence_vectors,
            quotes=Focus(reading.store, emb, ask.question, reading.passage_terms),
        )

    def plan(self, ctx: AnswerContext) -> Plan:
        """The papers and sentences the answer cites, chosen once per answer."""
        if ctx.plan is None:
            ctx.plan = answer_plan(ctx, self.settings.answer_papers)
        return ctx.plan

    def extractive(self, ask: Ask, r: Retrieval, ctx: AnswerContext | None = None) -> Answer:
        t = time.perf_counter()
        evidence = []
        if not r.covered:
            text, citations = not_covered(r.hits, unmentioned_detail(r.hits, r.unmentioned)), []
        else:
            ctx = ctx or self.context(ask, r)
            text, citations = extractive(self.plan(ctx))
            evidence = self.evidence(ctx)
        r.timings["answer"] = time.perf_counter() - t
        return Answer(
            evidence=evidence,
            question=ask.question,
            text=text,
            citations=citations,
            covered=r.covered,
            hits=r.hits,
            backend="extractive",
            standalone_question=r.query,
        )

    def from_record(self, ask: Ask, r: Retrieval, fields: list[str]) -> Answer:
        """The answer to a question about the best paper's record (authors, year, venue, DOI)."""
        paper = r.hits[0].paper
        text, citations = metadata_answer(paper, fields)
        return Answer(
            question=ask.question,
            text=text,
            citations=citations,
            covered=True,
            hits=r.hits,
            backend="extractive",
            standalone_question=r.query,
        )

    def evidence(self, ctx: AnswerContext) -> list[Passage]:
        """The passages an extractive answer chose from, best first: each cited paper's best
        passage and the others it weighed, then the other hits' passages."""
        out: dict[str, Passage] = {}
        planned = self.plan(ctx).hits
        for hit in planned:
            best = hit.passage
            around = ctx.quotes.nearby(hit) if best is not None and best.in_body else []
            for p in [best, *around]:
                if p is not None:
                    out.setdefault(p.id, p)
        cited = {h.paper.id for h in planned}
        for hit in ctx.retrieval.hits:
            if hit.paper.id not in cited and hit.passage is not None:
                out.setdefault(hit.passage.id, hit.passage)
        return list(out.values())

    def generation(self, ctx: AnswerContext) -> generation.Generation:
        """The LLM answer for a retrieval the gate let through."""
        model, s, r = self.llm, self.settings, ctx.retrieval
        sources = generation.select_sources(ctx, self.plan(ctx).hits, model.name, s)
        local = generation.compact(model, s)
        messages = generation.answer_messages(ctx.question, ctx.history, sources, local=local)
        base = Answer(
            question=ctx.question,
            text="",
            citations=[],
            covered=True,
            hits=r.hits,
            backend=model.name,
            model=model.model,
            standalone_question=r.query,
            evidence=[p for p in (src.passage or src.hit.passage for src in sources) if p is not None],
        )
        return generation.Generation(
            model,
            messages,
            sources,
            s,
            base=base,
            extractive=lambda: self.extractive(Ask(ctx.question, ctx.history), r, ctx),
            timings=r.timings,
            supports=generation.support_check(sources, s, ctx.idf),
        )

    def _finished(self, ans: Answer, done: Callable[[Answer], Any]) -> Answer:
        if self.no_llm_reason and ans.covered:
            ans = generation.fallback(ans, self.no_llm_reason)
        done(ans)
        return ans


def _chunks(text: str) -> Iterator[str]:
    """A finished text in word-sized pieces, for streaming interfaces."""
    start = 0
    for i, ch in enumerate(text):
        if ch in " \n" and i + 1 - start >= 1:
            yield text[start : i + 1]
            start = i + 1
    if start < len(text):
        yield text[start:]
