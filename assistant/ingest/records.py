"""Reading paper collections: the only module that opens a papers file.

Formats (readers in `assistant.formats`): BibTeX/BibLaTeX, RIS, CSL JSON, Zotero's
zotero.sqlite, JSON lines (including arXiv's metadata snapshot, OpenAlex works and Semantic
Scholar papers, gzipped or not), JSON, CSV/TSV, and the papers-page text.  The format is
found from the content first (a .json holding JSON lines, a RIS export saved as .txt) and
the file name second; a file in none of them is refused with a message listing them --
never guessed into papers.

File-level problems (missing, empty, binary, too big, not parseable at all) raise
CollectionError with a message saying what is wrong.  Record-level problems reject that
record only, with its position and the reason.  Problems with optional fields (a year that
is not a year, a malformed DOI) keep the record without that field and say so in a
LoadWarning; so does a record without an abstract (kept, indexed from its title and
metadata -- see `metadata_text`).  With `strict=True` both are rejections instead.

Size limits: `max_file_mb` bounds the formats read whole into memory; JSON lines are
streamed one line at a time, so a 2 GB arXiv snapshot is bounded by `max_records` (counted
before the first record is given out) and not by its size.

Ids, in order: the record's own id (`id`/`paper_id` field, CSL id, RIS ID, Zotero item key,
OpenAlex/Semantic Scholar/arXiv id of a dump record), else its citation key, else its DOI
(lower case), else its arXiv id, else a hash of its title.  Re-importing an edited library
therefore updates its papers in place, and an unchanged one adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.formats import CollectionError, Records
from assistant.formats.ids import arxiv_from_doi, clean_arxiv_id, clean_doi
from assistant.formats.page import DATE_LINE, TITLE_MAX  # noqa: F401 - DATE_LINE re-exported
from assistant.formats.sources import Input, ReadLimits, detect_format, open_records
from assistant.ingest.chunking import metadata_text  # noqa: F401 - re-exported
from assistant.types import LoadWarning, Paper, Rejection

__all__ = [
    "CollectionError",
    "LoadResult",
    "LoadWarning",
    "PaperStream",
    "clean_text",
    "detect_format",
    "find_code_url",
    "iter_papers",
    "load_papers",
    "metadata_text",
    "normalize_record",
    "parse_papers",
    "read_jsonl",
    "title_id",
]

URL = re.compile(r"https?://[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
CODE_HOSTS = (
    "github.com",
    "gitlab.com",
    "huggingface.co",
    "bitbucket.org",
    "github.io",
    "gitee.com",
    "codeberg.org",
    "sourceforge.net",
)
_CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))
_CONTROL[0x7F] = None
_MAX_LIST = 100  # authors, tags, collections kept per paper


@dataclass
class LoadResult:
    papers: list[Paper] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    warnings: list[LoadWarning] = field(default_factory=list)
    format: str = ""  # a key of formats.FORMAT_NAMES

    @property
    def no_abstract(self) -> list[str]:
        """Ids of the papers kept without an abstract."""
        return [w.paper_id for w in self.warnings if w.kind == "no_abstract"]


# --- entry points ------------------------------------------------------------------------------


class PaperStream:
    """Papers, rejections and warnings of one file, in file order, read lazily (ids deduplicated;
    a paper's warnings come right after it).

    Created by `iter_papers`, which has already checked the file as a whole: `format` is the
    detected format (a key of `assistant.formats.FORMAT_NAMES`)."""

    def __init__(self, name: str, fmt: str, items: Iterator[Paper | Rejection | LoadWarning], count: int = 0):
        self.name, self.format, self._items = name, fmt, items
        self.count = count  # records in the file (papers + rejections, before deduplication)

    def __iter__(self) -> Iterator[Paper | Rejection | LoadWarning]:
        return self._items


def iter_papers(
    path: str | Path,
    *,
    max_file_mb: float = 50.0,
    max_records: int = 200_000,
    max_abstract_chars: int = 20_000,
    strict: bool = False,
    require_abstract: bool = False,
    limits: ReadLimits | None = None,
) -> PaperStream:
    """Read a papers file lazily.  File-level problems raise CollectionError here, before any
    record is read -- except a JSON lines file in which no line is JSON, known only at its end
    (raised by the iteration, after the per-line rejections), and a limit of `limits` passed
    while streaming.  `limits` (default: max_file_mb and max_records) bounds what is read."""
    path = Path(path)
    if not path.exists():
        raise CollectionError(f"{path}: no such file")
    if not path.is_file():
        raise CollectionError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise CollectionError(f"{path.name}: the file is empty")
    fmt, records, count = open_records(Input(path.name, path=path), max_file_mb, max_records, limits)
    return PaperStream(path.name, fmt, _papers(records, max_abstract_chars, strict, require_abstract), count)


def load_papers(
    path: str | Path,
    *,
    max_mb: float = 50.0,
    max_records: int = 200_000,
    max_abstract_chars: int = 20_000,
    strict: bool = False,
    require_abstract: bool = False,
) -> LoadResult:
    """`iter_papers` collected into lists (for collections; a bulk dump is better streamed)."""
    stream = iter_papers(
        path,
        max_file_mb=max_mb,
        max_records=max_records,
        max_abstract_chars=max_abstract_chars,
        strict=strict,
        require_abstract=require_abstract,
    )
    return _collect(stream)


def parse_papers(
    raw: bytes,
    name: str,
    *,
    max_records: int = 200_000,
    max_abstract_chars: int = 20_000,
    strict: bool = False,
    require_abstract: bool = False,
) -> LoadResult:
    """A papers file given as bytes (an upload); `name` gives the extension and the messages."""
    if not raw:
        raise CollectionError(f"{name}: the file is empty")
    fmt, records, count = open_records(Input(name, data=raw), float("inf"), max_records)
    return _collect(PaperStream(name, fmt, _papers(records, max_abstract_chars, strict, require_abstract), count))


def sort_stream(items: Iterable, rejected: list[Rejection], warnings: list[LoadWarning]) -> Iterator:
    """The papers of a stream of papers, rejections and warnings, still streamed; the
    rejections and warnings are appended to the lists given as they pass."""
    for item in items:
        if isinstance(item, Rejection):
            rejected.append(item)
        elif isinstance(item, LoadWarning):
            warnings.append(item)
        else:
            yield item


def _collect(stream: PaperStream) -> LoadResult:
    result = LoadResult(format=stream.format)
    result.papers.extend(sort_stream(stream, result.rejected, result.warnings))
    if not result.papers and not result.rejected:
        raise CollectionError(f"{stream.name}: no paper records found")
    return result


# --- records to papers -------------------------------------------------------------------------


class SeenIds:
    """Ids seen so far, in little memory (a 64-bit hash each, and the line number when there is one)."""

    def __init__(self) -> None:
        self._d: dict[int, int | str] = {}

    def first(self, pid: str, where: str) -> str | None:
        """Where `pid` was first seen, or None (and remember it at `where`)."""
        h = int.from_bytes(hashlib.blake2b(pid.encode("utf-8"), digest_size=8).digest(), "big")
        old = self._d.get(h)
        if old is None:
            m = re.fullmatch(r"line (\d+)", where)
            self._d[h] = int(m.group(1)) if m else where
            return None
        return f"line {old}" if isinstance(old, int) else old


def duplicate(paper_id: str, where: str, first: str) -> Rejection:
    """The rejection of a record whose id an earlier record (at `first`) has."""
    return Rejection(where, f"duplicate id {paper_id!r} (first at {first})")


def _papers(
    records: Records, max_abstract_chars: int, strict: bool, require_abstract: bool
) -> Iterator[Paper | Rejection | LoadWarning]:
    seen = SeenIds()
    for where, rec in records:
        if isinstance(rec, str):
            yield Rejection(where, rec)
            continue
        try:
            paper, notes = _normalize(rec, max_abstract_chars, strict, require_abstract)
        except ValueError as e:
            yield Rejection(where, str(e))
            continue
        first = seen.first(paper.id, where)
        if first is not None:
            yield duplicate(paper.id, where, first)
            continue
        yield paper
        for kind, message in notes:
            yield LoadWarning(where, paper.id, kind, message)


def normalize_record(
    rec: Any, max_abstract_chars: int = 20_000, *, strict: bool = False, require_abstract: bool = False
) -> Paper:
    """A Paper from one record in the reader vocabulary (see `assistant.formats`).

    Raises ValueError for a record that cannot be a paper.  Fields that are only informative
    and cannot be read are left out (with `strict`, they reject the record)."""
    return _normalize(rec, max_abstract_chars, strict, require_abstract)[0]


def _normalize(
    rec: Any, max_abstract_chars: int, strict: bool, require_abstract: bool
) -> tuple[Paper, list[tuple[str, str]]]:
    """The Paper of a record and the notes on it ((kind, message): what was left out or missing)."""
    if not isinstance(rec, dict):
        raise ValueError(f"expected an object with title and abstract, got {type(rec).__name__}")
    r = _Record({str(k).strip().lower(): v for k, v in rec.items()}, strict)
    title, abstract = _title_and_abstract(r, max_abstract_chars, require_abstract)
    year = r.optional("year", _year, "year", "date", "published")
    doi = r.optional("DOI", _doi, "doi") or ""
    arxiv_id = r.optional("arXiv id", _arxiv, "arxiv_id", "arxiv", "eprint") or arxiv_from_doi(doi)
    key = "".join((r.optional("citation key", _text, "key", "citation_key") or "").split())
    given_id = r.get("id", "paper_id")
    pid = clean_text(str(given_id)) if given_id not in (None, "") else key or doi.lower() or arxiv_id or title_id(title)
    if len(pid) > 200:
        raise ValueError("id is longer than 200 characters")
    url = _http_url(r.get("url", "link", "pdf_url"))
    if not url:
        url = f"https://doi.org/{doi}" if doi else (f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else "")
    code_url = _http_url(r.get("code_url", "code", "github")) or find_code_url(abstract)
    for note in r.fields.get("warnings") or ():  # a reader's own notes about the record
        if isinstance(note, str):
            r.notes.append(("field", note))
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=_authors(r.get("authors", "author")),
        year=year,
        url=url,
        code_url=code_url,
        venue=r.optional("venue", _text, "venue", "journal", "booktitle") or "",
        doi=doi,
        arxiv_id=arxiv_id,
        key=key,
        tags=r.optional("tags", _str_list, "tags", "keywords") or (),
        collections=r.optional("collections", _str_list, "collections") or (),
        pdf_path=r.optional("PDF path", _path, "pdf_path", "file") or "",
        bibtex=r.optional("BibTeX entry", _bibtex, "bibtex") or "",
    ), r.notes


@dataclass
class _Record:
    """One record being read: its fields (lower-case names) and the notes on it so far."""

    fields: dict[str, Any]
    strict: bool
    notes: list[tuple[str, str]] = field(default_factory=list)

    def get(self, *keys: str) -> Any:
        """The first of these fields that is set (None: none is)."""
        return _first(self.fields, *keys)

    def optional(self, label: str, fn, *keys: str):
        """fn(the first of these fields), or None with a note (or a rejection when strict) when
        it cannot be read."""
        value = self.get(*keys)
        if value in (None, "", [], ()):
            return None
        try:
            return fn(value)
        except ValueError as e:
            if self.strict:
                raise
            self.notes.append(("field", f"{e} (the {label} is left out)"))
            return None


def _title_and_abstract(r: _Record, max_abstract_chars: int, require_abstract: bool) -> tuple[str, str]:
    """The cleaned title and abstract; ValueError when the record cannot be a paper."""
    title = clean_text(r.get("title"))
    abstract = clean_text(r.get("abstract", "summary"))
    if not title:
        raise ValueError("missing title")
    if len(title) > TITLE_MAX:
        raise ValueError(f"title is {len(title)} characters (limit {TITLE_MAX})")
    if not abstract:
        if r.strict or require_abstract:
            raise ValueError("missing abstract")
        r.notes.insert(0, ("no_abstract", "no abstract: indexed from its title and metadata"))
    if len(abstract) > max_abstract_chars:
        raise ValueError(
            f"abstract is {len(abstract)} characters (limit {max_abstract_chars}, setting max_abstract_chars)"
        )
    return title, abstract


def _first(rec: dict, *keys: str) -> Any:
    for k in keys:
        if rec.get(k) not in (None, "", [], ()):
            return rec[k]
    return None


def clean_text(value: Any) -> str:
    """NFC text with control characters removed and whitespace collapsed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        else:
            raise ValueError(f"expected text, got {type(value).__name__}")
    value = unicodedata.normalize("NFC", value).translate(_CONTROL)
    return " ".join(value.split())


_text = clean_text


def title_id(title: str) -> str:
    """Stable id from the title alone (case and spacing insensitive)."""
    key = " ".join(title.lower().split())
    return "t-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def _authors(value: Any) -> tuple[str, ...]:
    from assistant.formats.names import person_name, split_authors

    if value in (None, ""):
        return ()
    if isinstance(value, list):
        names = [clean_text(person_name(v) if isinstance(v, (str, dict, list)) else str(v)) for v in value]
    elif isinstance(value, str):
        names = [clean_text(v) for v in split_authors(value)]
    else:
        raise ValueError(f"authors must be a list or a string, got {type(value).__name__}")
    return tuple(n for n in names if n)[:_MAX_LIST]


def _year(value: Any) -> int | None:
    if value in (None, ""):
        return None
    m = re.search(r"\b(1[5-9]\d{2}|20\d{2})\b", str(value))
    if not m:
        raise ValueError(f"year {str(value)[:20]!r} is not a year")
    return int(m.group(0))


def _doi(value: Any) -> str:
    if value in (None, ""):
        return ""
    doi = clean_doi(clean_text(value))
    if not doi:
        raise ValueError(f"DOI {str(value)[:40]!r} is not a DOI")
    return doi


def _arxiv(value: Any) -> str:
    if value in (None, ""):
        return ""
    aid = clean_arxiv_id(clean_text(value))
    if not aid:
        raise ValueError(f"arXiv id {str(value)[:40]!r} is not an arXiv id")
    return aid


def _str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = re.split(r"\s*[;,]\s*", value)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"expected a list of names, got {type(value).__name__}")
    return tuple(dict.fromkeys(t for t in (clean_text(v) for v in value if isinstance(v, (str, int))) if t))[:_MAX_LIST]


def _path(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a file path, got {type(value).__name__}")
    return value.translate(_CONTROL).strip()


def _bibtex(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected BibTeX text, got {type(value).__name__}")
    if len(value) > 100_000:
        raise ValueError(f"BibTeX entry is {len(value)} characters")
    return value.strip()


def _http_url(value: Any) -> str:
    """Only http(s) URLs are kept: anything else (javascript:, data:, file:) is dropped."""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    m = URL.fullmatch(value)
    return m.group(0) if m else ""


def find_code_url(abstract: str) -> str:
    """The first link to a code host (GitHub, GitLab, Hugging Face, project pages on github.io...)
    in an abstract; other links (datasets, demos, publishers) are not code."""
    for u in URL.findall(abstract):
        u = u.rstrip(".,;:")
        host = u.split("/")[2].lower() if u.count("/") >= 2 else ""
        if any(host == h or host.endswith("." + h) for h in CODE_HOSTS):
            return u
    return ""


def read_jsonl(path: str | Path) -> Iterable[dict]:
    """Plain JSONL reader for question sets and other tool inputs."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise CollectionError(f"{Path(path).name}: line {n} is not valid JSON ({e.msg})") from None
