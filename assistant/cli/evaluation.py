"""The `eval` command: a question set's answers scored (beside baselines with --compare), or a
table set's cells."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import assistant as pa_lib
from assistant.cli.arguments import UsageError, assistant_for


def cmd_eval(args) -> int:
    from assistant.evaluation.baselines import MissingExtra
    from assistant.evaluation.questions import QuestionSetError
    from assistant.evaluation.tables import is_table_set

    pa = assistant_for(args)

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
