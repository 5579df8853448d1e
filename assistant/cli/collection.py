"""The collection commands: `ingest`, `papers`, `remove`, `reindex`, `info` and `export`
(the references as BibTeX, CSL JSON or RIS)."""

from __future__ import annotations

import sys

from assistant.cli.arguments import assistant_for, scope
from assistant.cli.output import file_lines, passages_bar, print_json, progress_bar


def cmd_ingest(args) -> int:
    pa = assistant_for(args)
    progress = passages_bar() if not args.json and sys.stderr.isatty() else None
    on_file = file_lines() if not args.json else None
    report = pa.add_papers(args.file, progress=progress, strict=args.strict, on_file=on_file)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.summary())
        for r in report.rejected:
            print(f"  rejected {r.record}: {r.reason}")
        for w in report.warnings:
            print(f"  kept {w.record} ({w.paper_id}): {w.message}")
    return 0 if report.ok or not report.rejected else 1


def cmd_papers(args) -> int:
    papers = assistant_for(args).papers
    if args.json:
        print_json([p.to_dict() for p in papers])
    else:
        for p in sorted(papers, key=lambda p: p.title.lower()):
            print(f"{p.id}\t{p.title}")
    return 0


def cmd_remove(args) -> int:
    removed = assistant_for(args).remove_papers(args.ids)
    print(f"removed {len(removed)} paper(s)" + (f": {', '.join(removed)}" if removed else ""))
    return 0 if removed else 1


def cmd_reindex(args) -> int:
    n = assistant_for(args, allow_broken_index=True).reindex(progress=progress_bar() if sys.stderr.isatty() else None)
    print(f"re-indexed {n} passages")
    return 0


def cmd_info(args) -> int:
    print_json(assistant_for(args).info())
    return 0


def cmd_export(args) -> int:
    """The collection (or the papers named, or those the filters leave) as BibTeX, CSL JSON or RIS."""
    from assistant import references

    pa = assistant_for(args)
    ids = args.ids or scope(pa, args)
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
