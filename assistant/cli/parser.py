"""`paper-assistant`: a thin command line over the library's public API."""

# The parser and the entry point; each command's work is in the module of its group (ask.py,
# collection.py, library.py, table.py, evaluation.py, model.py, serve.py, settings.py).

from __future__ import annotations

import argparse
import logging
import os
import sys

from assistant.cli import ask, collection, evaluation, library, model, relay, serve, table
from assistant.cli import settings as settings_command
from assistant.cli.arguments import USER_ERRORS
from assistant.index import IndexBusy

# The ONNX runtime and tokenizers print to stderr unless told not to; a CLI should be quiet.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="paper-assistant", description=__doc__)
    _global_options(p)
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_ingest, _library, _search_and_ask, _table, _chat_and_serve, _eval, _export, _collection):
        add(sub)
    relayed = {name: sub.choices[name].get_default("func") for name in relay.RELAYED}
    for holder in ("serve", "watch"):  # the commands that hold an index run the others' (cli/relay.py)
        sub.choices[holder].set_defaults(relayed=relayed)
    return p


def _global_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML settings file (also ASSISTANT_CONFIG)")
    p.add_argument("--index-dir", help="index directory (default index_store)")
    p.add_argument(
        "--collection", help="papers file a new index is built from (`bundled`: the demo papers; default: none)"
    )
    p.add_argument("--chroma-url", help="use a Chroma server instead of the embedded store")
    p.add_argument(
        "--backend",
        choices=["auto", "extractive", "openai", "local"],
        help="where answers come from (default auto: openai when a key or base URL is set)",
    )
    p.add_argument("--model", help="model name (openai backend) or label (local backend)")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (key: OPENAI_API_KEY)")
    p.add_argument("--gguf", help="GGUF model file for the local backend (default: bundled SmolLM2-135M)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any setting (see `paper-assistant settings`)")
    p.add_argument("-v", "--verbose", action="store_true")


def _filters(s: argparse.ArgumentParser) -> None:
    g = s.add_argument_group("only papers that match (metadata from your library)")
    g.add_argument("--author", help="an author's name contains this (case-insensitive)")
    g.add_argument("--year", help="a year or a range: 2021, 2019-2023, 2019-, -2023")
    g.add_argument("--venue", help="the journal or proceedings contains this")
    g.add_argument("--tag", help="a tag, or a collection (folder) of your reference manager")
    g.add_argument("--key", help="a citation key")


def _ingest(sub) -> None:
    s = sub.add_parser(
        "ingest",
        help="add or update papers from a file: BibTeX, RIS, CSL JSON, zotero.sqlite, "
        "JSON lines (arXiv, OpenAlex, Semantic Scholar dumps too), JSON, CSV, text; "
        "a PDF (full text); or a folder of PDFs and bibliography files",
    )
    s.add_argument("file", help="a papers file, a PDF, or a folder (read recursively)")
    s.add_argument("--strict", action="store_true", help="add nothing if any record is bad (default: skip bad records)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=collection.cmd_ingest)


def _library(sub) -> None:
    s = sub.add_parser(
        "sync",
        help="make the library mirror its sources: folders of PDFs and bibliography files, zotero.sqlite, "
        ".bib/.ris/CSL JSON files -- new papers added, changed ones updated, those gone removed",
    )
    s.add_argument("sources", nargs="*", metavar="SOURCE", help="(none: every source synced before)")
    s.add_argument("--dry-run", action="store_true", help="change nothing; list what would change")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=library.cmd_sync)

    s = sub.add_parser("watch", help="sync SOURCE... whenever their files change, until Ctrl-C")
    s.add_argument("sources", nargs="*", metavar="SOURCE", help="(none: every source synced before)")
    s.add_argument("--interval", type=float, default=2.0, help="seconds between looks at the files (default 2)")
    s.set_defaults(func=library.cmd_watch)


def _search_and_ask(sub) -> None:
    s = sub.add_parser("search", help="the best papers for a query")
    _filters(s)
    s.add_argument("query")
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--passages", action="store_true", help="show each paper's best passage")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=ask.cmd_search)

    s = sub.add_parser("ask", help="answer a question with numbered citations")
    _filters(s)
    s.add_argument("--bib", metavar="FILE", help="also write the cited papers as BibTeX (your own entries, keys kept)")
    s.add_argument("--csl", metavar="FILE", help="also write the cited papers as CSL JSON")
    s.add_argument("--ris", metavar="FILE", help="also write the cited papers as RIS")
    s.add_argument(
        "--cite",
        choices=["latex", "pandoc"],
        help="print the answer with \\cite{key} (latex) or [@key] (pandoc) instead of [n]",
    )
    s.add_argument("question")
    s.add_argument("--history", help="earlier turns as a JSON list of {role, content}")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=ask.cmd_ask)


def _table(sub) -> None:
    s = sub.add_parser(
        "table", help="a comparison table: papers as rows, aspects (questions) as columns, every cell cited"
    )
    _filters(s)
    s.add_argument(
        "--aspect",
        action="append",
        required=True,
        metavar="QUESTION",
        help="a column, asked of every paper (repeatable)",
    )
    s.add_argument(
        "--paper",
        action="append",
        metavar="ID_OR_KEY_OR_TITLE",
        help="a row: a paper's id, citation key or exact title",
    )
    s.add_argument("query", nargs="?", help="without --paper: the top -k papers for this query are the rows")
    s.add_argument("-k", type=int, default=8, help="papers for QUERY (default 8)")
    s.add_argument("--format", choices=["csv", "markdown"], help="default markdown (csv for -o FILE.csv)")
    s.add_argument("-o", "--out", metavar="FILE", help="write the table to this file (default: standard output)")
    s.add_argument("--bib", metavar="FILE", help="also write the rows' papers as BibTeX")
    s.add_argument("--json", action="store_true", help="the table as JSON: aspects, rows of paper and cited cells")
    s.set_defaults(func=table.cmd_table)


def _chat_and_serve(sub) -> None:
    s = sub.add_parser("chat", help="interactive questions with follow-ups")
    s.set_defaults(func=ask.cmd_chat)

    s = sub.add_parser("serve", help="the web app (Gradio) on http://127.0.0.1:7860")
    s.add_argument("--host", help="address to listen on (default GRADIO_SERVER_NAME, else 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default GRADIO_SERVER_PORT, else 7860)")
    s.add_argument("--watch", action="append", metavar="SOURCE", help="keep this source synced while serving")
    s.set_defaults(func=serve.cmd_serve)


def _eval(sub) -> None:
    s = sub.add_parser("eval", help="score retrieval, refusals and answers on a question set (examples/EVAL_FORMAT.md)")
    s.add_argument(
        "questions", help="JSONL question set, e.g. examples/dev_questions.jsonl, or a table set (examples/tables/)"
    )
    s.add_argument("--json", metavar="OUT", help="also write the full per-question results to this file")
    s.add_argument(
        "--compare",
        choices=["baseline"],
        help="also run the LlamaIndex starter recipe and BM25 alone (needs the eval extra)",
    )
    s.add_argument("-k", type=int, default=10, help="papers retrieved per question (default 10)")
    s.add_argument("--no-grade", action="store_true", help="do not grade answer points with the configured LLM")
    s.add_argument("--gold", metavar="FILE", help="gold sentences for the questions (JSONL of {id, gold_sentences})")
    s.add_argument(
        "--papers",
        metavar="PATH",
        action="append",
        help="add these PDFs / folders / files to the collection first (repeatable); a full-text "
        "question set needs the PDFs it names",
    )
    s.set_defaults(func=evaluation.cmd_eval)


def _export(sub) -> None:
    s = sub.add_parser("export", help="the collection (or some papers) as BibTeX, CSL JSON or RIS")
    _filters(s)
    s.add_argument("ids", nargs="*", help="paper ids (default: every paper, or those the filters leave)")
    s.add_argument("--format", choices=["bibtex", "csl", "ris"], default="bibtex")
    s.add_argument("-o", "--out", help="write to this file (default: standard output)")
    s.set_defaults(func=collection.cmd_export)


def _collection(sub) -> None:
    s = sub.add_parser("papers", help="list the papers in the collection")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=collection.cmd_papers)

    s = sub.add_parser("remove", help="remove papers by id")
    s.add_argument("ids", nargs="+")
    s.set_defaults(func=collection.cmd_remove)

    s = sub.add_parser("reindex", help="re-embed every stored paper (repairs a lost vector store)")
    s.set_defaults(func=collection.cmd_reindex)

    s = sub.add_parser("info", help="collection size, backend, index location")
    s.set_defaults(func=collection.cmd_info)

    s = sub.add_parser(
        "model", help="the bundled embedding model: where it is and where it came from; carry it offline"
    )
    model_sub = s.add_subparsers(dest="model_command", required=True)
    m = model_sub.add_parser(
        "info", help="the model cache, where the model came from and where it is looked for (fetched if missing)"
    )
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=model.cmd_model_info)
    m = model_sub.add_parser(
        "export", help="write the model's ONNX file and tokenizer to DIR, for embed_model=DIR on an offline machine"
    )
    m.add_argument("dir", metavar="DIR")
    m.set_defaults(func=model.cmd_model_export)

    s = sub.add_parser("settings", help="every setting, its current value and environment variable")
    s.add_argument("--json", action="store_true")
    s.add_argument("--markdown", action="store_true", help="the table of every setting (docs/settings.md)")
    s.set_defaults(func=settings_command.cmd_settings)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    for name in ("chromadb", "httpx", "httpx2", "onnxruntime"):  # httpx(2) logs request URLs, credentials and all
        logging.getLogger(name).setLevel(logging.WARNING if args.verbose else logging.ERROR)
    try:
        try:
            return args.func(args)
        except IndexBusy as e:  # another process holds the index: through it, when it takes commands
            code = relay.forward(args, e.root)
            if code is None:
                raise
            return code
    except USER_ERRORS as e:  # what the user can fix: one line (and the traceback with -v)
        if args.verbose:
            logging.getLogger(__name__).exception("details")
        print(f"error: {e}", file=sys.stderr)
        return 2
