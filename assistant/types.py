"""Plain result types: Paper -> Passage -> Hit -> Citation -> Answer, and IngestReport."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

Message = dict[str, str]  # {"role": "user" | "assistant", "content": "..."} (OpenAI / Gradio messages)


@dataclass(frozen=True)
class Paper:
    id: str
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    url: str = ""
    code_url: str = ""

    def content_hash(self) -> str:
        """Hash of everything stored for the paper: a change means re-embedding it."""
        payload = json.dumps([self.title, self.abstract, list(self.authors), self.year, self.url, self.code_url])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["authors"] = list(self.authors)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Paper":
        return cls(
            id=d["id"], title=d["title"], abstract=d["abstract"], authors=tuple(d.get("authors") or ()),
            year=d.get("year"), url=d.get("url") or "", code_url=d.get("code_url") or "",
        )


@dataclass(frozen=True)
class Passage:
    """A chunk of one paper's abstract; `start`/`end` are character offsets in the abstract."""

    paper_id: str
    index: int
    text: str
    start: int
    end: int

    @property
    def id(self) -> str:
        return f"{self.paper_id}::{self.index}"


@dataclass
class Hit:
    """One retrieved paper: its best passage and the fused relevance score."""

    paper: Paper
    text: str
    score: float
    passage_index: int = 0
    # Per-signal evidence, kept for explanations and the evaluation report.
    signals: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"paper": self.paper.to_dict(), "text": self.text, "score": round(self.score, 4),
                "passage_index": self.passage_index, "signals": {k: round(v, 4) for k, v in self.signals.items()}}


@dataclass
class Citation:
    number: int
    paper: Paper
    quote: str  # the supporting passage, verbatim from the paper's abstract
    # (start, end) offsets in the abstract of the sentences the answer uses (for highlighting)
    spans: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "paper": self.paper.to_dict(), "quote": self.quote,
                "spans": [list(s) for s in self.spans]}


@dataclass
class Dropped:
    """A sentence an LLM wrote that the answer does not show, and why."""

    text: str
    reason: str


@dataclass
class Verification:
    """How the sentences of an LLM answer fared in citation verification: `sentences` the
    model wrote (each claim before a citation counts as one), `verified` shown."""

    sentences: int = 0
    verified: int = 0
    dropped: list[Dropped] = field(default_factory=list)

    def summary(self) -> str:
        """E.g. "2 of 3 sentences verified; not shown: 'It uses iGPT-2' (names iGPT-2, ...)"."""
        s = f"{self.verified} of {self.sentences} sentence{'s' if self.sentences != 1 else ''} verified"
        if self.dropped:
            s += "; not shown: " + "; ".join(f"\"{_short(d.text)}\" ({d.reason})" for d in self.dropped)
        return s

    def to_dict(self) -> dict[str, Any]:
        return {"sentences": self.sentences, "verified": self.verified, "dropped": [asdict(d) for d in self.dropped]}


def _short(text: str, words: int = 12) -> str:
    w = text.split()
    return " ".join(w[:words]) + (" ..." if len(w) > words else "")


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    covered: bool
    hits: list[Hit]
    backend: str = "extractive"
    model: str = ""
    fallback: str = ""  # why the configured LLM was not used for this answer; "" when it was
    standalone_question: str = ""  # the question as retrieval saw it (follow-ups are condensed)
    # What the LLM wrote and what verification kept of it (None for answers no LLM wrote).
    verification: Verification | None = None

    def references(self) -> str:
        """The numbered reference list, one line per citation."""
        lines = []
        for c in self.citations:
            extra = f" {c.paper.url}" if c.paper.url else ""
            lines.append(f"[{c.number}] {c.paper.title}{extra}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The answer, a note when the configured LLM was not used, and the reference list."""
        from .answer import title_md  # paper titles are data: escaped, never markup

        refs = "\n".join(
            f"{c.number}. **{title_md(c.paper.title)}**" + (f" — <{c.paper.url}>" if c.paper.url else "")
            + (f" (code: <{c.paper.code_url}>)" if c.paper.code_url else "")
            for c in self.citations
        )
        note = f"\n\n_Note: {title_md(self.fallback)}_" if self.fallback else ""
        if not self.fallback and self.verification and self.verification.dropped:
            note = f"\n\n_Note: {title_md(self.verification.summary())}_"
        return self.text + note + ("\n\n**References**\n\n" + refs if refs else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question, "text": self.text, "covered": self.covered,
            "citations": [c.to_dict() for c in self.citations], "hits": [h.to_dict() for h in self.hits],
            "backend": self.backend, "model": self.model, "fallback": self.fallback,
            "standalone_question": self.standalone_question,
            "verification": self.verification.to_dict() if self.verification else None,
        }


@dataclass(frozen=True)
class Rejection:
    record: str  # where in the file: "line 3", "record 7", "row 12"
    reason: str


@dataclass
class IngestReport:
    source: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    passages_embedded: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.added or self.updated or self.unchanged)

    def summary(self) -> str:
        s = (f"{self.source}: {len(self.added)} added, {len(self.updated)} updated, "
             f"{len(self.unchanged)} unchanged, {len(self.rejected)} rejected "
             f"({self.passages_embedded} passages embedded in {self.seconds:.1f}s)")
        return s

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": [asdict(r) for r in self.rejected], "passages_embedded": self.passages_embedded,
                "seconds": round(self.seconds, 3)}
