"""The `table` command: a comparison table of papers (rows) by aspects (columns)."""

from __future__ import annotations

import sys

from assistant.cli.arguments import UsageError, assistant_for, filter_values
from assistant.cli.output import progress_bar


def cmd_table(args) -> int:
    """A comparison table of the papers named (or the top -k for QUERY, or those the filters
    leave): Markdown or CSV, or --json; -o writes it to a file (the format from its suffix)."""
    pa = assistant_for(args)
    filters = {k: v for k, v in filter_values(args).items() if v not in (None, "")}
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
