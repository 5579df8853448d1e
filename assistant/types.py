"""Plain result types: Paper -> Passage -> Hit -> Citation -> Answer, and IngestReport."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from . import references
from .text import md_title

Message = dict[str, str]  # {"role": "user" | "assistant", "content": "..."} (OpenAI / Gradio messages)


@dataclass(frozen=True)
class Paper:
    id: str
    title: str
    abstract: str  # "" for a record read without one (common in BibTeX): indexed from its metadata
    authors: tuple[str, ...] = ()
    year: int | None = None
    url: str = ""
    code_url: str = ""
    # Bibliographic metadata read from the user's library (all optional).
    venue: str = ""            # journal, proceedings or repository
    doi: str = ""              # "10.1234/abc", no resolver prefix
    arxiv_id: str = ""         # "2401.01234" or "hep-th/9901001"
    key: str = ""              # citation key (BibTeX key, CSL citation-key)
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()  # folders / groups in the reference manager
    pdf_path: str = ""         # a local PDF attachment
    bibtex: str = ""           # the user's own BibTeX entry, exported as it was written

    def content_hash(self) -> str:
        """Hash of everything stored for the paper: a change means re-embedding it.

        The metadata fields join the hash only when set, so a paper with only the original
        fields hashes exactly as it always did (existing indexes are not re-embedded)."""
        payload: list[Any] = [self.title, self.abstract, list(self.authors), self.year, self.url, self.code_url]
        extra = self._metadata()
        if extra:
            payload.append(extra)
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:16]

    def _metadata(self) -> dict[str, Any]:
        """The metadata fields that are set, lists as lists."""
        out: dict[str, Any] = {}
        for name in _METADATA_FIELDS:
            value = getattr(self, name)
            if value:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        """The original fields always; metadata fields only when set (old readers see no change)."""
        d = {"id": self.id, "title": self.title, "abstract": self.abstract, "authors": list(self.authors),
             "year": self.year, "url": self.url, "code_url": self.code_url}
        d.update(self._metadata())
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Paper:
        return cls(
            id=d["id"], title=d["title"], abstract=d["abstract"], authors=tuple(d.get("authors") or ()),
            year=d.get("year"), url=d.get("url") or "", code_url=d.get("code_url") or "",
            venue=d.get("venue") or "", doi=d.get("doi") or "", arxiv_id=d.get("arxiv_id") or "",
            key=d.get("key") or "", tags=tuple(d.get("tags") or ()), collections=tuple(d.get("collections") or ()),
            pdf_path=d.get("pdf_path") or "", bibtex=d.get("bibtex") or "",
        )


_METADATA_FIELDS = ("venue", "doi", "arxiv_id", "key", "tags", "collections", "pdf_path", "bibtex")


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

    def to_markdown(self) -> str:
        """The answer, a note when the configured LLM was not used, and the reference list."""
        refs = "\n".join(reference_markdown(c) for c in self.citations)
        note = f"\n\n_Note: {md_title(self.fallback)}_" if self.fallback else ""
        if not self.fallback and self.verification and self.verification.dropped:
            note = f"\n\n_Note: {md_title(self.verification.summary())}_"
        return self.text + note + ("\n\n**References**\n\n" + refs if refs else "")

    # -- references out (assistant/references.py) ----------------------------------------------
    def references_bibtex(self) -> str:
        """The cited papers as a .bib file: a paper read from the user's .bib as they wrote it
        (key kept), others as a generated entry."""
        return references.to_bibtex([c.paper for c in self.citations])

    def references_csl(self) -> str:
        """The cited papers as CSL JSON (Zotero, Pandoc, citeproc)."""
        return references.to_csl_json([c.paper for c in self.citations])

    def references_ris(self) -> str:
        """The cited papers as RIS (EndNote, Mendeley, Zotero)."""
        return references.to_ris([c.paper for c in self.citations])

    def text_with_citations(self, style: str = "latex") -> str:
        """The answer with [n] markers as \\cite{key} ("latex") or [@key] ("pandoc"), keys
        matching references_bibtex()."""
        return references.cite_markers(self.text, {c.number: c.paper for c in self.citations}, style=style)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question, "text": self.text, "covered": self.covered,
            "citations": [c.to_dict() for c in self.citations], "hits": [h.to_dict() for h in self.hits],
            "backend": self.backend, "model": self.model, "fallback": self.fallback,
            "standalone_question": self.standalone_question,
            "verification": self.verification.to_dict() if self.verification else None,
        }


def reference_markdown(c: Citation) -> str:
    """One numbered reference as Markdown: the title (data, escaped) and its links."""
    return (f"{c.number}. **{md_title(c.paper.title)}**" + (f" — <{c.paper.url}>" if c.paper.url else "")
            + (f" (code: <{c.paper.code_url}>)" if c.paper.code_url else ""))


def reference_line(c: Citation) -> str:
    """One numbered reference as plain text (a terminal)."""
    return (f"[{c.number}] {c.paper.title}" + (f"  {c.paper.url}" if c.paper.url else "")
            + (f"  (code: {c.paper.code_url})" if c.paper.code_url else ""))


@dataclass(frozen=True)
class LoadWarning:
    """A record that was kept with something left out: `kind` is "no_abstract" or "field"."""

    record: str
    paper_id: str
    kind: str
    message: str


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
    warnings: list[LoadWarning] = field(default_factory=list)  # kept, with something left out
    passages_embedded: int = 0
    seconds: float = 0.0
    format: str = ""  # the file's format (assistant.formats.FORMAT_NAMES key)

    @property
    def ok(self) -> bool:
        return bool(self.added or self.updated or self.unchanged)

    @property
    def no_abstract(self) -> list[str]:
        """Ids of papers kept without an abstract (indexed from their title and metadata)."""
        return [w.paper_id for w in self.warnings if w.kind == "no_abstract"]

    def summary(self) -> str:
        s = (f"{self.source}: {len(self.added)} added, {len(self.updated)} updated, "
             f"{len(self.unchanged)} unchanged, {len(self.rejected)} rejected "
             f"({self.passages_embedded} passages embedded in {self.seconds:.1f}s)")
        if self.no_abstract:
            s += f"; {len(self.no_abstract)} without an abstract (found by title and metadata only)"
        return s

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "format": self.format, "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": [asdict(r) for r in self.rejected],
                "warnings": [asdict(w) for w in self.warnings], "no_abstract": self.no_abstract,
                "passages_embedded": self.passages_embedded, "seconds": round(self.seconds, 3)}
