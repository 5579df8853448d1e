"""The library commands: `sync` (the collection mirrors its sources), `watch` (and
`serve --watch`: sync as files change)."""

from __future__ import annotations

import sys
from pathlib import Path

from assistant.cli.arguments import UsageError, assistant_for
from assistant.cli.output import file_lines, passages_bar, print_json
from assistant.cli.relay import start_relay
from assistant.ingest.records import CollectionError
from assistant.library import SyncReport
from assistant.library.watch import Watcher

SHOWN = 20  # ids listed per kind of change after a sync (a dry run lists them all)


def print_report(r: SyncReport, out=None) -> None:
    """A sync's summary line, then what changed, one line each (+ added, ~ updated, - removed)."""
    out = out or sys.stdout
    print(r.summary(), file=out)
    most = None if r.dry_run else SHOWN
    for mark, ids in (("+", r.added), ("~", r.updated), ("-", r.removed)):
        for pid in ids[:most]:
            print(f"  {mark} {pid}", file=out)
        if most is not None and len(ids) > most:
            print(f"  {mark} ... and {len(ids) - most} more", file=out)
    for where, pid in r.renamed:
        print(f"  = {where}: the PDF already indexed as {pid} (moved or renamed; not embedded again)", file=out)
    for where, why in r.failures:
        print(f"  ! {where}: {why} (read again when it changes)", file=out)
    for where in r.waiting:
        print(f"  ... {where}: still being written; left for the next sync", file=out)
    for rej in r.rejected:
        print(f"  rejected {rej.record}: {rej.reason}", file=out)
    out.flush()


def cmd_sync(args) -> int:
    pa = assistant_for(args)
    if not args.sources and not pa.sources():
        raise UsageError(
            "no source to sync: give a folder of PDFs and bibliography files, a zotero.sqlite or a .bib/.ris/CSL "
            "JSON file (the index then remembers it, and `paper-assistant sync` alone syncs it again)"
        )
    quiet = args.json or not sys.stderr.isatty()
    reports = pa.sync(
        *args.sources,
        dry_run=args.dry_run,
        progress=None if quiet else passages_bar(),
        on_file=None if args.json else file_lines(),
    )
    if args.json:
        print_json([r.to_dict() for r in reports])
    else:
        for r in reports:
            print_report(r)
    return 1 if any(r.failures for r in reports) else 0


def _watched(pa, sources: list[str]) -> list[str]:
    for s in sources:
        if not Path(s).expanduser().exists():
            raise CollectionError(f"{s}: no such file or folder to watch")
    sources = sources or [s.path for s in pa.sources()]
    if not sources:
        raise UsageError("no source to watch: give a folder of PDFs and bibliography files, a zotero.sqlite or a .bib")
    return sources


def start_watching(pa, sources: list[str]) -> Watcher:
    """`serve --watch`: a background watcher whose syncs are reported on stderr."""
    watcher = Watcher(pa, _watched(pa, sources), on_report=lambda r: print_report(r, sys.stderr))
    return watcher.start()


def cmd_watch(args) -> int:
    pa = assistant_for(args)
    sources = _watched(pa, args.sources)
    watcher = Watcher(pa, sources, interval=args.interval, on_report=print_report)
    relay = start_relay(pa, args.relayed)
    print(f"watching {len(sources)} source(s) for changes; Ctrl-C stops", file=sys.stderr, flush=True)
    try:
        watcher.run()
    except KeyboardInterrupt:
        pass
    finally:
        if relay is not None:
            relay.stop()
    return 0
