"""Records of the bulk metadata dumps: arXiv's snapshot, OpenAlex works, Semantic Scholar papers.

These come as JSON lines, millions of them (arXiv's `arxiv-metadata-oai-snapshot.json` is
about 2.5 million lines of JSON under a .json name; OpenAlex and Semantic Scholar ship
gzipped JSON lines parts).  `jsonish.read_json_lines` streams the lines; this module only
recognises which dump a parsed line comes from (`kind`) and maps it to the record
vocabulary (`to_record`).  Mapping is per record and cheap: no LaTeX conversion of abstracts
here (arXiv's `$...$` math is left as written; cleaning it costs milliseconds per abstract,
hours for a whole snapshot).

Ids: arXiv records are identified by their arXiv id, OpenAlex by "openalex:W...", Semantic
Scholar by "CorpusId:..." (the form its API accepts).
"""

from __future__ import annotations

import re
from typing import Any

from assistant.formats.ids import find_arxiv_id
from assistant.formats.latex import latex_to_text
from assistant.formats.names import person_name, split_authors

_YEAR = re.compile(r"\b(1[89]\d{2}|20\d{2})\b")
MAX_INVERTED_WORDS = 20_000  # an abstract of more words than this is not an abstract


def kind(obj: dict) -> str:
    """ "arxiv", "openalex", "s2" or "" for a record from none of the dumps."""
    if (
        "abstract_inverted_index" in obj
        or "authorships" in obj
        or str(obj.get("id", "")).startswith("https://openalex.org/")
    ):
        return "openalex"
    if any(k in obj for k in ("paperId", "corpusid", "corpusId", "externalids", "externalIds")):
        return "s2"
    if "authors_parsed" in obj or "submitter" in obj or ("categories" in obj and "update_date" in obj):
        return "arxiv"
    return ""


def to_record(obj: dict, which: str) -> dict[str, Any] | str:
    return {"arxiv": arxiv_record, "openalex": openalex_record, "s2": s2_record}[which](obj)


# --- arXiv ------------------------------------------------------------------------------------


def arxiv_record(obj: dict) -> dict[str, Any]:
    """A line of arXiv's metadata snapshot (the OAI-PMH metadata as JSON)."""
    aid = str(obj.get("id") or "").strip()
    title = obj.get("title")
    if isinstance(title, str) and ("\\" in title or "$" in title):
        title = latex_to_text(title)  # titles are short: cheap enough, and they are what people read
    return {
        "id": aid or None,
        "url": f"https://arxiv.org/abs/{aid}" if aid else None,
        "title": title,
        "abstract": obj.get("abstract"),
        "arxiv_id": aid,
        "doi": obj.get("doi"),
        "venue": obj.get("journal-ref") or "",
        "authors": _arxiv_authors(obj),
        "year": _arxiv_year(obj, aid),
        "tags": str(obj.get("categories") or "").split(),
    }


def _arxiv_authors(obj: dict) -> list[str]:
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = [person_name(p) for p in parsed]
    elif isinstance(obj.get("authors"), str):
        names = split_authors(obj["authors"])
    else:
        return []
    return [latex_to_text(n) if "\\" in n else n for n in names]


def _arxiv_year(obj: dict, aid: str) -> int | None:
    """Year of the first version (what a citation shows), else from the id, else the last update."""
    versions = obj.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        m = _YEAR.search(str(versions[0].get("created", "")))
        if m:
            return int(m.group(1))
    m = re.fullmatch(r"(\d{2})(\d{2})\.\d{4,5}(?:v\d+)?", aid) or re.search(r"/(\d{2})(\d{2})\d{3}", aid)
    if m:
        yy = int(m.group(1))
        return (1900 if yy >= 91 else 2000) + yy  # arXiv started in 1991
    m = _YEAR.search(str(obj.get("update_date", "")))
    return int(m.group(1)) if m else None


# --- OpenAlex ---------------------------------------------------------------------------------


def openalex_record(obj: dict) -> dict[str, Any]:
    """An OpenAlex work (API result or snapshot line)."""
    wid = str(obj.get("id") or "").rsplit("/", 1)[-1]
    primary = obj.get("primary_location") if isinstance(obj.get("primary_location"), dict) else {}
    source = primary.get("source") if isinstance(primary.get("source"), dict) else {}
    authorships = obj.get("authorships") if isinstance(obj.get("authorships"), list) else []
    keywords = obj.get("keywords") if isinstance(obj.get("keywords"), list) else []
    landing = primary.get("landing_page_url")
    ids = obj.get("ids") if isinstance(obj.get("ids"), dict) else {}
    rec: dict[str, Any] = {
        "id": f"openalex:{wid}" if wid else None,
        "title": obj.get("title") or obj.get("display_name"),
        "abstract": rebuild_abstract(obj.get("abstract_inverted_index")),
        "authors": [n for n in (person_name(a) for a in authorships) if n],
        "year": obj.get("publication_year") or obj.get("publication_date"),
        "venue": source.get("display_name") or "",
        "doi": obj.get("doi") or ids.get("doi"),
        "url": landing if isinstance(landing, str) else "",
        "tags": [k.get("display_name") for k in keywords if isinstance(k, dict) and k.get("display_name")],
    }
    locations = obj.get("locations") if isinstance(obj.get("locations"), list) else []
    rec["arxiv_id"] = find_arxiv_id(*(loc.get("landing_page_url") for loc in locations if isinstance(loc, dict)))
    return rec


def rebuild_abstract(index: Any) -> str:
    """OpenAlex stores abstracts as {word: [positions]}: put the words back in order."""
    if not isinstance(index, dict) or not index:
        return ""
    placed: list[tuple[int, str]] = []
    for word, positions in index.items():
        if not isinstance(positions, list):
            raise ValueError("abstract_inverted_index is not {word: [positions]}")
        placed.extend((p, str(word)) for p in positions if isinstance(p, int))
        if len(placed) > MAX_INVERTED_WORDS:
            raise ValueError(f"abstract_inverted_index has over {MAX_INVERTED_WORDS} words")
    placed.sort()
    return " ".join(w for _, w in placed)


# --- Semantic Scholar -------------------------------------------------------------------------


def s2_record(obj: dict) -> dict[str, Any] | str:
    """A Semantic Scholar paper: Graph API (camelCase) or datasets (lower case) spelling."""
    if not obj.get("title") and "openaccessinfo" in obj:
        return (
            "a Semantic Scholar 'abstracts' record has no title: read the 'papers' records "
            "(or Graph API results with fields=title,abstract) instead"
        )

    def get(*keys):
        return next((obj[k] for k in keys if obj.get(k) not in (None, "", [])), None)

    ext = get("externalIds", "externalids") or {}
    ext = {str(k).lower(): v for k, v in ext.items()} if isinstance(ext, dict) else {}
    corpus = get("corpusId", "corpusid") or ext.get("corpusid")
    paper_id = get("paperId")
    venue = get("venue")
    if not venue:
        for key in ("publicationVenue", "journal"):
            if isinstance(obj.get(key), dict) and obj[key].get("name"):
                venue = obj[key]["name"]
                break
    fields = get("fieldsOfStudy") or []
    s2fields = get("s2FieldsOfStudy", "s2fieldsofstudy") or []
    tags = [f for f in fields if isinstance(f, str)] + [
        f.get("category") for f in s2fields if isinstance(f, dict) and f.get("category")
    ]
    authors = get("authors") or []
    return {
        "id": f"CorpusId:{corpus}" if corpus else (f"s2:{paper_id}" if paper_id else None),
        "title": get("title"),
        "abstract": get("abstract"),
        "authors": [n for n in (person_name(a) for a in authors) if n] if isinstance(authors, list) else authors,
        "year": get("year", "publicationDate", "publicationdate"),
        "venue": venue or "",
        "doi": ext.get("doi"),
        "arxiv_id": ext.get("arxiv"),
        "url": get("url"),
        "tags": list(dict.fromkeys(tags)),
    }
