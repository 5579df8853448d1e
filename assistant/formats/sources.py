"""Opening a papers file: decompressing, decoding, size and count limits, recognising the
format, and handing the file to its reader.

The format is found from the content first (a .json holding JSON lines, a RIS export saved
as .txt) and the name second; a file in none of the formats is refused with a message
listing them.  `max_mb` bounds the formats read whole into memory; JSON lines are streamed,
bounded by `max_records` (counted before the first record is given out), not by size.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from assistant.formats import FORMAT_NAMES, CollectionError, Records, formats_understood
from assistant.formats.page import looks_like_page

STREAMED = {"jsonl", "arxiv", "openalex", "s2"}
EXTENSIONS = {
    ".bib": "bibtex",
    ".bibtex": "bibtex",
    ".biblatex": "bibtex",
    ".ris": "ris",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "csv",
    ".sqlite": "zotero",
}
_HEAD = 1 << 20  # bytes looked at to recognise a format


@dataclass
class Input:
    """A file to read: a path, or the bytes of an upload (`name` gives its extension and the messages)."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    def raw(self) -> IO[bytes]:
        return open(self.path, "rb") if self.path is not None else io.BytesIO(self.data or b"")

    def binary(self) -> IO[bytes]:
        """The content, decompressed when gzipped (OpenAlex and Semantic Scholar ship .gz parts)."""
        f = self.raw()
        if f.read(2) == b"\x1f\x8b":
            f.seek(0)
            return gzip.open(f, "rb")  # type: ignore[return-value]
        f.seek(0)
        return f


def open_records(src: Input, max_mb: float, max_records: int) -> tuple[str, Records, int]:
    """(format, records, how many records) for a file; whole-file formats are parsed here,
    streams are not started (their records are counted: one per non-blank line)."""
    from assistant.formats import bibtex, csljson, jsonish, page, ris, tabular, zotero

    name = src.name
    with src.raw() as f:
        magic = f.read(16)
    if zotero.is_zotero_db(magic):
        if src.path is not None:
            records = list(zotero.read_zotero(src.path, name))
        else:  # an upload: the reader wants a file to copy
            with tempfile.TemporaryDirectory() as tmp:
                p = Path(tmp) / "zotero.sqlite"
                p.write_bytes(src.data or b"")
                records = list(zotero.read_zotero(p, name))
        return "zotero", iter(_checked_count(records, name, max_records)), len(records)
    try:
        with src.binary() as f:
            head = f.read(_HEAD)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise CollectionError(f"{name}: a gzip file that cannot be decompressed ({e})") from None
    if not head.strip():
        raise CollectionError(f"{name}: the file has no text")
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not utf16 and b"\x00" in head[:8192]:
        raise CollectionError(f"{name}: looks like a binary file (NUL bytes), not a text papers file")
    inner = re.sub(r"\.gz$", "", name, flags=re.IGNORECASE)
    fmt = detect_format(
        inner, head.decode("utf-16" if utf16 else "utf-8", errors="replace"), complete=len(head) < _HEAD
    )
    base_dir = src.path.resolve().parent if src.path is not None else None
    if fmt in STREAMED and not utf16:
        count = _count_lines(src)
        _check_count(count, name, max_records)
        return fmt, jsonish.read_json_lines(src.binary(), name), count
    text = _decode(_read_limited(src, name, max_mb), name)
    if not text.strip():
        raise CollectionError(f"{name}: the file has no text")
    if fmt in STREAMED:  # UTF-16 JSON lines: small enough to have been read whole
        records = _checked_count(list(jsonish.read_json_lines(io.BytesIO(text.encode()), name)), name, max_records)
        return fmt, iter(records), len(records)
    if fmt == "json":
        items = jsonish.load_document(text, name)
        fmt = "csljson" if items and csljson.looks_like_csl(items[0]) else "json"
        records = _checked_count(list(jsonish.document_records(items)), name, max_records)
        return fmt, iter(records), len(records)
    reader = {
        "csv": lambda: tabular.read_csv(text, name),
        "page": lambda: page.read_page(text, name),
        "bibtex": lambda: bibtex.read_bibtex(text, name, base_dir),
        "ris": lambda: ris.read_ris(text, name, base_dir),
    }[fmt]
    records = _checked_count(list(reader()), name, max_records)
    return fmt, iter(records), len(records)


def detect_format(name: str, head: str, complete: bool = True) -> str:
    """The format of a file from its first bytes (`head`, decoded) and its name.

    Content decides when it is recognisable; the extension only picks the reader for a file
    whose content is malformed (so the message is about that format).  Raises CollectionError
    naming the formats understood when neither tells."""
    from assistant.formats.jsonish import record_kind

    suffix = Path(name).suffix.lower()
    text = head.lstrip("\ufeff \t\r\n")
    lines = text.splitlines()
    if not complete and lines:
        lines = lines[:-1]  # the last line may be cut
    nonblank = [ln.strip() for ln in lines if ln.strip()]
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        try:
            first = json.loads(nonblank[0]) if nonblank else None
        except json.JSONDecodeError:
            first = None
        lines_of_objects = len(nonblank) > 1 and isinstance(first, dict) and nonblank[1].startswith("{")
        if lines_of_objects or suffix in (".jsonl", ".ndjson"):
            kind = record_kind(first)
            return kind if kind in STREAMED else "jsonl"
        return "json"
    if any(re.match(r"TY  - ", ln) for ln in nonblank[:30]):
        return "ris"
    code = [ln for ln in nonblank[:200] if not ln.startswith("%")]
    if (code and code[0].startswith("@")) or re.search(
        r"^\s*@[A-Za-z]+\s*[{(]\s*[^\s,{}]+\s*,", text[:100_000], re.MULTILINE
    ):
        return "bibtex"
    if nonblank and _csv_header(nonblank[0]):
        return "csv"
    if looks_like_page(text):
        return "page"
    by_ext = EXTENSIONS.get(suffix)
    if by_ext and by_ext != "zotero":
        return by_ext
    shown = nonblank[0][:60] if nonblank else ""
    raise CollectionError(
        f"{name}: not a papers file in a format understood (it starts {shown!r}). "
        f"Formats understood: {formats_understood()}"
    )


def _csv_header(line: str) -> bool:
    from assistant.formats.tabular import ALIASES

    for delim in (",", "\t", ";"):
        cells = next(csv.reader([line], delimiter=delim), [])
        names = {ALIASES.get(c.strip().lower(), c.strip().lower()) for c in cells}
        if len(cells) >= 2 and "title" in names:
            return True
    return False


def _read_limited(src: Input, name: str, max_mb: float) -> bytes:
    limit = max_mb * 1024 * 1024
    if src.path is not None and src.path.stat().st_size > limit:
        size = src.path.stat().st_size
        raise CollectionError(f"{name}: {size / 1e6:.1f} MB is over the {max_mb:g} MB limit (setting max_file_mb)")
    chunks, total = [], 0
    with src.binary() as f:  # in chunks: a gzip's decompressed size is known only by reading it
        while chunk := f.read(1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise CollectionError(f"{name}: over {max_mb:g} MB once decompressed, the limit (setting max_file_mb)")
    data = b"".join(chunks)
    return data


def _count_lines(src: Input) -> int:
    with src.binary() as f:
        return sum(1 for line in f if line.strip())


def _decode(raw: bytes, name: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a byte-order mark (Windows editors)
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise CollectionError(f"{name}: starts like UTF-16 text but does not decode as UTF-16") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CollectionError(
            f"{name}: not UTF-8 text (invalid byte at offset {e.start}); save the file as UTF-8"
        ) from None


def _check_count(n: int, name: str, max_records: int) -> None:
    if n > max_records:
        raise CollectionError(f"{name}: {n} records is over the limit of {max_records} (setting max_records)")


def _checked_count(records: list, name: str, max_records: int) -> list:
    _check_count(len(records), name, max_records)
    return records


assert set(FORMAT_NAMES) >= STREAMED | set(EXTENSIONS.values())
