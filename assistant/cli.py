"""`paper-assistant`: a thin command line over the library's public API."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any

import assistant as pa_lib
from assistant.baselines import MissingExtra
from assistant.prompts import FALLBACK_NOTE

# The ONNX runtime and tokenizers print to stderr unless told not to; a CLI should be quiet.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _settings(args) -> "pa_lib.Settings":
    overrides: dict[str, Any] = {}
    for name in ("index_dir", "collection", "chroma_url", "backend", "model", "base_url", "gguf"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value
    return pa_lib.Settings.load(config_file=args.config, **overrides)


def _assistant(args, **kw) -> "pa_lib.PaperAssistant":
    return pa_lib.PaperAssistant(_settings(args), **kw)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def _print_answer(ans: "pa_lib.Answer", streamed: bool = False) -> None:
    if not streamed:
        print(ans.text)
    if ans.fallback:
        print("\n" + FALLBACK_NOTE.format(reason=ans.fallback))
    elif ans.verification and ans.verification.dropped:
        print(f"\n({ans.verification.summary()}.)")
    if ans.citations:
        print("\nReferences")
        for c in ans.citations:
            line = f"  [{c.number}] {c.paper.title}"
            if c.paper.url:
                line += f"  {c.paper.url}"
            if c.paper.code_url:
                line += f"  (code: {c.paper.code_url})"
            print(line)


def progress_bar(stream=None, width: int = 28):
    """A one-line progress bar with rate and time left, redrawn in place (for a terminal)."""
    stream = stream or sys.stderr
    start, first = time.monotonic(), None

    def show(done: int, total: int) -> None:
        nonlocal first
        if total <= 0:
            return
        first = done if first is None else first  # papers already there do not count towards the rate
        elapsed = time.monotonic() - start
        rate = (done - first) / elapsed if elapsed > 0 and done > first else 0.0
        left = f"{(total - done) / rate:4.0f}s left" if rate and done < total else f"{elapsed:4.0f}s"
        filled = width * done // total
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} papers  {rate:5.1f}/s  {left}",
              end="" if done < total else "\n", file=stream, flush=True)

    return show


def cmd_ingest(args) -> int:
    pa = _assistant(args)
    progress = progress_bar() if not args.json and sys.stderr.isatty() else None
    report = pa.add_papers(args.file, progress=progress, strict=args.strict)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
        for r in report.rejected:
            print(f"  rejected {r.record}: {r.reason}")
    return 0 if report.ok or not report.rejected else 1


def cmd_search(args) -> int:
    hits = _assistant(args).search(args.query, k=args.k)
    if args.json:
        _print_json([h.to_dict() for h in hits])
        return 0
    for i, h in enumerate(hits, 1):
        print(f"{i:2d}. {h.score:6.2f}  {h.paper.title}")
        if args.passages:
            print(f"      {h.text[:300]}")
    return 0


def cmd_ask(args) -> int:
    pa = _assistant(args)
    history = json.loads(args.history) if args.history else None
    if args.json:
        _print_json(pa.ask(args.question, history=history).to_dict())
        return 0
    stream = pa.stream(args.question, history=history)
    for piece in stream:
        print(piece, end="", flush=True)
    print()
    _print_answer(stream.answer, streamed=True)
    return 0


def cmd_chat(args) -> int:
    """Interactive questions with follow-ups; an empty line or Ctrl-D ends it."""
    pa = _assistant(args)
    info = pa.info()
    print(f"paper-assistant: {info['papers']} papers, answers by {info['backend']}"
          f"{' (' + info['model'] + ')' if info['model'] else ''}. Ask a question; empty line to quit.")
    history: list[dict[str, str]] = []
    while True:
        try:
            question = input("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        try:
            stream = pa.stream(question, history=history)
            for piece in stream:
                print(piece, end="", flush=True)
            print()
            _print_answer(stream.answer, streamed=True)
        except pa_lib.QuestionError as e:
            print(f"error: {e}")
            continue
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": stream.answer.text}]
        history = history[-8:]


def cmd_papers(args) -> int:
    papers = _assistant(args).papers
    if args.json:
        _print_json([p.to_dict() for p in papers])
    else:
        for p in sorted(papers, key=lambda p: p.title.lower()):
            print(f"{p.id}\t{p.title}")
    return 0


def cmd_remove(args) -> int:
    removed = _assistant(args).remove_papers(args.ids)
    print(f"removed {len(removed)} paper(s)" + (f": {', '.join(removed)}" if removed else ""))
    return 0 if removed else 1


def cmd_reindex(args) -> int:
    n = _assistant(args, allow_broken_index=True).reindex(progress=progress_bar() if sys.stderr.isatty() else None)
    print(f"re-indexed {n} passages")
    return 0


def cmd_info(args) -> int:
    _print_json(_assistant(args).info())
    return 0


def cmd_settings(args) -> int:
    s = _settings(args)
    if args.json:
        _print_json(s.redacted())
        return 0
    for name, env, default, help_ in pa_lib.Settings.describe():
        print(f"{name:20s} {str(s.redacted()[name])[:40]:40s} {env}\n    {help_}")
    return 0


def cmd_serve(args) -> int:
    """The web app (the same one `python app.py` and the Hugging Face Space run)."""
    try:
        from ui.app import build_app, launch, open_assistant
    except ImportError as e:
        print(f"error: the web app needs the ui extra ({e.name} is missing): pip install 'paper-assistant[ui]'",
              file=sys.stderr)
        return 2
    pa = open_assistant(_settings(args))
    info = pa.info()
    print(f"paper-assistant: {info['papers']} papers, answers by {info['backend']}", file=sys.stderr)
    launch(build_app(pa), server_name=args.host, server_port=args.port)
    return 0


def cmd_eval(args) -> int:
    pa = _assistant(args)

    def progress(system: str, done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{system}: {done}/{total} questions", end="" if done < total else "\n", file=sys.stderr)

    report = pa_lib.evaluate(pa, args.questions, compare=args.compare or False,
                             grade=False if args.no_grade else None, k=args.k, progress=progress)
    print(report.table())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report.to_dict(), f, indent=1, ensure_ascii=False)
        print(f"\nper-question results: {args.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="paper-assistant", description=__doc__)
    p.add_argument("--config", help="TOML settings file (also ASSISTANT_CONFIG)")
    p.add_argument("--index-dir", help="index directory (default index_store)")
    p.add_argument("--collection", help="papers file indexed on first use (default: the bundled collection)")
    p.add_argument("--chroma-url", help="use a Chroma server instead of the embedded store")
    p.add_argument("--backend", choices=["auto", "extractive", "openai", "local"],
                   help="where answers come from (default auto: openai when a key or base URL is set)")
    p.add_argument("--model", help="model name (openai backend) or label (local backend)")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (key: OPENAI_API_KEY)")
    p.add_argument("--gguf", help="GGUF model file for the local backend (default: bundled SmolLM2-135M)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="any setting (see `paper-assistant settings`)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="add or update papers from a file (text, JSONL, JSON, CSV)")
    s.add_argument("file")
    s.add_argument("--strict", action="store_true", help="add nothing if any record is bad (default: skip bad records)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("search", help="the best papers for a query")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--passages", action="store_true", help="show each paper's best passage")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("ask", help="answer a question with numbered citations")
    s.add_argument("question")
    s.add_argument("--history", help="earlier turns as a JSON list of {role, content}")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("chat", help="interactive questions with follow-ups")
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("serve", help="the web app (Gradio) on http://127.0.0.1:7860")
    s.add_argument("--host", help="address to listen on (default GRADIO_SERVER_NAME, else 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default GRADIO_SERVER_PORT, else 7860)")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("eval", help="score retrieval, refusals and answers on a question set (examples/EVAL_FORMAT.md)")
    s.add_argument("questions", help="JSONL question set, e.g. examples/dev_questions.jsonl")
    s.add_argument("--json", metavar="OUT", help="also write the full per-question results to this file")
    s.add_argument("--compare", choices=["baseline"],
                   help="also run the LlamaIndex starter recipe and BM25 alone (needs the eval extra)")
    s.add_argument("-k", type=int, default=10, help="papers retrieved per question (default 10)")
    s.add_argument("--no-grade", action="store_true", help="do not grade answer points with the configured LLM")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("papers", help="list the papers in the collection")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_papers)

    s = sub.add_parser("remove", help="remove papers by id")
    s.add_argument("ids", nargs="+")
    s.set_defaults(func=cmd_remove)

    s = sub.add_parser("reindex", help="re-embed every stored paper (repairs a lost vector store)")
    s.set_defaults(func=cmd_reindex)

    s = sub.add_parser("info", help="collection size, backend, index location")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("settings", help="every setting, its current value and environment variable")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_settings)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("chromadb", "httpx", "onnxruntime"):
        logging.getLogger(name).setLevel(logging.WARNING if args.verbose else logging.ERROR)
    try:
        return args.func(args)
    except (pa_lib.CollectionError, pa_lib.QuestionError, pa_lib.IndexError, pa_lib.StoreUnavailable, ValueError,
            KeyError, FileNotFoundError, MissingExtra) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
