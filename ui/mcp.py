"""The collection as tools for AI agents: search_papers, ask_papers, get_paper and compare_papers.

`PaperTools` turns the library's public API (a PaperAssistant) into four read-only
operations that take JSON-typed arguments and return plain dicts.  `add_endpoints` registers
them in the web app as named HTTP endpoints (`/search_papers`, `/ask_papers`, `/get_paper`,
`/compare_papers`: gradio_client or curl); `launch_options` makes Gradio's built-in MCP server
list exactly these four as MCP tools, at /gradio_api/mcp/ (streamable HTTP) and /gradio_api/mcp/sse.
docs/api.md documents both.

Gradio builds each tool from the function: the name from `__name__`, the description and
the argument descriptions from the docstring (it reads one line per argument, and joins the
lines under Returns with ", "), the input schema from the type hints.  What Gradio 6.31 does
differently is adjusted when the server starts (`_adapt`): it would list every public
endpoint as a tool (the web app's /ask, /search and /add_papers too), prefix the names with
a Space's name, and send a dict as its Python repr.  Here the tools keep their names
everywhere, a result is JSON text plus `structuredContent`, and each tool declares its
`outputSchema` (the TypedDicts below), that it only reads, and that it takes no other
arguments.
"""

# No `from __future__ import annotations`: Gradio reads a tool's return type from the raw
# signature (unlike its arguments), and a string there documents no result shape.
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any, Literal, TypedDict

import gradio as gr
from gradio_client.utils import python_type_to_json_schema

from assistant import (
    IndexProblem,
    PaperAssistant,
    PaperNotFound,
    QuestionError,
    Settings,
    StoreUnavailable,
    TableError,
)
from ui.sessions import HISTORY_FORMAT, valid_history

log = logging.getLogger(__name__)

TOOLS = ("search_papers", "ask_papers", "get_paper", "compare_papers")
MAX_K = 50
MAX_FIELD = 500  # characters of a paper id or an author filter
MAX_YEAR = 9999
# compare_papers on a public deployment: a table is at most this big, and extractive (no LLM calls)
PUBLIC_TABLE_PAPERS = 10
PUBLIC_TABLE_ASPECTS = 6
PUBLIC_ASPECT_CHARS = 300


# -- result shapes (also the MCP output schemas and the HTTP API's documented return types) ----
class Message(TypedDict):
    role: Literal["user", "assistant"]
    content: str


class PaperHit(TypedDict):
    rank: int
    id: str
    title: str
    year: int | None
    authors: list[str]
    url: str
    code_url: str
    passage: str
    score: float


class SearchResult(TypedDict):
    query: str
    covered: bool
    papers: list[PaperHit]
    note: str


class Reference(TypedDict):
    number: int
    paper_id: str
    title: str
    year: int | None
    authors: list[str]
    url: str
    quote: str
    sentences: list[str]
    page: int | None


class AskResult(TypedDict):
    question: str
    answer: str
    covered: bool
    references: list[Reference]
    backend: str
    note: str


class PaperRecord(TypedDict):
    id: str
    title: str
    abstract: str
    authors: list[str]
    year: int | None
    url: str
    code_url: str


class TableCitation(TypedDict):
    quote: str
    page: int | None
    section: str | None


class TableCell(TypedDict):
    aspect: str
    text: str
    stated: bool
    citations: list[TableCitation]
    source: str


class TablePaper(TypedDict):
    id: str
    key: str
    title: str
    year: int | None
    authors: list[str]


class TableRow(TypedDict):
    paper: TablePaper
    cells: list[TableCell]


class TableResult(TypedDict):
    aspects: list[str]
    rows: list[TableRow]
    backend: str
    note: str


class PaperTools:
    """The four operations over one assistant.  Bad arguments raise gr.Error with a message
    meant for whoever (or whatever) called: Gradio sends it as the HTTP error and as the
    text of an MCP tool error."""

    def __init__(
        self,
        pa: PaperAssistant,
        answerer: Callable[[Any], PaperAssistant] | None = None,
        explain: Callable[[Exception], str] | None = None,
        shown: Callable[[Any], Any] | None = None,
    ):
        self.pa = pa
        # shown(answer) -> the answer as the caller may see it (the web app's: no LLM endpoint publicly)
        self.shown = shown or (lambda ans: ans)
        # answerer(request) -> the view that answers this caller (the web app's LLM rate limit)
        self.answerer = answerer or (lambda request: pa)
        # explain(error) -> what the caller is told (the web app's: generic on a public deployment)
        self.explain = explain or str

    def search_papers(
        self,
        query: str,
        k: int = 10,
        year_from: int | None = None,
        year_to: int | None = None,
        author: str | None = None,
    ) -> SearchResult:
        """Search the research-paper collection: the papers that best match a query, best first,
        one entry per paper with its best-matching passage quoted verbatim.  Use it to find which
        papers discuss a topic, method or result; get_paper then gives a paper's full abstract, and
        ask_papers a cited answer.

        Args:
            query: What to look for in plain words: a question, a topic or key terms (at most 2000 characters).
            k: How many papers to return, 1 to 50.
            year_from: Only papers published in or after this year (papers without a known year are left out).
            year_to: Only papers published in or before this year (papers without a known year are left out).
            author: Only papers with an author whose name contains this text, case-insensitive (e.g. "hinton").
        Returns:
            {query, covered: false when even the best matches are too weak to answer from
            papers: [{rank, id (for get_paper), title, year, authors, url, code_url, passage, score (higher is better)}]
            note: why the list is empty, else ""}
        """
        k = _whole(k, "k", 1, MAX_K)
        year_from = _whole(year_from, "year_from", 0, MAX_YEAR, optional=True)
        year_to = _whole(year_to, "year_to", 0, MAX_YEAR, optional=True)
        if author is not None and not isinstance(author, str):
            raise gr.Error(f"author must be text (part of a name), not {_shown(author)}")
        if author is not None and len(author) > MAX_FIELD:
            raise gr.Error(f"author is {len(author)} characters long; the limit is {MAX_FIELD}")
        author = " ".join((author or "").split())
        ids = None
        if year_from is not None or year_to is not None or author:
            ids = self.pa.select_ids(year_from=year_from, year_to=year_to, author=author or None)
        try:
            r = self.pa.retrieve(query, k=k, paper_ids=ids)
        except (QuestionError, IndexProblem, StoreUnavailable) as e:
            raise gr.Error(f"query: {self.explain(e)}") from None
        note = _no_match_note(year_from=year_from, year_to=year_to, author=author) if ids == [] else ""
        papers = [_paper_hit(i, h) for i, h in enumerate(r.hits, 1)]
        return SearchResult(query=query, covered=r.covered, papers=papers, note=note)

    def ask_papers(self, question: str, history: list[Message] | None = None, request: gr.Request = None) -> AskResult:
        """Answer a question from the research-paper collection, with citations: every claim in
        the answer ends with a [n] marker that refers to the reference numbered n, which quotes
        the supporting text verbatim.  When the collection does not cover the question, covered
        is false and nothing is cited: the papers hold no answer to it.

        Args:
            question: The question, in plain words (at most 2000 characters).
            history: For a follow-up such as "What loss does it add?": the conversation so far, oldest first, as [{"role": "user" or "assistant", "content": "..."}]; omit for a new question.
        Returns:
            {question, answer: text with [n] markers, covered
            references: [{number, paper_id, title, year, authors, url, quote: the cited passage verbatim
            sentences: the sentences of it the answer uses, page: null for a paper known by its abstract only}]
            backend: extractive or the LLM backend that wrote the answer
            note: why the configured LLM was not used, else ""}
        """
        if not valid_history(history):
            raise gr.Error(HISTORY_FORMAT)
        try:
            ans = self.answerer(request).ask(question, history=[dict(m) for m in history] if history else None)
            ans = self.shown(ans)
        except (QuestionError, IndexProblem, StoreUnavailable) as e:
            raise gr.Error(f"question: {self.explain(e)}") from None
        refs = [
            Reference(
                number=c.number,
                paper_id=c.paper.id,
                title=c.paper.title,
                year=c.paper.year,
                authors=list(c.paper.authors),
                url=c.paper.url,
                quote=c.quote,
                sentences=c.sentences,
                page=c.page,
            )
            for c in ans.citations
        ]
        return AskResult(
            question=ans.question,
            answer=ans.text,
            covered=ans.covered,
            references=refs,
            backend=ans.backend,
            note=ans.fallback,
        )

    def get_paper(self, paper_id: str) -> PaperRecord:
        """One paper of the research-paper collection by its id (as search_papers and ask_papers
        return it): its title, full abstract, authors, year and links.

        Args:
            paper_id: The paper's id: the "id" of a search_papers result or the "paper_id" of an ask_papers reference.
        Returns:
            {id, title, abstract, authors, year (null when unknown), url and code_url ("" when unknown)}
        """
        if not isinstance(paper_id, str) or not paper_id.strip():
            raise gr.Error("paper_id is empty: give the id of a paper from search_papers or ask_papers")
        if len(paper_id) > MAX_FIELD:
            raise gr.Error(f"paper_id is {len(paper_id)} characters long; no paper id is over {MAX_FIELD}")
        try:
            p = self.pa.paper(paper_id.strip())
        except KeyError:
            raise gr.Error(
                f"no paper with id {_shown(paper_id)} in the collection; search_papers gives the ids"
            ) from None
        return PaperRecord(
            id=p.id,
            title=p.title,
            abstract=p.abstract,
            authors=list(p.authors),
            year=p.year,
            url=p.url,
            code_url=p.code_url,
        )

    def compare_papers(
        self,
        aspects: list[str],
        paper_ids: list[str] | None = None,
        query: str | None = None,
        k: int = 8,
        year_from: int | None = None,
        year_to: int | None = None,
        author: str | None = None,
        request: gr.Request = None,
    ) -> TableResult:
        """A comparison table of research papers: one row per paper, one cell per aspect (a question
        asked of every paper, such as "What training data?"), each cell the paper's own sentence(s)
        answering it, quoted verbatim with page and section for a PDF, or "not stated" (stated false)
        when the paper does not say.  Name the papers (paper_ids), or give a query for the top k papers.

        Args:
            aspects: The questions asked of every paper, one per column (1 to 12; at most 6 of 300 characters each on a public server).
            paper_ids: The papers, one per row, in this order: ids (from search_papers), citation keys or exact titles; omit to use query.
            query: Without papers: the top k papers for this query are the rows.
            k: How many papers for query, 1 to 50 (at most 10 on a public server).
            year_from: Only papers published in or after this year.
            year_to: Only papers published in or before this year.
            author: Only papers with an author whose name contains this text, case-insensitive.
        Returns:
            {aspects, rows: [{paper: {id, key, title, year, authors}
            cells: [{aspect, text, stated: false when the paper does not say, citations: [{quote, page, section}]
            source: extractive or llm}]}], backend, note}
        """
        aspects, papers = _table_args(aspects, paper_ids)
        public = self.pa.settings.public
        k = _whole(k, "k", 1, PUBLIC_TABLE_PAPERS if public else MAX_K)
        filters = dict(
            year_from=_whole(year_from, "year_from", optional=True),
            year_to=_whole(year_to, "year_to", optional=True),
            author=" ".join(author.split()) if isinstance(author, str) and author.strip() else None,
        )
        if public:
            _public_table_limits(aspects, papers)
        view = self.answerer(request)
        if public:  # a table is many cells: no LLM calls for it on a public server
            view = view.without_llm("tables are extractive on a public deployment")
        try:
            table = view.table(aspects, papers=papers or None, query=query, k=k, **filters)
        except (QuestionError, TableError, PaperNotFound, IndexProblem, StoreUnavailable) as e:
            raise gr.Error(self.explain(e)) from None
        return _table_result(table)


def _no_match_note(**filters: Any) -> str:
    """search_papers' note when no paper passes the filters given (those left empty not named)."""
    named = ", ".join(f"{n}={v!r}" for n, v in filters.items() if v not in (None, ""))
    return f"No paper in the collection matches {named}."


def _paper_hit(rank: int, h) -> PaperHit:
    """One search_papers entry: the paper of a Hit, with its passage and score."""
    p = h.paper
    return PaperHit(
        rank=rank,
        id=p.id,
        title=p.title,
        year=p.year,
        authors=list(p.authors),
        url=p.url,
        code_url=p.code_url,
        passage=h.text,
        score=round(h.score, 4),
    )


def _table_args(aspects, paper_ids) -> tuple[list[str], list[str] | None]:
    """compare_papers' aspects and papers, checked to be lists of text."""
    if isinstance(aspects, str):
        aspects = [aspects]
    if not isinstance(aspects, list) or not all(isinstance(a, str) for a in aspects):
        raise gr.Error('aspects must be a list of questions (text), e.g. ["What training data?"]')
    if paper_ids is not None and (not isinstance(paper_ids, list) or not all(isinstance(p, str) for p in paper_ids)):
        raise gr.Error("paper_ids must be a list of paper ids, citation keys or titles")
    return aspects, paper_ids


def _table_result(table) -> TableResult:
    """A Table as compare_papers returns it."""
    rows = [
        TableRow(
            paper=TablePaper(
                id=r.paper.id,
                key=r.paper.key,
                title=r.paper.title,
                year=r.paper.year,
                authors=list(r.paper.authors),
            ),
            cells=[
                TableCell(**{k: v for k, v in c.to_dict().items() if k in TableCell.__annotations__}) for c in r.cells
            ],
        )
        for r in table.rows
    ]
    note = "" if rows else "No paper matched."
    return TableResult(aspects=table.aspects, rows=rows, backend=table.backend, note=note)


def _public_table_limits(aspects: list[str], papers: list[str] | None) -> None:
    """A public server's bounds on one table (gr.Error naming the one exceeded)."""
    if len(aspects) > PUBLIC_TABLE_ASPECTS:
        raise gr.Error(f"at most {PUBLIC_TABLE_ASPECTS} aspects per table on this server, not {len(aspects)}")
    long = [a for a in aspects if len(a) > PUBLIC_ASPECT_CHARS]
    if long:
        raise gr.Error(
            f"an aspect may be at most {PUBLIC_ASPECT_CHARS} characters on this server ({len(long[0])} given)"
        )
    if papers and len(papers) > PUBLIC_TABLE_PAPERS:
        raise gr.Error(f"at most {PUBLIC_TABLE_PAPERS} papers per table on this server, not {len(papers)}")


def _whole(value: Any, name: str, lo: int | None = None, hi: int | None = None, optional: bool = False) -> int | None:
    """`value` as an int, or a clear error: JSON has no int type, so 10.0 is accepted and 10.5 is not."""
    if value is None and optional:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or (lo is not None and value < lo)
        or (hi is not None and value > hi)
    ):
        want = f"a whole number from {lo} to {hi}" if lo is not None else "a whole number"
        if name.startswith("year"):
            want = f"a year such as 2021 (a whole number from {lo} to {hi})"
        raise gr.Error(f"{name} must be {want}, not {_shown(value)}")
    return value


def _shown(value: Any, limit: int = 80) -> str:
    """A caller's value as an error message quotes it: its repr, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- wiring ------------------------------------------------------------------------------------
def add_endpoints(
    pa: PaperAssistant,
    answer_queue: dict[str, Any],
    browse_queue: dict[str, Any],
    answerer: Callable[[Any], PaperAssistant] | None = None,
    explain: Callable[[Exception], str] | None = None,
    shown: Callable[[Any], Any] | None = None,
) -> PaperTools:
    """Register the four tools as named endpoints; call inside the gr.Blocks context.
    `*_queue` are the concurrency_id / concurrency_limit of the app's answer and browse queues;
    `answerer(request)` gives the view that answers a caller (default: `pa`), `explain(error)`
    what a caller is told of an index error (default: its message), `shown(answer)` what it
    sees of an answer (default: all of it)."""
    tools = PaperTools(pa, answerer, explain, shown)
    gr.api(tools.search_papers, api_name="search_papers", **browse_queue)
    gr.api(tools.ask_papers, api_name="ask_papers", **answer_queue)
    gr.api(tools.get_paper, api_name="get_paper", **browse_queue)
    gr.api(tools.compare_papers, api_name="compare_papers", **answer_queue)
    return tools


def mcp_available() -> bool:
    try:
        import mcp  # noqa: F401
    except ImportError:
        return False
    return True


def launch_options(demo: gr.Blocks, settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `demo.launch()`: the MCP endpoint on or off (setting `mcp`), and
    a start-up hook that makes it serve exactly the four tools (see the module docstring)."""
    if not settings.mcp:
        return {"mcp_server": False}
    if not mcp_available():
        log.warning("MCP endpoint off: the `mcp` package is not installed (pip install 'mcp>=1.21,<2')")
        return {"mcp_server": False}

    @contextlib.asynccontextmanager
    async def adapt_on_start(app):  # runs before the server accepts a request
        if demo.mcp_server_obj is not None:
            _adapt(demo.mcp_server_obj)
        yield

    return {"mcp_server": True, "app_kwargs": {"lifespan": adapt_on_start}}


OUTPUT_TYPES = {
    "search_papers": SearchResult,
    "ask_papers": AskResult,
    "get_paper": PaperRecord,
    "compare_papers": TableResult,
}
TITLES = {
    "search_papers": "Search papers",
    "ask_papers": "Ask the papers (cited answer)",
    "get_paper": "Get a paper",
    "compare_papers": "Compare papers (a cited table)",
}


def _adapt(server: Any) -> None:
    """Adjust Gradio 6.31's GradioMCPServer: only our tools, under their own names, JSON results."""
    from mcp import types

    try:
        named = server.api_info["named_endpoints"]
        low = server.mcp_server
        list_tools = low.request_handlers[types.ListToolsRequest]
        call_tool = low.request_handlers[types.CallToolRequest]
        for attr in ("tool_prefix", "tool_to_endpoint", "postprocess_output_data"):
            getattr(server, attr)
    except (AttributeError, KeyError) as e:
        raise RuntimeError(f"Gradio's MCP server is not the one ui/mcp.py adapts (Gradio 6.31): {e!r}") from None

    # Only the read-only tools; the web app's own endpoints (/ask, /search, /add_papers) stay HTTP-only.
    # No Space-name prefix: the tools are called the same locally and on a Space.
    server.tool_prefix = ""
    server.tool_to_endpoint = {name: f"/{name}" for name in TOOLS if f"/{name}" in named}

    def json_content(data: list[Any], root_url: str) -> list[types.TextContent]:
        # Gradio would send str(result): a dict's Python repr (None, True, single quotes), not JSON
        return [types.TextContent(type="text", text=json.dumps(out, ensure_ascii=False)) for out in data]

    server.postprocess_output_data = json_content

    async def listed(req: types.ListToolsRequest) -> types.ServerResult:
        result = await list_tools(req)
        for tool in result.root.tools:
            tool.title = TITLES.get(tool.name)
            # an unknown argument is refused by name (the MCP SDK checks arguments against this schema)
            tool.inputSchema["additionalProperties"] = False
            tool.outputSchema = python_type_to_json_schema(OUTPUT_TYPES[tool.name])
            tool.annotations = types.ToolAnnotations(
                title=tool.title, readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False
            )
        return result

    async def called(req: types.CallToolRequest) -> types.ServerResult:
        result = await call_tool(req)
        r = result.root
        if isinstance(r, types.CallToolResult) and not r.isError and [c.type for c in r.content] == ["text"]:
            value = json.loads(r.content[0].text)
            if isinstance(value, dict):
                r.structuredContent = value
        return result

    low.request_handlers[types.ListToolsRequest] = listed
    low.request_handlers[types.CallToolRequest] = called
