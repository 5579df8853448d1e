"""Opening a papers file: decompressing, decoding, size and count limits, recognising the
format, and handing the file to its reader.

The format is found from the content first (a .json holding JSON lines, a RIS export saved
as .txt) and the name second; a file in none of the formats is refused with a message
listing them.  `max_mb` bounds the formats read whole into memory; JSON lines are streamed,
bounded by `max_records` (counted before the first record is given out), not by size.
Every read counts the bytes it decompresses (gzip, bz2, xz, a zip of one file) and stops
the moment a limit (`ReadLimits`) is passed, so a compression bomb costs what its limit allows.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import lzma
import math
import re
import tempfile
import zipfile
import zlib
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


# Compressed containers, by their first bytes: what a papers file may come in.
_COMPRESSED = {b"\x1f\x8b": "gzip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip"}
_SUFFIXES = re.compile(r"\.(?:gz|bz2|xz|zip)$", re.IGNORECASE)
_READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, NotImplementedError)


@dataclass(frozen=True)
class ReadLimits:
    """What one file may cost to read: `max_mb` for formats read whole; `max_records`, counted
    before the first record is given out; `max_bytes` of content in all, counted while it is
    decompressed (`bytes_setting` names the setting in messages); `max_line` bytes per JSON
    line; `databases`: whether an SQLite database (zotero.sqlite) may be read at all."""

    max_mb: float = 50.0
    max_records: int = 200_000
    max_bytes: float = math.inf
    bytes_setting: str = "max_decompressed_mb"
    max_line: int = 16_000_000
    databases: bool = True


class _Counted(io.RawIOBase):
    """A stream that counts the bytes it gives and refuses (CollectionError) past `limit`; a
    decompression error becomes a CollectionError naming the file."""

    def __init__(self, inner: IO[bytes], limit: float, name: str, setting: str, kind: str, closers=()):
        self.inner, self.limit, self.name, self.setting, self.kind = inner, limit, name, setting, kind
        self.closers, self.total = (inner, *closers), 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        try:
            data = self.inner.read(len(b))
        except _READ_ERRORS as e:
            raise CollectionError(f"{self.name}: a {self.kind} file that cannot be decompressed ({e})") from None
        n = len(data)
        b[:n] = data
        self.total += n
        if self.total > self.limit:
            raise CollectionError(
                f"{self.name}: over {self.limit / 1e6:.3g} MB once decompressed, the limit (setting {self.setting}); "
                "reading stopped there"
            )
        return n

    def close(self) -> None:
        for c in self.closers:
            c.close()
        super().close()


@dataclass
class Input:
    """A file to read: a path, or the bytes of an upload (`name` gives its extension and the messages)."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    def raw(self) -> IO[bytes]:
        return open(self.path, "rb") if self.path is not None else io.BytesIO(self.data or b"")

    def compression(self) -> str:
        """ "gzip", "bzip2", "xz", "zip" or "" (not compressed), from the first bytes."""
        with self.raw() as f:
            head = f.read(6)
        return next((kind for magic, kind in _COMPRESSED.items() if head.startswith(magic)), "")

    def binary(self, limits: ReadLimits | None = None) -> IO[bytes]:
        """The content, decompressed (OpenAlex and Semantic Scholar ship .gz parts), its bytes
        counted as they are read against `limits.max_bytes`."""
        limits = limits or ReadLimits()
        kind, f = self.compression(), self.raw()
        inner: IO[bytes] = f
        try:
            if kind == "gzip":
                inner = gzip.open(f, "rb")  # type: ignore[assignment]
            elif kind == "bzip2":
                inner = bz2.open(f, "rb")  # type: ignore[assignment]
            elif kind == "xz":
                inner = lzma.open(f, "rb")  # type: ignore[assignment]
            elif kind == "zip":
                inner = _zip_member(f, self.name)
        except _READ_ERRORS as e:
            f.close()
            raise CollectionError(f"{self.name}: a {kind} file that cannot be decompressed ({e})") from None
        counted = _Counted(inner, limits.max_bytes, self.name, limits.bytes_setting, kind or "text", (f,))
        return io.BufferedReader(counted, 1 << 16)


def _zip_member(f: IO[bytes], name: str) -> IO[bytes]:
    archive = zipfile.ZipFile(f)
    files = [i for i in archive.infolist() if not i.is_dir()]
    if len(files) != 1:
        raise CollectionError(f"{name}: a zip archive must hold exactly one papers file (it holds {len(files)})")
    return archive.open(files[0])


def open_records(
    src: Input, max_mb: float, max_records: int, limits: ReadLimits | None = None
) -> tuple[str, Records, int]:
    """(format, records, how many records) for a file; whole-file formats are parsed here,
    streams are not started (their records are counted: one per non-blank line).
    `limits` (default: `max_mb` and `max_records`, no byte limit) bounds what is read."""
    from assistant.formats import jsonish, zotero

    limits = limits or ReadLimits(max_mb=max_mb, max_records=max_records)
    name = src.name
    with src.raw() as f:
        magic = f.read(16)
    if zotero.is_zotero_db(magic):
        return _zotero(src, limits)
    with src.binary(limits) as f:
        head = f.read(_HEAD)
    if not head.strip():
        raise CollectionError(f"{name}: the file has no text")
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if not utf16 and b"\x00" in head[:8192]:
        raise CollectionError(f"{name}: looks like a binary file (NUL bytes), not a text papers file")
    inner = _SUFFIXES.sub("", name)
    fmt = detect_format(
        inner, head.decode("utf-16" if utf16 else "utf-8", errors="replace"), complete=len(head) < _HEAD
    )
    if fmt in STREAMED and not utf16:
        count = _count_lines(src, limits)
        return fmt, jsonish.read_json_lines(src.binary(limits), name, limits.max_line), count
    text = _decode(_read_limited(src, name, limits), name)
    if not text.strip():
        raise CollectionError(f"{name}: the file has no text")
    return _whole_file(fmt, text, src, limits)


def _zotero(src: Input, limits: ReadLimits) -> tuple[str, Records, int]:
    from assistant.formats import zotero

    name = src.name
    if not limits.databases:
        raise CollectionError(
            f"{name}: an SQLite database; databases are not read here, whatever the file is called. "
            f"Formats accepted: {formats_understood(databases=False)}"
        )
    if src.path is not None:
        records = list(zotero.read_zotero(src.path, name))
    else:  # an upload: the reader wants a file to copy
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "zotero.sqlite"
            p.write_bytes(src.data or b"")
            records = list(zotero.read_zotero(p, name))
    return "zotero", iter(_checked_count(records, name, limits.max_records)), len(records)


def _whole_file(fmt: str, text: str, src: Input, limits: ReadLimits) -> tuple[str, Records, int]:
    """A format read whole: its entries counted (cheaply, before parsing where the format allows), then parsed."""
    from assistant.formats import bibtex, csljson, jsonish, page, ris, tabular

    name, max_records = src.name, limits.max_records
    base_dir = src.path.resolve().parent if src.path is not None else None
    if fmt in STREAMED:  # UTF-16 JSON lines: small enough to have been read whole
        records = list(jsonish.read_json_lines(io.BytesIO(text.encode()), name, limits.max_line))
        return fmt, iter(_checked_count(records, name, max_records)), len(records)
    if fmt == "json":
        items = jsonish.load_document(text, name)
        fmt = "csljson" if items and csljson.looks_like_csl(items[0]) else "json"
        records = _checked_count(list(jsonish.document_records(items)), name, max_records)
        return fmt, iter(records), len(records)
    starts = _ENTRY_STARTS.get(fmt)
    if starts is not None:  # an upper bound on the entries, known before the parser runs
        _check_count(len(starts.findall(text)), name, max_records)
    reader = {
        "csv": lambda: tabular.read_csv(text, name),
        "page": lambda: page.read_page(text, name),
        "bibtex": lambda: bibtex.read_bibtex(text, name, base_dir),
        "ris": lambda: ris.read_ris(text, name, base_dir),
    }[fmt]
    records = _checked_count(list(reader()), name, max_records)
    return fmt, iter(records), len(records)


# Where an entry starts, for the formats whose entries can be counted before they are parsed.
_ENTRY_STARTS = {
    "bibtex": re.compile(r"^[ \t]*@(?!(?:string|comment|preamble)\b)[A-Za-z]+[ \t]*[{(]", re.MULTILINE | re.IGNORECASE),
    "ris": re.compile(r"^TY  - ", re.MULTILINE),
}


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


def _read_limited(src: Input, name: str, limits: ReadLimits) -> bytes:
    """The whole content, refused the moment it passes max_mb (or the byte limit, when lower)."""
    max_mb = limits.max_mb
    limit = max_mb * 1024 * 1024
    if src.path is not None and src.path.stat().st_size > limit:
        size = src.path.stat().st_size
        raise CollectionError(f"{name}: {size / 1e6:.1f} MB is over the {max_mb:g} MB limit (setting max_file_mb)")
    chunks, total = [], 0
    with src.binary(limits) as f:  # in chunks: a compressed file's size is known only by reading it
        while chunk := f.read(1 << 20):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise CollectionError(f"{name}: over {max_mb:g} MB once decompressed, the limit (setting max_file_mb)")
    return b"".join(chunks)


def _count_lines(src: Input, limits: ReadLimits) -> int:
    """Non-blank lines, counted without holding one whole; refused the moment they pass max_records."""
    from assistant.formats.jsonish import bounded_lines

    count = 0
    with src.binary(limits) as f:
        for _, line in bounded_lines(f, limits.max_line):
            if line is None or line.strip():
                count += 1
                if count > limits.max_records:
                    raise CollectionError(
                        f"{src.name}: over the limit of {limits.max_records} records (setting max_records); "
                        f"reading stopped at record {count}"
                    )
    return count


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
