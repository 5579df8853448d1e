"""What the commands make of their arguments: the assistant they run with, the papers the filter
flags leave, the --history given; UsageError for an argument that cannot be used, and USER_ERRORS: every error a user can act on."""

from __future__ import annotations

import json
from typing import Any

import assistant as pa_lib
from assistant.cli.settings import settings_for
from assistant.embedding import EmbeddingError
from assistant.settings import SettingsError


class UsageError(Exception):
    """A command-line argument that cannot be used; the message says why."""


# Errors a user can act on.  Anything else is a bug and ends with its traceback.
USER_ERRORS = (
    pa_lib.CollectionError,
    pa_lib.QuestionError,
    pa_lib.IndexProblem,
    SettingsError,
    EmbeddingError,
    UsageError,
    pa_lib.PaperNotFound,
    pa_lib.TableError,
)


def assistant_for(args, **kw) -> pa_lib.PaperAssistant:
    """The assistant the settings name, or the one held by the process this command was relayed to."""
    held = getattr(args, "relay_pa", None)  # run through the process holding the index (cli/relay.py)
    return held if held is not None else pa_lib.PaperAssistant(settings_for(args), **kw)


def scope(pa, args) -> list[str] | None:
    """The ids the filter flags leave (None: no filter given)."""
    filters = filter_values(args)
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


def filter_values(args) -> dict[str, Any]:
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


def history_from(text: str | None) -> list[dict] | None:
    """--history's JSON list of {"role", "content"} messages (None: not given)."""
    if not text:
        return None
    try:
        history = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"--history is not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(history, list) or not all(isinstance(m, dict) for m in history):
        raise UsageError('--history must be a JSON list of {"role": ..., "content": ...} objects')
    return history
