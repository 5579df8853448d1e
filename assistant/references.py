"""References out: papers as BibTeX, CSL JSON or RIS, and [n] markers as \\cite{key}.

Pure functions over Papers.  A paper read from the user's .bib file is exported as the entry
they wrote (key and all, so their manuscript's \\cite commands keep working); any other
paper gets a clean generated entry -- @article when its venue is known, @misc otherwise --
under a readable key ("lovelace2024sparse") unique within the export.  The three writers
carry the same metadata (title, abstract, authors, year, venue, DOI, arXiv id, URL, code
link, keywords), and the readers in `assistant.formats` read every one of them back.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from assistant.text import MARKER_RUN, bib_escape


class Paper(Protocol):
    """What the writers read of a paper (assistant.types.Paper has all of it)."""

    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    year: int | None
    url: str
    code_url: str
    venue: str
    doi: str
    arxiv_id: str
    key: str
    tags: tuple[str, ...]
    pdf_path: str
    bibtex: str


_TITLE_HASH = re.compile(r"^t-[0-9a-f]{12}$")
_KEY_SAFE = re.compile(r"[^A-Za-z0-9_:.\-+]")
_PARTICLES = {
    "van",
    "von",
    "der",
    "den",
    "de",
    "del",
    "della",
    "di",
    "da",
    "la",
    "le",
    "du",
    "dos",
    "das",
    "ter",
    "ten",
    "bin",
    "al",
}


# --- citation keys ---------------------------------------------------------------------------


def citation_keys(papers: Sequence[Paper]) -> list[str]:
    """One key per paper, unique among them: the paper's own citation key when it has one,
    else surname + year + first long title word ("lovelace2024sparse", then "...sparsea")."""
    taken: set[str] = set()
    own = [_KEY_SAFE.sub("", p.key) for p in papers]
    reserved = {k for k in own if k}
    keys = []
    for p, k in zip(papers, own):
        base = k or _generated_key(p)
        key, n = base, 1
        while key in taken or (not k and key in reserved):
            n += 1
            key = f"{base}{chr(ord('a') + n - 2) if n <= 27 else n}"
        taken.add(key)
        keys.append(key)
    return keys


def _ascii_word(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower())


def _generated_key(p: Paper) -> str:
    surname = _ascii_word(split_name(p.authors[0])[0]) if p.authors else ""
    words = [
        w for w in (_ascii_word(w) for w in p.title.split()) if len(w) > 3 and w not in ("with", "from", "towards")
    ]
    return (surname or "paper") + (str(p.year) if p.year else "") + (words[0] if words else "")


def split_name(name: str) -> tuple[str, str]:
    """("van der Berg", "Anna") from "Anna van der Berg": family name with its particles, given names."""
    words = name.split()
    if len(words) < 2:
        return name, ""
    i = len(words) - 1
    while i > 1 and words[i - 1].lower() in _PARTICLES:
        i -= 1
    return " ".join(words[i:]), " ".join(words[:i])


# --- BibTeX ----------------------------------------------------------------------------------


def to_bibtex(papers: Iterable[Paper], *, abstracts: bool = True) -> str:
    """A .bib file: each paper's own entry when it came from one, a generated entry otherwise."""
    papers = list(papers)
    entries = []
    for p, key in zip(papers, citation_keys(papers)):
        if p.bibtex and p.key:
            entries.append(_rekeyed(p.bibtex, p.key, key))
        else:
            entries.append(bibtex_entry(p, key, abstracts=abstracts))
    return "\n\n".join(entries) + ("\n" if entries else "")


def _rekeyed(entry: str, old: str, new: str) -> str:
    """The user's entry, under `new` when two papers in one export had the same key."""
    if old == new:
        return entry
    return re.sub(r"^(\s*@\w+\s*[{(]\s*)" + re.escape(old), lambda m: m.group(1) + new, entry, count=1)


def bibtex_entry(p: Paper, key: str, *, abstracts: bool = True) -> str:
    fields: list[tuple[str, str]] = [("title", "{" + bib_escape(p.title) + "}")]
    if p.authors:
        fields.append(("author", " and ".join(_bib_name(a) for a in p.authors)))  # "First Last": as shown
    if p.year:
        fields.append(("year", str(p.year)))
    if p.venue:
        fields.append(("journal", bib_escape(p.venue)))
    if p.doi:
        fields.append(("doi", p.doi))
    if p.arxiv_id:
        fields += [("eprint", p.arxiv_id), ("archiveprefix", "arXiv")]
    if p.url:
        fields.append(("url", p.url))
    if p.code_url:
        fields.append(("note", "Code: \\url{" + p.code_url + "}"))
    if p.tags:
        fields.append(("keywords", bib_escape(", ".join(p.tags))))
    if abstracts and p.abstract:
        fields.append(("abstract", bib_escape(p.abstract)))
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields)
    return f"@{'article' if p.venue else 'misc'}{{{key},\n{body}\n}}"


def _bib_name(name: str) -> str:
    if "," in name or " and " in f" {name} ":
        return "{" + bib_escape(name) + "}"  # one unit: "Google, Inc." would be read as last, first
    return bib_escape(name)


# --- CSL JSON --------------------------------------------------------------------------------


def to_csl_json(papers: Iterable[Paper]) -> str:
    """A CSL JSON array (Zotero, Pandoc, citeproc); `id` is the paper's id."""
    papers = list(papers)
    return json.dumps([csl_item(p, k) for p, k in zip(papers, citation_keys(papers))], ensure_ascii=False, indent=1)


def csl_item(p: Paper, key: str) -> dict:
    item: dict = {
        "id": p.id,
        "citation-key": key,
        "type": "article-journal" if p.venue else "article",
        "title": p.title,
    }
    if p.abstract:
        item["abstract"] = p.abstract
    if p.authors:
        item["author"] = [_csl_name(a) for a in p.authors]
    if p.year:
        item["issued"] = {"date-parts": [[p.year]]}
    if p.venue:
        item["container-title"] = p.venue
    if p.doi:
        item["DOI"] = p.doi
    if p.url:
        item["URL"] = p.url
    if p.arxiv_id:
        item["number"] = f"arXiv:{p.arxiv_id}"
    if p.tags:
        item["keyword"] = ", ".join(p.tags)
    if p.code_url:
        item["note"] = f"Code: {p.code_url}"
    return item


def _csl_name(name: str) -> dict:
    family, given = split_name(name)
    return {"family": family, "given": given} if given and "," not in name else {"literal": name}


# --- RIS -------------------------------------------------------------------------------------


def to_ris(papers: Iterable[Paper]) -> str:
    """An RIS file (EndNote, Mendeley, Zotero); `ID` is the paper's id, authors "Last, First"."""
    import rispy

    records = []
    for p in papers:
        r: dict = {"type_of_reference": "JOUR" if p.venue else "GEN", "id": p.id, "title": p.title}
        if p.authors:
            r["authors"] = [", ".join(x for x in split_name(a) if x) if "," not in a else a for a in p.authors]
        if p.year:
            r["year"] = str(p.year)
        if p.venue:
            r["secondary_title"] = p.venue
        if p.abstract:
            r["abstract"] = p.abstract
        if p.doi:
            r["doi"] = p.doi
        urls = [u for u in (p.url, f"https://arxiv.org/abs/{p.arxiv_id}" if p.arxiv_id else "") if u]
        if urls:
            r["urls"] = list(dict.fromkeys(urls))
        if p.tags:
            r["keywords"] = list(p.tags)
        if p.code_url:
            r["notes"] = [f"Code: {p.code_url}"]
        if p.pdf_path:
            r["file_attachments1"] = p.pdf_path
        records.append(r)
    return rispy.dumps(records) if records else ""


# --- [n] markers -> \cite{key} -----------------------------------------------------------------


def cite_markers(text: str, cited: Mapping[int, Paper] | Sequence[Paper], *, style: str = "latex") -> str:
    """An answer's [n] markers as citations of the papers' keys: "adapters [1][3]." ->
    "adapters~\\cite{lovelace2024sparse,doe2023graph}." (style "pandoc": "[@a; @b]").
    `cited` maps marker numbers to papers (a list: [1] is its first paper).  Keys are those
    `to_bibtex` gives the same papers, so the snippet and the .bib agree; a marker for a
    number with no paper is left as it is."""
    numbered = dict(cited) if isinstance(cited, Mapping) else {i: p for i, p in enumerate(cited, 1)}
    order = sorted(numbered)
    keys = dict(zip(order, citation_keys([numbered[n] for n in order])))

    def replace(m: re.Match) -> str:
        numbers: list[int] = []
        for a, b in re.findall(r"(\d{1,3})(?:\s*[–-]\s*(\d{1,3}))?", m.group(0)):
            numbers += range(int(a), int(b) + 1) if b and 0 < int(b) - int(a) < 50 else [int(a)]
        if not numbers or any(n not in keys for n in numbers):
            return m.group(0)
        found = list(dict.fromkeys(keys[n] for n in numbers))
        if style == "pandoc":
            return " [" + "; ".join("@" + k for k in found) + "]"
        return "~\\cite{" + ",".join(found) + "}"

    return MARKER_RUN.sub(replace, text)
