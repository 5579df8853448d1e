"""The command line's commands: each `cmd_*` takes the parsed arguments (cli.build_parser)
and does its work through the library's public API, printing what the user asked for."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import assistant as pa_lib
from assistant import embedding
from assistant.answering.prompts import FALLBACK_NOTE
from assistant.settings import SettingsError
from assistant.types import reference_line, where_in_pdf


class UsageError(Exception):
    """A command-line argument that cannot be used; the message says why."""


def _settings(args) -> pa_lib.Settings:
    overrides: dict[str, Any] = {}
    for name in ("index_dir", "collection", "chroma_url", "backend", "model", "base_url", "gguf"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SettingsError(f"--set expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value
    return pa_lib.Settings.load(config_file=args.config, **overrides)


def _assistant(args, **kw) -> pa_lib.PaperAssistant:
    held = getattr(args, "relay_pa", None)  # run through the process holding the index (cli/relay.py)
    return held if held is not None else pa_lib.PaperAssistant(_settings(args), **kw)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def _print_answer(ans: pa_lib.Answer, streamed: bool = False) -> None:
    if not streamed:
        print(ans.text)
    if ans.fallback:
        print("\n" + FALLBACK_NOTE.format(reason=ans.fallback))
    elif ans.verification and ans.verification.dropped:
        print(f"\n({ans.verification.summary()}.)")
    if ans.citations:
        print("\nReferences")
        for c in ans.citations:
            print("  " + reference_line(c))


def progress_bar(unit: str = "papers"):
    """A progress callback (done, total) drawing a tqdm bar on stderr; call it with done == total to finish."""
    from tqdm import tqdm

    bar = None

    def show(done: int, total: int) -> None:
        nonlocal bar
        if total <= 0:
            return
        if bar is None:  # a terminal that reports no size (a bare pty) gets 80 x 24: tqdm draws nothing in 0 rows
            size = shutil.get_terminal_size((80, 24))
            bar = tqdm(
                total=total,
                initial=done,
                unit=unit,
                file=sys.stderr,
                ncols=size.columns or 80,
                nrows=size.lines or 24,
                leave=True,
            )
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return show


def passages_bar():
    """A progress callback for an ingest: a tqdm bar on stderr of the passages embedded, with
    their rate and the time left (its `passages` attribute, index/ingest.py); papers written
    show beside it.  Each write of a long ingest reports its own total: they add up."""
    from tqdm import tqdm

    state = {"bar": None, "base": 0, "last": (0, 0)}

    def passages(done: int, total: int) -> None:
        last_done, last_total = state["last"]
        if done < last_done:  # the next write of the same ingest
            state["base"] += last_total
        state["last"] = (done, total)
        bar = state["bar"]
        if bar is None:
            size = shutil.get_terminal_size((80, 24))
            bar = state["bar"] = tqdm(
                total=total, unit="passages", file=sys.stderr, ncols=size.columns or 80, nrows=size.lines or 24
            )
        bar.total = state["base"] + total
        bar.update(state["base"] + done - bar.n)
        bar.refresh()

    def papers(done: int, total: int) -> None:
        if state["bar"] is not None:  # (files read, for a folder: its passages come after)
            state["bar"].set_postfix_str(f"{done}/{total} written")

    papers.passages = passages
    return papers


def file_lines():
    """An on_file callback printing "  lmer.pdf: 51 pages, 170 passages" per file, on stderr."""

    def show(name: str, outcome: str) -> None:
        print(f"  {name}: {outcome}", file=sys.stderr, flush=True)

    return show


def cmd_ingest(args) -> int:
    pa = _assistant(args)
    progress = passages_bar() if not args.json and sys.stderr.isatty() else None
    on_file = file_lines() if not args.json else None
    report = pa.add_papers(args.file, progress=progress, strict=args.strict, on_file=on_file)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
        for r in report.rejected:
            print(f"  rejected {r.record}: {r.reason}")
        for w in report.warnings:
            print(f"  kept {w.record} ({w.paper_id}): {w.message}")
    return 0 if report.ok or not report.rejected else 1


def _scope(pa, args) -> list[str] | None:
    """The ids the filter flags leave (None: no filter given)."""
    filters = _filter_values(args)
    if not any(v not in (None, "") for v in filters.values()):
        return None
    ids = pa.select_ids(**filters)
    if not ids:
        raise UsageError(
            "no paper in the collection passes the filters "
            + ", ".join(
                f"--{k.replace('_', '-')} {v}"
                for k, v in vars(args).items()
                if k in ("year", "author", "venue", "tag", "key") and v
            )
        )
    return ids


def _filter_values(args) -> dict[str, Any]:
    """The filter flags as select_ids arguments (--year 2019-2023 -> year_from, year_to)."""
    year_from = year_to = None
    if args.year:
        first, sep, last = args.year.partition("-")
        try:
            year_from = int(first) if first else None
            year_to = (int(last) if last else None) if sep else year_from
        except ValueError:
            raise UsageError(f"--year expects 2021 or 2019-2023 (or 2019- / -2023), not {args.year!r}") from None
    return dict(year_from=year_from, year_to=year_to, author=args.author, venue=args.venue, tag=args.tag, key=args.key)


def _write_references(ans, args) -> None:
    for path, text in (
        (args.bib, ans.references_bibtex),
        (args.csl, ans.references_csl),
        (args.ris, ans.references_ris),
    ):
        if path:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text())
            print(f"references: {path}", file=sys.stderr)


def cmd_search(args) -> int:
    pa = _assistant(args)
    hits = pa.search(args.query, k=args.k, paper_ids=_scope(pa, args))
    if args.json:
        _print_json([h.to_dict() for h in hits])
        return 0
    for i, h in enumerate(hits, 1):
        print(f"{i:2d}. {h.score:6.2f}  {h.paper.title}{where_in_pdf(h.page, h.section)}")
        if args.passages:
            print(f"      {h.text[:300]}")
    return 0


def _print_stream(stream) -> None:
    """An answer's text as it comes; on a terminal, while the LLM's text is held back for its
    citation check, what it is doing on a line of its own (stderr), cleared once text shows."""
    status_shown, line_start = False, True  # the status line never overwrites text of the answer
    live = sys.stderr.isatty()
    for piece in stream:
        if live and not piece and line_start and stream.status:
            print(f"\r\033[K({stream.status})", end="", file=sys.stderr, flush=True)
            status_shown = True
            continue
        if status_shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
            status_shown = False
        print(piece, end="", flush=True)
        line_start = piece.endswith("\n") if piece else line_start
    if status_shown:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    print()


def cmd_ask(args) -> int:
    pa = _assistant(args)
    history = _history(args.history)
    ids = _scope(pa, args)
    if args.json or args.cite:
        ans = pa.ask(args.question, history=history, paper_ids=ids)
        if args.json:
            _print_json(ans.to_dict())
        else:
            print(ans.text_with_citations(args.cite))
            _print_answer(ans, streamed=True)
    else:
        stream = pa.stream(args.question, history=history, paper_ids=ids)
        _print_stream(stream)
        ans = stream.answer
        _print_answer(ans, streamed=True)
    _write_references(ans, args)
    return 0


def cmd_table(args) -> int:
    """A comparison table of the papers named (or the top -k for QUERY, or those the filters
    leave): Markdown or CSV, or --json; -o writes it to a file (the format from its suffix)."""
    pa = _assistant(args)
    filters = {k: v for k, v in _filter_values(args).items() if v not in (None, "")}
    if not (args.paper or args.query or filters):
        raise UsageError("name the papers (--paper ID_OR_KEY_OR_TITLE, repeatable), give a QUERY, or a filter")
    progress = progress_bar() if sys.stderr.isatty() and not args.json else None
    table = pa.table(args.aspect, papers=args.paper, query=args.query, k=args.k, progress=progress, **filters)
    if not table.rows:
        raise UsageError("no paper passes the filters given")
    fmt = args.format or ("csv" if args.out and args.out.lower().endswith(".csv") else "markdown")
    text = table.to_json() + "\n" if args.json else table.to_csv() if fmt == "csv" else table.to_markdown()
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        print(f"{len(table.rows)} papers x {len(table.aspects)} aspects written to {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    if args.bib:
        with open(args.bib, "w", encoding="utf-8") as f:
            f.write(table.to_bibtex())
        print(f"references: {args.bib}", file=sys.stderr)
    fell_back = [c for c in table.cells if c.source == "extractive-fallback"]
    if fell_back and not args.json:
        print(
            f"({len(fell_back)} cell(s) quote the paper: the {table.backend} phrase failed its check)", file=sys.stderr
        )
    return 0


def cmd_export(args) -> int:
    """The collection (or the papers named, or those the filters leave) as BibTeX, CSL JSON or RIS."""
    from assistant import references

    pa = _assistant(args)
    ids = args.ids or _scope(pa, args)
    papers = [pa.paper(i) for i in ids] if ids else pa.papers
    writer = {"bibtex": references.to_bibtex, "csl": references.to_csl_json, "ris": references.to_ris}[args.format]
    text = writer(papers)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"{len(papers)} papers written to {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


def _history(text: str | None) -> list[dict] | None:
    if not text:
        return None
    try:
        history = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"--history is not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(history, list) or not all(isinstance(m, dict) for m in history):
        raise UsageError('--history must be a JSON list of {"role": ..., "content": ...} objects')
    return history


def cmd_chat(args) -> int:
    """Interactive questions with follow-ups; an empty line or Ctrl-D ends it."""
    pa = _assistant(args)
    info = pa.info()
    print(
        f"paper-assistant: {info['papers']} papers, answers by {info['backend']}"
        f"{' (' + info['model'] + ')' if info['model'] else ''}. Ask a question; empty line to quit."
    )
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
            _print_stream(stream)
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


def _bundled_model(args) -> embedding.MiniLMEmbedding:
    settings = _settings(args)
    embedder = embedding.create(settings)
    if not isinstance(embedder, embedding.MiniLMEmbedding):
        raise UsageError(
            f"embed_model {settings.embed_model!r} is not the bundled {embedding.MODEL_NAME}: "
            "the model commands carry the bundled model only"
        )
    return embedder


def cmd_model_info(args) -> int:
    """Where the bundled model is cached and where it came from (fetched now if missing, as on first use)."""
    embedder = _bundled_model(args)
    files = embedder.runner().files
    info = {
        "model": embedding.MODEL_NAME,
        "model_cache": embedder.cache_dir,
        "from": files.origin,
        "onnx": str(files.onnx),
        "tokenizer": str(files.tokenizer),
        "looked_for_in": [s.name for s in embedder.model_sources()],
    }
    if args.json:
        _print_json(info)
        return 0
    for key in ("model", "model_cache", "from", "onnx", "tokenizer"):
        print(f"{key + ':':13s}{info[key]}")
    print("looked for in, in order:\n" + "\n".join(f"  {i}. {n}" for i, n in enumerate(info["looked_for_in"], 1)))
    return 0


def cmd_model_export(args) -> int:
    """The ONNX file and tokenizer, in a directory to carry to an offline machine (embed_model=DIR there)."""
    files = _bundled_model(args).runner().files
    target = Path(args.dir).expanduser()
    for path in embedding.write_export(files, target):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(
        f"(from {files.origin}.)  On the offline machine, set embed_model to the directory holding these "
        f"two files (ASSISTANT_EMBED_MODEL=DIR), or copy them into its model cache's {embedding.MODEL_NAME}/ folder."
    )
    return 0


def cmd_settings(args) -> int:
    if args.markdown:
        print(pa_lib.Settings.markdown(), end="")
        return 0
    s = _settings(args)
    if args.json:
        _print_json(s.redacted())
        return 0
    shown = s.redacted()
    for name, env, _default, help_ in pa_lib.Settings.describe():
        print(f"{name:20s} {str(shown[name])[:40]:40s} {env}\n    {help_}")
    return 0


def cmd_serve(args) -> int:
    """The web app (the same one `python app.py` and the Hugging Face Space run)."""
    try:
        from ui.app import build_app, launch, open_assistant
    except ImportError as e:
        print(
            f"error: the web app needs the ui extra ({e.name} is missing): pip install 'paper-assistant[ui]'",
            file=sys.stderr,
        )
        return 2
    from assistant.cli.library import start_watching

    pa = open_assistant(_settings(args))
    info = pa.info()
    print(f"paper-assistant: {info['papers']} papers, answers by {info['backend']}", file=sys.stderr)
    watcher = start_watching(pa, args.watch) if args.watch else None
    relay = start_relay(pa)
    try:
        launch(build_app(pa), server_name=args.host, server_port=args.port)
    finally:
        if watcher is not None:
            watcher.stop()
        if relay is not None:
            relay.stop()
    return 0


def start_relay(pa):
    """Take commands from other terminals while this process holds an embedded index (cli/relay.py)."""
    from assistant.cli.relay import Relay

    if pa.settings.chroma_url or pa.settings.public:  # a server is shared anyway; a public host takes none
        return None
    return Relay(pa).start()


def cmd_eval(args) -> int:
    from assistant.evaluation.baselines import MissingExtra
    from assistant.evaluation.questions import QuestionSetError
    from assistant.evaluation.tables import is_table_set

    pa = _assistant(args)

    def progress(system: str, done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{system}: {done}/{total} questions", end="" if done < total else "\n", file=sys.stderr)

    if Path(args.questions).is_file() and is_table_set(args.questions):  # comparison tables (examples/tables/)
        return _eval_tables(pa, args, progress)
    try:
        report = pa_lib.evaluate(
            pa,
            args.questions,
            compare=args.compare or False,
            grade=False if args.no_grade else None,
            k=args.k,
            progress=progress,
            gold=args.gold,
            papers=args.papers,
        )
    except (MissingExtra, QuestionSetError) as e:
        raise UsageError(str(e)) from None
    return _print_report(report, args.json, "per-question")


def _print_report(report, path: str | None, what: str) -> int:
    """An eval report's table, and its JSON (`what` results) written to `path` when one is given."""
    print(report.table())
    if path:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(report.to_dict(), f, indent=1, ensure_ascii=False)
        print(f"\n{what} results: {path}")
    return 0


def _eval_tables(pa, args, progress) -> int:
    """`eval` of a table set: each table made and its cells scored beside the nearest-passage baseline."""
    from assistant.evaluation.questions import QuestionSetError
    from assistant.evaluation.tables import evaluate_tables

    for src in args.papers or []:
        print(pa.add_papers(src).summary(), file=sys.stderr)
    try:
        report = evaluate_tables(pa, args.questions, progress=progress)
    except QuestionSetError as e:
        raise UsageError(str(e)) from None
    return _print_report(report, args.json, "per-cell")
