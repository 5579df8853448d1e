"""One answer's inputs, read once: the question as sentence choice reads it, the retrieval,
and where quotes come from.  Every step of an answer (plan, extractive text, an LLM's
sources) takes this instead of threading the same values through its parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from assistant.answering.sentences import Question
from assistant.retrieval.search import Retrieval
from assistant.types import Hit, Message, Passage


class Quotes(Protocol):
    """Where an answer quotes each hit from (answering/passages.py: `Focus` for the index)."""

    def __call__(self, hit: Hit) -> Hit: ...  # the hit with the passage that best answers the question

    def span(self, hit: Hit) -> tuple[int, int] | None: ...  # the abstract span retrieval matched

    def nearby(self, hit: Hit) -> list[Passage]: ...  # the passages an answer may quote (body, and the abstract's)


class AsRetrieved:
    """Quotes from the passages retrieval chose, as they are (papers with no stored body)."""

    def __call__(self, hit: Hit) -> Hit:
        return hit

    def span(self, hit: Hit) -> tuple[int, int] | None:
        p = hit.passage
        return None if p is None or p.in_body else (p.start, p.end)

    def nearby(self, hit: Hit) -> list[Passage]:
        return [hit.passage] if hit.passage is not None else []


@dataclass
class Plan:
    """What an answer will cite: hits in citation order (number = position + 1)."""

    hits: list[Hit]
    list_question: bool
    spans: list[list[tuple[int, int]]] = field(default_factory=list)  # per hit, its sentences best first
    # per hit, the body passage its spans index into (None: the abstract)
    passages: list[Passage | None] = field(default_factory=list)
    weak: bool = False  # a list question no paper backs (SUPPORT): the hits are the closest, not matches
    # per hit, a sentence of another of its passages quoted too (plan.quotable's `also`), or None
    also: list[tuple[Passage, tuple[int, int]] | None] = field(default_factory=list)


@dataclass
class AnswerContext:
    question: str  # as the user typed it
    read: Question  # as sentence choice reads it (sentences.read_question)
    idf: Callable[[str], float]  # the collection's term weights
    retrieval: Retrieval | None = None
    history: list[Message] | None = None
    vectors: Callable[[list[str]], np.ndarray] | None = None  # sentence vectors (sentences.SentenceVectors)
    quotes: Quotes = field(default_factory=AsRetrieved)
    plan: Plan | None = None  # the papers and sentences it cites, once chosen (answerer.Answerer.plan)
    # per paper, the passages its quotes were chosen from, best first by their best sentence's score
    weighed: dict[str, list[Passage]] = field(default_factory=dict)
