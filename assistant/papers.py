"""Reading paper collections: the only module that opens a papers file.

Formats: the Hugging Face papers-page text dump (title line + abstract paragraph after
the date line), JSONL, a JSON array (or {"papers": [...]}), and CSV/TSV.  A record
needs a title and an abstract; id, authors, year, url and code_url are optional.

File-level problems (missing, empty, binary, too big, not parseable at all) raise
CollectionError with a message saying what is wrong.  Record-level problems reject
that record only, with its position and the reason, so the valid records still load.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .types import Paper, Rejection


class CollectionError(ValueError):
    """The file as a whole cannot be read as a paper collection."""


@dataclass
class LoadResult:
    papers: list[Paper] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


DATE_LINE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2}(, \d{4})?$")
URL = re.compile(r"https?://[^\s<>\"'()\[\]{}]+", re.I)
CODE_HOSTS = ("github.com", "gitlab.com", "huggingface.co", "bitbucket.org", "github.io")
_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))
_CONTROL[0x7F] = None
TITLE_MAX = 500


def load_papers(path: str | Path, *, max_mb: float = 50.0, max_records: int = 200_000,
                max_abstract_chars: int = 20_000) -> LoadResult:
    path = Path(path)
    if not path.exists():
        raise CollectionError(f"{path}: no such file")
    if not path.is_file():
        raise CollectionError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise CollectionError(f"{path.name}: the file is empty")
    if size > max_mb * 1024 * 1024:
        raise CollectionError(f"{path.name}: {size / 1e6:.1f} MB is over the {max_mb:g} MB limit (setting max_file_mb)")
    raw = path.read_bytes()
    return parse_papers(raw, path.name, max_records=max_records, max_abstract_chars=max_abstract_chars)


def parse_papers(raw: bytes, name: str, *, max_records: int = 200_000, max_abstract_chars: int = 20_000) -> LoadResult:
    text = _decode(raw, name)
    if not text.strip():
        raise CollectionError(f"{name}: the file has no text")
    fmt = _detect_format(name, text)
    if fmt == "jsonl":
        # One record per line: the limit is checked before any line is parsed.  (JSON and CSV
        # are checked once parsed; max_file_mb already bounds that work.)
        _check_count(sum(1 for line in text.splitlines() if line.strip()), name, max_records)
        records = _jsonl_records(text, name)
    elif fmt == "json":
        records = _json_records(text, name)
    elif fmt == "csv":
        records = _csv_records(text, name)
    else:
        records = _page_records(text, name)
    return _build(records, name, max_records, max_abstract_chars)


# --- decoding and format detection -------------------------------------------------------

def _decode(raw: bytes, name: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a byte-order mark (Windows editors)
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise CollectionError(f"{name}: starts like UTF-16 text but does not decode as UTF-16") from None
    head = raw[:8192]
    if b"\x00" in head:
        raise CollectionError(f"{name}: looks like a binary file (NUL bytes), not a text papers file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CollectionError(
            f"{name}: not UTF-8 text (invalid byte at offset {e.start}); save the file as UTF-8") from None


def _detect_format(name: str, text: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".txt", ".md", ".text"):
        return "page"
    stripped = text.lstrip()
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        first = stripped.split("\n", 1)[0].strip()
        return "jsonl" if first.endswith("}") else "json"
    first = stripped.split("\n", 1)[0].lower()
    if "title" in first and "abstract" in first and ("," in first or "\t" in first):
        return "csv"
    return "page"


# --- record sources: each yields (position, dict) or (position, error string) --------------

def _jsonl_records(text: str, name: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((f"line {n}", json.loads(line)))
        except json.JSONDecodeError as e:
            out.append((f"line {n}", f"malformed JSON ({e.msg} at column {e.colno})"))
    if out and all(isinstance(r, str) for _, r in out):
        raise CollectionError(f"{name}: no line is valid JSON (first: {out[0][0]}: {out[0][1]})")
    return out


def _json_records(text: str, name: str) -> list[tuple[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CollectionError(f"{name}: invalid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if isinstance(data, dict):
        for key in ("papers", "records", "data", "items"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            data = [data]
    if not isinstance(data, list):
        raise CollectionError(f"{name}: expected a JSON array of paper records")
    return [(f"record {i}", r) for i, r in enumerate(data, 1)]


def _csv_records(text: str, name: str) -> list[tuple[str, Any]]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [h.strip().lower() for h in (reader.fieldnames or []) if h]
    missing = [c for c in ("title", "abstract") if c not in header and not (c == "abstract" and "summary" in header)]
    if missing:
        raise CollectionError(f"{name}: CSV header must have columns title and abstract (missing: {', '.join(missing)})")
    out: list[tuple[str, Any]] = []
    try:
        for row in reader:
            n = reader.line_num
            if None in row:  # more cells than header columns
                out.append((f"row {n}", f"{len(row) - 1 + len(row[None])} cells but the header has {len(header)} columns"))
                continue
            out.append((f"row {n}", {(k or "").strip().lower(): v for k, v in row.items()}))
    except csv.Error as e:
        raise CollectionError(f"{name}: CSV parse error at line {reader.line_num}: {e}") from None
    return out


def _page_records(text: str, name: str) -> list[tuple[str, Any]]:
    """Papers-page text: a header up to the date line, then title / abstract paragraphs."""
    lines = [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), 1)]
    nonblank = [(n, ln) for n, ln in lines if ln]
    start = next((i + 1 for i, (_, ln) in enumerate(nonblank) if DATE_LINE.match(ln)), 0)
    body = nonblank[start:]
    out: list[tuple[str, Any]] = []
    i = 0
    while i < len(body):
        n, title = body[i]
        if len(title) > TITLE_MAX:  # an abstract with no title line before it: resynchronise
            out.append((f"line {n}", "paragraph without a title line before it"))
            i += 1
            continue
        if i + 1 >= len(body):
            out.append((f"line {n}", f"title {title[:60]!r} has no abstract after it"))
            break
        out.append((f"line {n}", {"title": title, "abstract": body[i + 1][1]}))
        i += 2
    if not out:
        raise CollectionError(f"{name}: no title/abstract paragraphs found")
    return out


# --- normalisation -------------------------------------------------------------------------

def _check_count(n: int, name: str, max_records: int) -> None:
    if n > max_records:
        raise CollectionError(f"{name}: {n} records is over the limit of {max_records} (setting max_records)")


def _build(records: list[tuple[str, Any]], name: str, max_records: int, max_abstract_chars: int) -> LoadResult:
    _check_count(len(records), name, max_records)
    result = LoadResult()
    seen: dict[str, str] = {}
    for where, rec in records:
        if isinstance(rec, str):
            result.rejected.append(Rejection(where, rec))
            continue
        try:
            paper = normalize_record(rec, max_abstract_chars)
        except ValueError as e:
            result.rejected.append(Rejection(where, str(e)))
            continue
        if paper.id in seen:
            result.rejected.append(Rejection(where, f"duplicate id {paper.id!r} (first at {seen[paper.id]})"))
            continue
        seen[paper.id] = where
        result.papers.append(paper)
    if not result.papers and not result.rejected:
        raise CollectionError(f"{name}: no paper records found")
    return result


def normalize_record(rec: Any, max_abstract_chars: int = 20_000) -> Paper:
    if not isinstance(rec, dict):
        raise ValueError(f"expected an object with title and abstract, got {type(rec).__name__}")
    rec = {str(k).strip().lower(): v for k, v in rec.items()}
    title = clean_text(_first(rec, "title"))
    abstract = clean_text(_first(rec, "abstract", "summary"))
    if not title:
        raise ValueError("missing title")
    if not abstract:
        raise ValueError("missing abstract")
    if len(title) > TITLE_MAX:
        raise ValueError(f"title is {len(title)} characters (limit {TITLE_MAX})")
    if len(abstract) > max_abstract_chars:
        raise ValueError(f"abstract is {len(abstract)} characters (limit {max_abstract_chars}, setting max_abstract_chars)")
    given_id = _first(rec, "id", "paper_id", "arxiv_id")
    pid = clean_text(str(given_id)) if given_id not in (None, "") else title_id(title)
    if len(pid) > 200:
        raise ValueError("id is longer than 200 characters")
    url = _http_url(_first(rec, "url", "link", "pdf_url"))
    code_url = _http_url(_first(rec, "code_url", "code", "github")) or find_code_url(abstract)
    return Paper(id=pid, title=title, abstract=abstract, authors=_authors(_first(rec, "authors", "author")),
                 year=_year(_first(rec, "year", "date", "published")), url=url, code_url=code_url)


def _first(rec: dict, *keys: str) -> Any:
    for k in keys:
        if rec.get(k) not in (None, ""):
            return rec[k]
    return None


def clean_text(value: Any) -> str:
    """NFC text with control characters removed and whitespace collapsed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        if isinstance(value, (int, float)):
            value = str(value)
        else:
            raise ValueError(f"expected text, got {type(value).__name__}")
    value = unicodedata.normalize("NFC", value).translate(_CONTROL)
    return " ".join(value.split())


def title_id(title: str) -> str:
    """Stable id from the title alone (case and spacing insensitive)."""
    key = " ".join(title.lower().split())
    return "t-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def _authors(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, list):
        names = [clean_text(v if isinstance(v, str) else (v.get("name", "") if isinstance(v, dict) else str(v))) for v in value]
    elif isinstance(value, str):
        sep = ";" if ";" in value else (" and " if " and " in value else ",")
        names = [clean_text(v) for v in value.split(sep)]
    else:
        raise ValueError(f"authors must be a list or a string, got {type(value).__name__}")
    return tuple(n for n in names if n)[:100]


def _year(value: Any) -> int | None:
    if value in (None, ""):
        return None
    m = re.search(r"\b(19|20)\d{2}\b", str(value))
    if not m:
        raise ValueError(f"year {str(value)[:20]!r} is not a year")
    return int(m.group(0))


def _http_url(value: Any) -> str:
    """Only http(s) URLs are kept: anything else (javascript:, data:, file:) is dropped."""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    m = URL.fullmatch(value)
    return m.group(0) if m else ""


def find_code_url(abstract: str) -> str:
    urls = [u.rstrip(".,;:") for u in URL.findall(abstract)]
    for u in urls:
        if any(h in u.lower() for h in CODE_HOSTS):
            return u
    return urls[0] if urls else ""


def read_jsonl(path: str | Path) -> Iterable[dict]:
    """Plain JSONL reader for question sets and other tool inputs."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise CollectionError(f"{Path(path).name}: line {n} is not valid JSON ({e.msg})") from None
