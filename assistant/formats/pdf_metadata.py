"""A PDF's bibliographic record beyond title and authors: year, venue, DOI and arXiv id, from
what the file itself holds -- its document information (Subject, Keywords, custom keys) and
the first two pages as printed, running headers and footers included (`PdfDocument.front`).

Each field is taken only from a statement that names it; a guess is worse than nothing (a
wrong year puts a paper outside the `--year` filter it belongs in):

* DOI: the first DOI printed on the first pages (or in the metadata);
* arXiv id: arXiv's margin stamp or an arxiv.org link on the first pages (or the metadata);
* venue: a journal or proceedings named in a header, footer or "published in" statement;
* year: the arXiv id's, else one printed beside the venue (a header "Journal of X, Volume 3,
  2015", a statement "published in ... (Smith 2008)"), else a copyright line, else a date line
  of the title block ("October 2014").  The file's creation date is not used: a PDF rebuilt
  from its source (a package vignette) carries the year it was rebuilt, not published.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from assistant.formats.ids import DOI, arxiv_from_doi, clean_doi, find_arxiv_id

_YEAR = r"(?:19[5-9]\d|20\d\d)"
_VENUE = re.compile(
    r"\b(?:(?:The\s+)?R\s+Journal|R\s+News|Journal\s+of\s+(?:the\s+)?[A-Z][\w&-]*(?:\s+(?:of|and|in|for|the|&|"
    r"[A-Z][\w&-]*))*|Proceedings\s+of\s+(?:the\s+)?[\w -]{3,80}?(?=[,.;(\n]|\s\d)|"
    r"(?:IEEE|ACM)\s+Transactions\s+on\s+[A-Z][\w -]{3,60}?(?=[,.;(\n]|\s\d)|"
    r"Annals\s+of\s+[A-Z][\w -]{3,40}?(?=[,.;(\n]|\s\d)|Statistical\s+Science|Biometrika|Biometrics|Econometrica|"
    r"Bioinformatics|Nature(?:\s+[A-Z]\w+)?|Science)\b"
)
_COPYRIGHT = re.compile(r"(?:©|\(c\)|copyright)\s*(?:\d{4}\s*[-–]\s*)?(" + _YEAR + r")\b", re.IGNORECASE)
_MONTHS = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
)
_DATE_LINE = re.compile(r"^\s*(?:\d{1,2}\s+)?" + _MONTHS + r"\s+(?:\d{1,2},\s*)?(" + _YEAR + r")\b", re.IGNORECASE)
_PUBLISHED = re.compile(
    r"\b(?:published|appeared|appears|reprinted|accepted|(?:is|was)\s+based\s+on|(?:a|an)\s+(?:\w+\s+)?version\s+of)\b",
    re.IGNORECASE,
)
_NEAR = 160  # characters around a venue (or a "published in") where its year is looked for


@dataclass(frozen=True)
class PdfRecord:
    year: int | None = None
    venue: str = ""
    doi: str = ""
    arxiv_id: str = ""


EDGE_LINES = 3  # lines at the top and bottom of a page that may be its header or footer


def pdf_record(front: str, metadata: dict) -> PdfRecord:
    """Year, venue, DOI and arXiv id from a PDF's first pages (`PdfDocument.front`) and its
    document information."""
    meta = " ".join(str(metadata.get(k, "")) for k in ("Subject", "Keywords", "doi", "DOI"))
    text = front.replace("\f", "\n\n")
    doi = _doi(text) or _doi(meta)
    arxiv = find_arxiv_id(text, meta) or arxiv_from_doi(doi)
    edges = "\n\n".join(_edges(page) for page in front.split("\f"))
    statements = _statements(text)
    venue, year = _venue_and_year(edges)
    if not venue:
        venue, year = _venue_and_year(statements)
    year = _arxiv_year(arxiv) or year or _cited_year(statements) or _year_stated(text)
    return PdfRecord(year=year, venue=venue, doi=doi, arxiv_id=arxiv)


def _doi(text: str) -> str:
    m = DOI.search(text)
    return clean_doi(m.group()) if m else ""


def _edges(page: str) -> str:
    lines = page.split("\n")
    return "\n".join(lines[:EDGE_LINES]) + "\n\n" + "\n".join(lines[-EDGE_LINES:])


def _statements(text: str) -> str:
    """The sentences that say where the paper was published ("published in", "based on")."""
    out = []
    for m in _PUBLISHED.finditer(text):
        out.append(text[max(0, m.start() - _NEAR) : m.end() + _NEAR])
    return "\n\n".join(out)


def _venue_and_year(text: str) -> tuple[str, int | None]:
    """The first journal or proceedings named in `text`, and a year printed just after it."""
    m = _VENUE.search(text)
    if not m:
        return "", None
    venue = re.sub(r"(?:\s+" + _MONTHS + r")+$", "", " ".join(m.group().split())).rstrip(" ,.;:")
    window = text[m.end() : m.end() + _NEAR].split("\n\n")[0]
    years = [int(y) for y in re.findall(r"\b(" + _YEAR + r")\b", window) if _plausible(int(y))]
    return venue, (years[0] if years else None)


def _plausible(year: int) -> bool:
    return 1950 <= year <= time.gmtime().tm_year + 1


def _arxiv_year(arxiv: str) -> int | None:
    m = re.match(r"(\d{2})(\d{2})\.", arxiv) or re.search(r"/(\d{2})(\d{2})\d{3}", arxiv)
    if not m:
        return None
    yy = int(m.group(1))
    return (2000 if yy < 90 else 1900) + yy


def _cited_year(statements: str) -> int | None:
    """The year of the work a "published in" / "based on" statement cites ("Hankin (2005)")."""
    years = [int(y) for y in re.findall(r"[(\s](" + _YEAR + r")[a-z]?\)", statements)]
    years = [y for y in years if _plausible(y)]
    return years[0] if years else None


def _year_stated(text: str) -> int | None:
    """A copyright line's year, else a date line of the title block ("October 2014")."""
    m = _COPYRIGHT.search(text)
    if m and _plausible(int(m.group(1))):
        return int(m.group(1))
    for line in text.split("\n")[:40]:
        d = _DATE_LINE.match(line)
        if d and _plausible(int(d.group(1))):
            return int(d.group(1))
    return None
