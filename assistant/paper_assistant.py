"""PaperAssistant: the public API that the CLI, the web UI and the benchmarks all use."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from assistant import embedding, library
from assistant import llm as llms
from assistant.answering.answerer import Answerer, AnswerStream, Ask, Reading
from assistant.answering.passages import PassageTerms
from assistant.answering.sentences import SentenceVectors
from assistant.index import IndexProblem, Store
from assistant.index.destinations import ToIndex, ToSession
from assistant.index.session import SessionPapers
from assistant.ingest import intake
from assistant.ingest.items import Destination
from assistant.retrieval import filters, similar
from assistant.retrieval.candidates import Candidates, Combined
from assistant.retrieval.query import condense, history_problem
from assistant.retrieval.search import Retrieval, Searcher
from assistant.settings import Settings, SettingsError
from assistant.tables import Table, TableError, TableJob, make_table
from assistant.tables.papers import UnknownPaper, check_aspects, resolve
from assistant.types import Answer, Hit, IngestReport, Message, Paper

log = logging.getLogger(__name__)

SEEDED_MARKER = "seeded"  # in the index folder: the index was built (or found built); never seeded again


class QuestionError(ValueError):
    """The question cannot be answered as asked (empty, too long)."""


class PaperNotFound(KeyError):
    """No paper has this id in the collection."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such paper"


class PaperAssistant:
    """Ask questions about a collection of papers; every claim is cited.

    >>> pa = PaperAssistant(collection="bundled")  # the demo papers, indexed when the index is new
    >>> pa.search("reduce hallucination at decoding time", k=5)
    >>> pa.ask("Which work aligns a frozen GPT-2 with CLIP?").text
    """

    def __init__(self, settings: Settings | None = None, *, allow_broken_index: bool = False, **overrides: Any):
        self.settings = (
            settings.with_(**overrides) if settings and overrides else (settings or Settings.load(**overrides))
        )
        self.embedder = embedding.create(self.settings)
        self.store = Store(self.settings, self.embedder, allow_broken=allow_broken_index)
        sentence_vectors = SentenceVectors(self._embed_sentences)  # answers score abstract sentences
        self._reading = Reading(self.store, self.embedder, sentence_vectors, PassageTerms())
        self._last = threading.local()
        self._llm_for: tuple[Settings, llms.LLM | None] | None = None  # the backend, made for these settings
        self.session: SessionPapers | None = None  # papers of this view only (see private())
        self._no_llm_reason = ""  # why this view answers without its LLM (see without_llm())
        if not self.store.problem:
            self._seed()

    def _seed(self) -> None:
        """A new index is built from the `collection` setting (the demo), once: a marker in the
        index says it was, so papers the user removes never come back."""
        marker = self.store.root / SEEDED_MARKER
        if marker.exists():
            return
        collection = self.settings.collection_file()
        if collection and not self.store.snapshot.papers:
            report = self.add_papers(collection)
            log.info("built the index from %s: %s", collection, report.summary())
        marker.write_text(collection + "\n", encoding="utf-8")

    def using(self, **changes: Any) -> PaperAssistant:
        """A view with other answer settings (backend, model, key, top_k...) that shares this
        assistant's index and embedding model: the web UI uses one per session, so a key
        typed into one browser never reaches another.  Settings that shape the index
        (embed_model, chunk_words, index_dir, chroma_url) cannot change here.

        A key goes only where its owner sent it: a view that changes `base_url` keeps this
        assistant's API key only if it is given again (`api_key=`); otherwise it has none."""
        fixed = {"embed_model", "chunk_words", "index_dir", "chroma_url", "model_cache", "collection"}
        bad = sorted(fixed & set(changes))
        if bad:
            raise SettingsError(f"{', '.join(bad)} shape the index; open another PaperAssistant for them")
        if "base_url" in changes and "api_key" not in changes and changes["base_url"] != self.settings.base_url:
            changes = {**changes, "api_key": ""}
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._last = threading.local()
        if changes:
            view.settings = self.settings.with_(**changes)
            view._llm_for = None  # the view's own backend: its key stays with it
        return view

    def private(self, papers: SessionPapers | None = None) -> PaperAssistant:
        """A view whose added papers stay its own: held in memory, searched and cited with the
        collection in this view only, never written to the index, gone with the view.  Limits:
        settings session_papers and session_mb.  (The public web app gives one to each visitor;
        `papers` continues an earlier view's: `view.session`.)"""
        view = self.using()
        s = self.settings
        view.session = (
            papers
            if papers is not None
            else SessionPapers(self.embedder, s.chunk_words, s.session_papers, s.session_mb * 1e6, s.session_passages)
        )
        return view

    def without_llm(self, reason: str) -> PaperAssistant:
        """A view that answers extractively, giving `reason` as each answer's `fallback`
        (the web app's LLM rate limit)."""
        view = self.using(backend="extractive")
        view._no_llm_reason = reason
        return view

    @property
    def last_answer(self) -> Answer | None:
        """The last answer this assistant gave in the calling thread (each web-app worker,
        and each view, has its own)."""
        return getattr(self._last, "answer", None)

    # -- collection ---------------------------------------------------------------------------
    @property
    def papers(self) -> list[Paper]:
        self.store.maybe_sync()  # with a Chroma server: papers other processes added or removed
        return list(self._papers().values())

    def _papers(self) -> Mapping[str, Paper]:
        return self._source().papers

    def _source(self) -> Candidates:
        """Where this view's searches look: the index, and a private() view's own papers."""
        return Combined(self.session, self.store) if self.session is not None else self.store

    def paper(self, paper_id: str) -> Paper:
        self.store.maybe_sync()
        try:
            return self._papers()[paper_id]
        except KeyError:
            raise PaperNotFound(f"no paper with id {paper_id!r} in the collection") from None

    def add_papers(
        self, source: str | Path | Iterable[dict | Paper], progress=None, strict: bool = False, on_file=None
    ) -> IngestReport:
        """Add or update papers from a file (BibTeX, RIS, CSL JSON, zotero.sqlite, JSON lines
        including arXiv/OpenAlex/Semantic Scholar dumps, JSON, CSV, papers-page text), a PDF,
        a folder (every PDF and bibliography file inside, recursively), or records.

        A PDF's full text is indexed (its title, authors and abstract from its first page); an
        entry whose attachment exists (BibTeX file field, Zotero, RIS L1) keeps its own
        metadata and gets the full text of its PDF.  Unchanged papers are skipped without
        embedding (an unchanged PDF is not even read); changed ones replace their old
        passages.  A file that cannot be read raises CollectionError and changes nothing; in a
        folder it is one rejection in the report, and the other files are added.  Bad records
        are rejected (listed in the report) and the valid ones added; with `strict=True` any
        bad record raises CollectionError and nothing is added.  A private() view adds to its
        own papers, not to the index (a PDF gives only its title and abstract there).

        `progress(done, total)` counts papers written (files read, for a PDF or a folder);
        `on_file(name, outcome)` hears about each file of a folder as it is read.
        """
        how = intake.Intake(self._destination(), self.settings, progress, strict, on_file)
        return intake.add(source, how)

    def _destination(self) -> Destination:
        """Where this view adds papers: the index, or a private() view's own papers."""
        if self.session is not None:
            return ToSession(self.session, set(self.store.papers), self.settings)
        return ToIndex(self.store, self.settings)

    def sync(
        self, *sources: str | Path, dry_run: bool = False, settle: float = 0.0, progress=None, on_file=None
    ) -> list[library.SyncReport]:
        """Make the collection mirror its sources: folders of PDFs and bibliography files,
        zotero.sqlite files, .bib/.ris/CSL JSON files (none given: every source synced before).

        New entries are added, changed ones updated (an edited abstract, a changed PDF), and
        papers gone from a source removed -- only papers that came from a source: those added
        with add_papers() or an upload are never touched.  A PDF moved or renamed is the same
        paper (not embedded again).  `dry_run`: change nothing, report what would change;
        `settle`: leave files modified less than this many seconds ago for the next sync.
        The index remembers each source (`sources()`).  library/sync.py says the rest."""
        if self.session is not None:
            raise SettingsError("a private view cannot sync sources: its papers are not in the index")
        opts = library.SyncOptions(dry_run=dry_run, settle=settle, progress=progress, on_file=on_file)
        return library.sync(self.store, self.settings, sources, opts)

    def sources(self) -> list[library.SourceInfo]:
        """The sources the collection mirrors, with their last sync, paper and failure counts."""
        return library.Registry(self.store.root).sources()

    def pdf_file(self, paper_id: str) -> Path | None:
        """The index's copy of the PDF whose full text is indexed for a paper: what a viewer
        should open at Citation.page (None for an abstract-only paper).  Only indexed PDFs
        are ever returned, as they were read."""
        return self.store.pdf_file(self.paper(paper_id))

    def remove_papers(self, ids: Iterable[str]) -> list[str]:
        """Remove papers (passages, keyword entries and records); returns the ids removed.
        A private() view removes only its own papers."""
        if self.session is not None:
            return self.session.remove(ids)
        return self.store.remove(ids)

    def reindex(self, progress=None) -> int:
        """Re-embed every stored paper (repairs an index whose vector store was lost)."""
        return self.store.reindex(progress=progress)

    # -- retrieval ----------------------------------------------------------------------------
    def _check(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise QuestionError("the question is empty")
        if len(question) > self.settings.max_question_chars:
            raise QuestionError(
                f"the question is {len(question)} characters long; the limit is "
                f"{self.settings.max_question_chars} (setting max_question_chars)"
            )
        if self.store.problem:
            raise IndexProblem(self.store.problem)
        return " ".join(question.split())

    def _check_history(self, history: list[Message] | None) -> list[Message] | None:
        """`history` if its shape and size are within the settings, else QuestionError saying which limit."""
        s = self.settings
        problem = history_problem(history, s.max_history_messages, s.max_history_chars)
        if problem:
            raise QuestionError(problem)
        return history or None

    def retrieve(
        self,
        question: str,
        history: list[Message] | None = None,
        k: int | None = None,
        paper_ids: Iterable[str] | None = None,
        query: str | None = None,
    ) -> Retrieval:
        """Search with everything it produced: hits, the relevance score, whether the
        collection covers the question, and the time each step took."""
        question, history = self._check(question), self._check_history(history)
        s = self.settings
        return self._searcher().run(
            question, query or condense(question, history), k or s.top_k, self._allowed(paper_ids)
        )

    def _allowed(self, paper_ids: Iterable[str] | None) -> set[str] | None:
        self.store.maybe_sync()
        return set(paper_ids) & set(self._papers()) if paper_ids is not None else None

    def _searcher(self) -> Searcher:
        s = self.settings
        return Searcher(self._source(), self.embedder, s.candidates, s.min_relevance)

    def as_retriever(self, k: int | None = None, paper_ids: Iterable[str] | None = None, gate: bool = True):
        """This search as a LlamaIndex retriever (assistant/retriever.py): one node per paper,
        nothing for a question the collection does not cover (unless gate=False)."""
        from assistant.retrieval.llamaindex import PaperRetriever

        return PaperRetriever(self, k=k, paper_ids=paper_ids, gate=gate)

    def search(
        self,
        question: str,
        k: int | None = None,
        history: list[Message] | None = None,
        paper_ids: Iterable[str] | None = None,
    ) -> list[Hit]:
        """The best papers for a question, best first, one Hit per paper."""
        return self.retrieve(question, history=history, k=k, paper_ids=paper_ids).hits

    # -- answers ------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: list[Message] | None = None,
        k: int | None = None,
        paper_ids: Iterable[str] | None = None,
    ) -> Answer:
        s = self.stream(question, history=history, k=k, paper_ids=paper_ids)
        for _ in s:
            pass
        return s.answer

    def stream(
        self,
        question: str,
        history: list[Message] | None = None,
        k: int | None = None,
        paper_ids: Iterable[str] | None = None,
    ) -> AnswerStream:
        """The answer as it is produced (answering/answerer.py)."""
        ask = Ask(self._check(question), self._check_history(history), k, self._allowed(paper_ids))
        return self._answerer().stream(ask, done=self._remember)

    def _answerer(self) -> Answerer:
        return Answerer(self.settings, self._searcher(), self._reading, self._llm(), self._no_llm_reason)

    def _remember(self, ans: Answer) -> None:
        self._last.answer = ans

    def _llm(self) -> llms.LLM | None:
        """The backend for the current settings, made once (views get their own)."""
        if self._llm_for is None or self._llm_for[0] is not self.settings:
            self._llm_for = (self.settings, llms.create(self.settings))
        return self._llm_for[1]

    def _embed_sentences(self, texts: list[str]):
        """Sentence vectors, kept in the index's embedding cache: each is computed once per index
        (not on a public deployment: a visitor's papers never reach the disk)."""
        cache = self.store.cache
        if cache is None or self.settings.public:  # a visitor's sentences are never written to disk
            return self.embedder.embed(texts)
        return cache.embed(self.embedder, texts)[0]

    # -- comparison tables --------------------------------------------------------------------
    def table(
        self,
        aspects: Iterable[str] | str,
        papers: Iterable[str] | None = None,
        query: str | None = None,
        k: int = 8,
        progress=None,
        **filters: Any,
    ) -> Table:
        """A comparison table: one row per paper, one cell per aspect (a question asked of every
        paper, "What training data?"), each stated cell cited verbatim (assistant/tables/).

        Rows: the `papers` named (id, citation key or exact title), in that order; else the top
        `k` papers for `query`; else the papers the `filters` leave (select_ids: year_from,
        year_to, author, venue, tag, key), in collection order.  Filters also narrow the other
        two.  Without an LLM a cell is the paper's sentence(s) that answer the aspect; with one,
        a short phrase checked against that quote (else the sentence, marked).  A cell the paper
        does not answer reads "not stated".  `progress(done, total)` counts papers.  An unknown
        paper raises PaperNotFound; no aspects or papers, or too many, TableError."""
        s = self.settings
        columns = check_aspects(aspects, s.table_max_aspects, s.max_question_chars)
        rows = self._table_papers(papers, query, k, filters)
        if len(rows) > s.table_max_papers:
            raise TableError(f"{len(rows)} papers; a table has at most {s.table_max_papers} (setting table_max_papers)")
        if self.store.problem:
            raise IndexProblem(self.store.problem)
        llm = None if self._no_llm_reason else self._llm()
        return make_table(TableJob(rows, columns, self._reading, llm, s.timeout, progress))

    def _table_papers(self, names: Iterable[str] | None, query: str | None, k: int, filters: dict) -> list[Paper]:
        """A table's papers, in row order (see `table`)."""
        given = {n: v for n, v in filters.items() if v not in (None, "")}
        allowed = set(self.select_ids(**given)) if given else None
        if isinstance(names, str):
            names = [names]
        if names is not None and list(names):
            try:
                chosen = resolve(list(names), self._papers())
            except UnknownPaper as e:
                raise PaperNotFound(str(e)) from None
            return [p for p in chosen if allowed is None or p.id in allowed]
        if query is not None and query.strip():
            if not isinstance(k, int) or k < 1:
                raise TableError(f"k must be a whole number of papers, at least 1, not {k!r}")
            return [h.paper for h in self.search(query, k=k, paper_ids=allowed)]
        if allowed is None:
            raise TableError("a table needs papers: name them (id, citation key or title), give a query, or a filter")
        return [p for p in self._papers().values() if p.id in allowed]

    # -- reporting ----------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """Where answers come from: "extractive", "openai" or "local"."""
        return llms.select(self.settings)

    @property
    def llm(self) -> llms.LLM | None:
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
        return {
            "backend": self.backend,
            "model": self.model,
            **({"backend_problem": problem} if problem else {}),
            "papers": len(self.store.snapshot.papers),
            "index": str(self.store.root),
            "embedding": self.settings.embed_model,
            "chroma": self.store.chroma.shown_url or "embedded",
            "sources": [s.to_dict() for s in self.sources()],
        }

    @property
    def index_problem(self) -> str:
        """Why the index cannot serve searches ("" when it can); only set with allow_broken_index=True."""
        return self.store.problem

    # -- browsing (the web UI's papers view) --------------------------------------------------
    def similar(self, paper_id: str, k: int = 5) -> list[Hit]:
        """The `k` papers closest to `paper_id`, best first (itself excluded).

        Closeness is the cosine between the papers' mean passage vectors (the same paper-level
        vectors retrieval uses), so it needs no query.  Hit.score is that cosine and Hit.text the
        paper's opening passage.  An unknown id raises PaperNotFound (a KeyError).
        """
        self.paper(paper_id)
        return similar.similar(self._source(), paper_id, k)

    def select_ids(
        self,
        year_from: int | None = None,
        year_to: int | None = None,
        author: str | None = None,
        venue: str | None = None,
        tag: str | None = None,
        key: str | None = None,
    ) -> list[str]:
        """Ids of the papers whose metadata passes every given filter (feed them to `paper_ids=`).

        Years are inclusive; a paper without a year fails a year filter.  `author` and `venue`
        match case-insensitively as a substring ("hinton" matches "Geoffrey E. Hinton");
        `tag` matches a tag, or a collection or any collection above it ("Reading/2024"
        matches tag "reading" and "2024"), case-insensitively; `key` is a citation key.  A paper
        without the field fails its filter.  No filter given = every paper.
        """
        wanted = filters.Filters(year_from, year_to, author, venue, tag, key)
        return filters.select(self._papers().values(), wanted)
