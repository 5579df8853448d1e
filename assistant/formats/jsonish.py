"""JSON documents and JSON lines, including CSL JSON and the bulk dumps.

`read_json` parses a whole document (an array of records, or an object holding one under
"papers", "records", "data", "items" or "results" -- OpenAlex and Semantic Scholar API
responses -- or a single record).  `read_json_lines` streams one record per line from a
binary stream, never holding more than one line: arXiv's 2.5-million-line snapshot is read
in constant memory.  Each parsed object goes through `map_record`, which recognises CSL JSON
items and dump records and maps them to the record vocabulary; anything else is taken as a
record in that vocabulary already.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from assistant.formats import CollectionError, Record, Records, csljson, dumps

_WRAPPERS = ("papers", "records", "data", "items", "results")


def record_kind(obj: Any) -> str:
    """ "arxiv", "openalex", "s2", "csljson" or "" (the plain vocabulary)."""
    if not isinstance(obj, dict):
        return ""
    return dumps.kind(obj) or ("csljson" if csljson.looks_like_csl(obj) else "")


def map_record(obj: Any) -> Record | Any:
    """A parsed JSON value as a record (non-objects are passed on for `normalize_record` to refuse)."""
    which = record_kind(obj)
    try:
        if which == "csljson":
            return csljson.to_record(obj)
        if which:
            return dumps.to_record(obj, which)
    except ValueError as e:
        return str(e)
    except (TypeError, AttributeError, KeyError, IndexError) as e:  # a shape no mapper expected: this record only
        return f"a {which} record with an unexpected shape ({type(e).__name__}: {e})"
    return obj


def unwrap(data: Any) -> Any:
    if isinstance(data, dict):
        for key in _WRAPPERS:
            if isinstance(data.get(key), list):
                return data[key]
        return [data]
    return data


def load_document(text: str, name: str) -> list:
    """The records of a JSON document, unparsed (so the caller can tell CSL JSON from the rest)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CollectionError(f"{name}: invalid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    data = unwrap(data)
    if not isinstance(data, list):
        raise CollectionError(f"{name}: expected a JSON array of paper records")
    return data


def document_records(items: list) -> Records:
    for i, obj in enumerate(items, 1):
        yield f"record {i}", map_record(obj)


def read_json(text: str, name: str) -> Records:
    return document_records(load_document(text, name))


MAX_LINE = 16_000_000  # bytes of one JSON line, unless the caller says otherwise


def bounded_lines(stream: IO[bytes], max_line: int = MAX_LINE) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) for each line of a binary stream; None for a line longer than
    `max_line` bytes, which is skipped without ever being held whole."""
    n = 0
    while line := stream.readline(max_line + 1):
        n += 1
        if len(line) > max_line and not line.endswith(b"\n"):
            while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield n, None
        else:
            yield n, line


def read_json_lines(stream: IO[bytes], name: str, max_line: int = MAX_LINE) -> Records:
    """One record per non-blank line (a line over `max_line` bytes is one rejected record).
    Raises CollectionError at the end when no line was JSON."""
    lines = bad = 0
    first_error = ""
    for n, raw in bounded_lines(stream, max_line):
        where = f"line {n}"
        if raw is None:
            lines += 1
            bad += 1
            msg = f"a line longer than {max_line / 1e6:g} MB (setting max_line_mb): not read"
            first_error = first_error or f"{where}: {msg}"
            yield where, msg
            continue
        if not raw.strip():
            continue
        lines += 1
        try:
            text = raw.decode("utf-8-sig" if n == 1 else "utf-8")
        except UnicodeDecodeError as e:
            bad += 1
            first_error = first_error or f"{where}: not UTF-8"
            yield where, f"not UTF-8 text (invalid byte at column {e.start + 1})"
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            bad += 1
            msg = f"malformed JSON ({e.msg} at column {e.colno})"
            first_error = first_error or f"{where}: {msg}"
            yield where, msg
            continue
        yield where, map_record(obj)
    if lines and bad == lines:
        raise CollectionError(f"{name}: no line is valid JSON (first: {first_error})")
