"""Plain result types: Paper -> Passage -> Hit -> Citation -> Answer, and IngestReport."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant import references
from assistant.text import md_title

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
    venue: str = ""  # journal, proceedings or repository
    doi: str = ""  # "10.1234/abc", no resolver prefix
    arxiv_id: str = ""  # "2401.01234" or "hep-th/9901001"
    key: str = ""  # citation key (BibTeX key, CSL citation-key)
    tags: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()  # folders / groups in the reference manager
    pdf_path: str = ""  # a local PDF attachment
    bibtex: str = ""  # the user's own BibTeX entry, exported as it was written
    # Full text (assistant/fulltext.py): the body is kept in passages, never here.
    pages: int = 0  # pages of the PDF whose text is indexed; 0 = abstract (and metadata) only
    text_hash: str = ""  # hash of the indexed PDF's bytes: an unchanged file is not read again
    abstract_page: int = 0  # the PDF page its abstract is printed on (0: no PDF, or not found in it)

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
        d = {
            "id": self.id,
            "title": self.title,
            "abstract": self.abstract,
            "authors": list(self.authors),
            "year": self.year,
            "url": self.url,
            "code_url": self.code_url,
        }
        d.update(self._metadata())
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Paper:
        return cls(
            id=d["id"],
            title=d["title"],
            abstract=d["abstract"],
            authors=tuple(d.get("authors") or ()),
            year=d.get("year"),
            url=d.get("url") or "",
            code_url=d.get("code_url") or "",
            venue=d.get("venue") or "",
            doi=d.get("doi") or "",
            arxiv_id=d.get("arxiv_id") or "",
            key=d.get("key") or "",
            tags=tuple(d.get("tags") or ()),
            collections=tuple(d.get("collections") or ()),
            pdf_path=d.get("pdf_path") or "",
            bibtex=d.get("bibtex") or "",
            pages=int(d.get("pages") or 0),
            text_hash=d.get("text_hash") or "",
            abstract_page=int(d.get("abstract_page") or 0),
        )

    @property
    def full_text(self) -> bool:
        """Whether the paper's body (from its PDF) is indexed, not only its abstract."""
        return self.pages > 0


_METADATA_FIELDS = (
    "venue",
    "doi",
    "arxiv_id",
    "key",
    "tags",
    "collections",
    "pdf_path",
    "bibtex",
    "pages",
    "text_hash",
    "abstract_page",
)


@dataclass(frozen=True)
class Passage:
    """A chunk of one paper's text.  An abstract passage (page None) has `start`/`end` offsets
    in the abstract; a body passage (from the PDF) has offsets in the document text
    (`PdfDocument.text`), the pages it runs over and the section it is in (None before the
    first heading).  The pages of a body passage are joined by a blank line ("\n\n") in
    `text`, as in the document, so `page_at` can tell the page of any offset in it."""

    paper_id: str
    index: int
    text: str
    start: int
    end: int
    page: int | None = None  # 1-based PDF page where the passage starts (None: abstract)
    end_page: int | None = None  # page where it ends
    section: str | None = None  # detected section heading

    @property
    def id(self) -> str:
        return f"{self.paper_id}::{self.index}"

    @property
    def in_body(self) -> bool:
        return self.page is not None

    def page_at(self, offset: int) -> int | None:
        """The page of an offset in `text` (None for an abstract passage)."""
        if self.page is None:
            return None
        return self.page + self.text.count(PAGE_BREAK, 0, max(0, offset))

    def page_part(self, offset: int) -> tuple[int, int]:
        """(start, end) in `text` of the part of the passage on the page of `offset`."""
        start = self.text.rfind(PAGE_BREAK, 0, offset)
        end = self.text.find(PAGE_BREAK, offset)
        return (0 if start < 0 else start + len(PAGE_BREAK)), (len(self.text) if end < 0 else end)


PAGE_BREAK = "\n\n"  # how PdfDocument.text joins pages (paragraphs are joined with "\n")


@dataclass
class Hit:
    """One retrieved paper: its best passage and the fused relevance score."""

    paper: Paper
    text: str
    score: float
    passage_index: int = 0
    # Per-signal evidence, kept for explanations and the evaluation report.
    signals: dict[str, float] = field(default_factory=dict)
    page: int | None = None  # PDF page where the best passage starts (None: from the abstract)
    section: str | None = None  # its section heading, when detected
    passage: Passage | None = field(default=None, repr=False)  # the best passage itself

    def to_dict(self) -> dict[str, Any]:
        d = {
            "paper": self.paper.to_dict(),
            "text": self.text,
            "score": round(self.score, 4),
            "passage_index": self.passage_index,
            "signals": {k: round(v, 4) for k, v in self.signals.items()},
        }
        if self.page is not None:
            d.update(page=self.page, section=self.section)
        return d


@dataclass
class Citation:
    number: int
    paper: Paper
    quote: str  # the supporting text, verbatim from the abstract -- or from page `page` of the PDF
    # (start, end) offsets of the sentences the answer uses (for highlighting), in `context`:
    # the abstract, or for a quote from the body, `passage.text`
    spans: list[tuple[int, int]] = field(default_factory=list)
    page: int | None = None  # 1-based PDF page the quote is on (None: from the abstract)
    section: str | None = None  # detected section heading of the quote, when there is one
    passage: Passage | None = field(default=None, repr=False)  # the body passage quoted (None: the abstract)

    @property
    def context(self) -> str:
        """The text `spans` index into: the body passage quoted, else the abstract."""
        return self.passage.text if self.passage is not None else self.paper.abstract

    @property
    def sentences(self) -> list[str]:
        """The highlighted sentences, verbatim."""
        return [self.context[s:e] for s, e in self.spans]

    def to_dict(self) -> dict[str, Any]:
        d = {
            "number": self.number,
            "paper": self.paper.to_dict(),
            "quote": self.quote,
            "spans": [list(s) for s in self.spans],
        }
        if self.page is not None:
            d.update(page=self.page, section=self.section)
        if self.passage is not None:
            d["passage"] = {
                "text": self.passage.text,
                "page": self.passage.page,
                "end_page": self.passage.end_page,
                "section": self.passage.section,
            }
        return d


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
            s += "; not shown: " + "; ".join(f'"{_short(d.text)}" ({d.reason})' for d in self.dropped)
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
    # The passages the answer was written from, best first: what an LLM was given, or the
    # passages an extractive answer chose its sentences from (then the other hits' passages).
    evidence: list[Passage] = field(default_factory=list, repr=False)

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
            "question": self.question,
            "text": self.text,
            "covered": self.covered,
            "citations": [c.to_dict() for c in self.citations],
            "hits": [h.to_dict() for h in self.hits],
            "backend": self.backend,
            "model": self.model,
            "fallback": self.fallback,
            "standalone_question": self.standalone_question,
            "verification": self.verification.to_dict() if self.verification else None,
        }


def reference_markdown(c: Citation) -> str:
    """One numbered reference as Markdown: the title (data, escaped), where in the PDF the
    quote is, and its links."""
    return (
        f"{c.number}. **{md_title(c.paper.title)}**"
        + md_title(where_in_pdf(c.page, c.section))
        + (f" — <{c.paper.url}>" if c.paper.url else "")
        + (f" (code: <{c.paper.code_url}>)" if c.paper.code_url else "")
    )


def reference_line(c: Citation) -> str:
    """One numbered reference as plain text (a terminal): "[2] Title, p. 7, §3.2  url"."""
    return (
        f"[{c.number}] {c.paper.title}"
        + where_in_pdf(c.page, c.section)
        + (f"  {c.paper.url}" if c.paper.url else "")
        + (f"  (code: {c.paper.code_url})" if c.paper.code_url else "")
    )


_SECTION_NUMBER = re.compile(r"^((?:\d{1,2}|[A-Z])(?:\.\d{1,2})*)\.?\s+\S")


def where_in_pdf(page: int | None, section: str | None) -> str:
    """ ", p. 7, §3.2" for a quote from page 7 in section "3.2. Failure model"; an unnumbered
    section is named (", p. 2, §Discussion"); "" for a quote from the abstract."""
    if page is None:
        return ""
    out = f", p. {page}"
    if section:
        m = _SECTION_NUMBER.match(section)
        out += f", §{m.group(1)}" if m else f", §{section}"
    return out


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
    format: str = ""  # the file's format (assistant.formats.FORMAT_NAMES key); "pdf", or "folder"
    pdfs_read: int = 0  # PDFs parsed (an unchanged PDF is not)
    pages_read: int = 0  # their pages

    @property
    def ok(self) -> bool:
        return bool(self.added or self.updated or self.unchanged)

    @property
    def no_abstract(self) -> list[str]:
        """Ids of papers kept without an abstract (indexed from their title and metadata)."""
        return [w.paper_id for w in self.warnings if w.kind == "no_abstract"]

    def summary(self) -> str:
        s = (
            f"{self.source}: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.rejected)} rejected "
            f"({self.passages_embedded} passages embedded in {self.seconds:.1f}s)"
        )
        if self.pdfs_read:
            s += f"; {self.pdfs_read} PDF{'s' if self.pdfs_read > 1 else ''} read ({self.pages_read} pages)"
        if self.no_abstract:
            s += f"; {len(self.no_abstract)} without an abstract (found by title and metadata only)"
        return s

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [asdict(r) for r in self.rejected],
            "warnings": [asdict(w) for w in self.warnings],
            "no_abstract": self.no_abstract,
            "passages_embedded": self.passages_embedded,
            "seconds": round(self.seconds, 3),
            "pdfs_read": self.pdfs_read,
            "pages_read": self.pages_read,
        }
