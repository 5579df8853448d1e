"""BibTeX / BibLaTeX libraries (.bib), read with bibtexparser 2.

Handled: @string macros (and `#` concatenation, and the standard month macros), nested
braces, @comment blocks and `%` comment lines, @preamble, crossref (the child inherits the
parent's venue, year, editors...), BibLaTeX's journaltitle/date/eprinttype, and LaTeX in
titles, abstracts, names and venues (accents, math, `\\emph`) made Unicode with pylatexenc.
The entry key is the citation key (and so the paper's id).  Each entry keeps its original
text for export; an entry that used @string macros or a crossref keeps an expanded copy
instead, so it still stands alone when exported.

Attachments: the `file` field of JabRef ("desc:path:PDF"), Better BibTeX and Mendeley; a
relative path is taken relative to the .bib file's folder.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from assistant.formats import CollectionError, Records
from assistant.formats.ids import ARXIV, find_arxiv_id, find_code_link
from assistant.formats.latex import latex_to_text
from assistant.formats.names import display_name

MONTHS = {m: m for m in ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")}
# a crossref parent of one of these types is a volume, not a paper
VOLUME_TYPES = {
    "proceedings",
    "mvproceedings",
    "collection",
    "mvcollection",
    "book",
    "mvbook",
    "periodical",
    "reference",
}
NOT_INHERITED = {
    "title",
    "subtitle",
    "titleaddon",
    "abstract",
    "doi",
    "url",
    "eprint",
    "eprinttype",
    "archiveprefix",
    "file",
    "keywords",
    "crossref",
    "ids",
    "shorthand",
    "note",
    "annote",
    "groups",
    "author",
    "pages",
}
CODE_FIELDS = ("code", "github", "repository", "software")
# bibtexparser logs each broken entry as a warning; they are reported as rejections instead
logging.getLogger("bibtexparser.splitter").setLevel(logging.ERROR)
_URL_MACRO = re.compile(r"\\url\{([^{}]*)\}")


def read_bibtex(text: str, name: str, base_dir: Path | None = None) -> Records:
    import bibtexparser

    try:
        library = bibtexparser.parse_string(_blank_comment_lines(text), parse_stack=[])
    except Exception as e:  # noqa: BLE001 - the parser's own bug states; the file is what we can name
        raise CollectionError(f"{name}: the BibTeX parser could not read the file ({type(e).__name__}: {e})") from None
    entries = library.entries
    if not entries and not library.failed_blocks:
        raise CollectionError(f"{name}: no BibTeX entries (@article{{key, ...}}) found")
    strings = dict(MONTHS)
    for s in sorted(library.strings, key=lambda b: b.start_line or 0):
        strings[s.key.lower()] = _resolve(str(s.value), strings)[0]
    by_key = {e.key.lower(): e for e in entries}
    parents = {_resolve(_field_map(e).get("crossref", ""), strings)[0].strip().lower() for e in entries} - {""}
    blocks = sorted([*entries, *library.failed_blocks], key=lambda b: b.start_line or 0)
    for block in blocks:
        line = (block.start_line or 0) + 1
        if not hasattr(block, "entry_type"):
            yield from _failed(block, line)
            continue
        where = f"entry '{block.key}' (line {line})"
        if block.key.lower() in parents and block.entry_type.lower() in VOLUME_TYPES:
            yield (
                where,
                (
                    f"a @{block.entry_type} volume used as a crossref parent: its fields are read into "
                    "the entries that cite it, not added as a paper"
                ),
            )
            continue
        yield where, _record(block, strings, by_key, base_dir)


def _failed(block: Any, line: int) -> Records:
    entry = getattr(block, "ignore_error_block", None)
    if type(block).__name__ == "DuplicateBlockKeyBlock":
        yield f"line {line}", f"duplicate citation key {getattr(block, 'key', '')!r}: the first entry with it is kept"
    elif type(block).__name__ == "DuplicateFieldKeyBlock" and entry is not None:
        yield f"entry '{entry.key}' (line {line})", f"a field appears twice ({', '.join(sorted(block.duplicate_keys))})"
    else:
        error = " ".join(str(getattr(block.error, "abort_reason", "") or block.error).split())
        raw = " ".join((block.raw or "").split())[:60]
        yield f"line {line}", f"unreadable BibTeX entry {raw!r}: {error}"


def _field_map(entry: Any) -> dict[str, str]:
    return {f.key.lower(): str(f.value) for f in entry.fields}


def _record(entry: Any, strings: dict[str, str], by_key: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    fields: dict[str, str] = {}
    expanded = False  # did the entry use macros or a crossref (then its raw text does not stand alone)
    for key, raw in _field_map(entry).items():
        fields[key], used_macro = _resolve(raw, strings)
        expanded |= used_macro and raw.strip().lower() not in MONTHS
    parent = by_key.get(fields.get("crossref", "").strip().lower())
    if parent is not None:
        expanded = True
        inherited = {k: _resolve(v, strings)[0] for k, v in _field_map(parent).items()}
        if "title" in inherited and "booktitle" not in fields:
            fields["booktitle"] = inherited["title"]
        for k, v in inherited.items():
            if k not in NOT_INHERITED:
                fields.setdefault(k, v)
        fields.pop("crossref", None)
    f = {k: v.strip() for k, v in fields.items()}
    venue = next(
        (
            f[k]
            for k in ("journal", "journaltitle", "booktitle", "eventtitle", "howpublished", "institution", "school")
            if f.get(k) and "\\url" not in f[k]
        ),
        "",
    )
    eprint_type = (f.get("archiveprefix") or f.get("eprinttype") or "").lower()
    eprint = f.get("eprint", "")
    arxiv = eprint if eprint and (eprint_type == "arxiv" or (not eprint_type and ARXIV.fullmatch(eprint))) else ""
    notes = (f.get("note", ""), f.get("howpublished", ""))
    return {
        "key": entry.key,
        "title": latex_to_text(f.get("title", "")),
        "abstract": latex_to_text(f.get("abstract", "")),
        "authors": names(f.get("author") or f.get("editor") or ""),
        "year": f.get("year") or f.get("date"),
        "venue": latex_to_text(venue),
        "doi": f.get("doi"),
        "arxiv_id": arxiv or find_arxiv_id(f.get("journal"), *notes, f.get("url"), f.get("volume")),
        "url": _url(f.get("url", "")),
        "code_url": next((_url(f[k]) for k in CODE_FIELDS if f.get(k)), "") or find_code_link(*notes),
        "tags": _list(f.get("keywords", "")) + _list(f.get("mendeley-tags", "")),
        "collections": _list(f.get("groups", "")),
        "pdf_path": _pdf(f.get("file", ""), base_dir),
        "bibtex": _regenerated(entry, fields) if expanded else (entry.raw or "").strip(),
    }


def names(value: str) -> list[str]:
    """BibTeX's "von Last, Jr, First and ..." as display names; "and others" dropped."""
    from bibtexparser.middlewares.names import (
        InvalidNameError,
        parse_single_name_into_parts,
        split_multiple_persons_names,
    )

    out = []
    for raw in split_multiple_persons_names(value):
        if raw.strip().lower() == "others":
            continue
        try:
            parts = parse_single_name_into_parts(raw, strict=False)
            name = " ".join(" ".join(p) for p in (parts.first, parts.von, parts.last, parts.jr) if p)
        except InvalidNameError:
            name = display_name(raw)
        name = " ".join(latex_to_text(name).split())
        if name:
            out.append(name)
    return out


def _resolve(value: str, strings: dict[str, str]) -> tuple[str, bool]:
    """A raw field value ({...}, "...", 2020, macro, or `a # b`) as text; also whether a macro was used."""
    out, used = [], False
    for part in _split_concat(value):
        part = part.strip()
        if len(part) >= 2 and ((part[0] == "{" and part[-1] == "}") or (part[0] == '"' and part[-1] == '"')):
            out.append(part[1:-1])
        elif part.isdigit():
            out.append(part)
        else:
            used = True
            out.append(strings.get(part.lower(), part))  # an undefined macro: its name, as BibTeX warns and goes on
    return "".join(out), used


def _split_concat(value: str) -> list[str]:
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(value):
        if ch == "{" and (i == 0 or value[i - 1] != "\\"):
            depth += 1
        elif ch == "}" and (i == 0 or value[i - 1] != "\\"):
            depth -= 1
        elif ch == '"' and depth == 0:
            quoted = not quoted
        elif ch == "#" and depth == 0 and not quoted:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return parts


def _blank_comment_lines(text: str) -> str:
    """`%` lines outside entries blanked (line numbers kept): an @entry inside one is commented out."""
    out, depth = [], 0
    for line in text.split("\n"):
        if depth <= 0 and line.lstrip().startswith("%"):
            out.append("")
            continue
        out.append(line)
        depth += len(re.findall(r"(?<!\\)\{", line)) - len(re.findall(r"(?<!\\)\}", line))
    return "\n".join(out)


def _regenerated(entry: Any, fields: dict[str, str]) -> str:
    body = ",\n".join(
        f"  {k} = {v}" if v.lower() in MONTHS or v.isdigit() else f"  {k} = {{{v}}}" for k, v in fields.items()
    )
    return f"@{entry.entry_type}{{{entry.key},\n{body}\n}}"


def _url(value: str) -> str:
    m = _URL_MACRO.search(value)
    return (m.group(1) if m else value).strip()


def _list(value: str) -> list[str]:
    return [latex_to_text(t.strip()) for t in re.split(r"[,;]", value) if t.strip()]


def _pdf(value: str, base_dir: Path | None) -> str:
    """The first PDF in a `file` field: "/abs/x.pdf", "desc:rel/x.pdf:PDF" (JabRef), "a.pdf;b.pdf"."""
    for item in re.split(r"(?<!\\);", value):
        parts = re.split(r"(?<!\\):", item)
        path = parts[1] if len(parts) >= 3 else item
        path = path.replace("\\:", ":").replace("\\;", ";").replace("$\\backslash$", "\\").strip()
        if path.lower().endswith(".pdf"):
            p = Path(path)
            if base_dir is not None and not p.is_absolute() and not re.match(r"^[A-Za-z]:[\\/]", path):
                p = base_dir / p
            return str(p)
    return ""
