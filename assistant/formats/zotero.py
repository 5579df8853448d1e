"""Zotero's own database, zotero.sqlite (Zotero 5, 6 and 7), read-only.

Zotero holds the database open (and locked) while it runs, so the file is first copied to a
temporary file, and the copy is opened read-only (URI mode=ro); every table read must be a
table (not a view), and reading stops past QUERY_SECONDS (an SQLite progress handler).  Items in the trash, notes, attachments
and annotations are skipped; each regular item gives a record with its title, abstractNote,
authors (creators of type author, else editors), date, publication title (or proceedings /
book title, or repository for preprints), DOI, url, citation key (Zotero 7's citationKey
field, or Better BibTeX's "Citation Key:" line in Extra), arXiv id (archiveID "arXiv:..."
or Extra), tags, collections (as "Parent/Child" paths) and its first PDF attachment.

Attachment paths: "storage:paper.pdf" is a file Zotero stored, at
<folder of zotero.sqlite>/storage/<attachment key>/paper.pdf; an absolute path is a linked
file; "attachments:..." (relative to a base folder set in Zotero's preferences) cannot be
resolved from the database alone and is left out.

Ids: "zotero:<item key>" for the user's library, "zotero:<library id>:<item key>" for group
libraries -- stable while the item exists, whatever is edited in it.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.formats import CollectionError, Records
from assistant.formats.csljson import strip_rich_text
from assistant.formats.ids import find_arxiv_id

SKIPPED_TYPES = ("note", "attachment", "annotation")
VENUE_FIELDS = (
    "publicationTitle",
    "proceedingsTitle",
    "bookTitle",
    "conferenceName",
    "websiteTitle",
    "blogTitle",
    "forumTitle",
    "repository",
    "university",
    "institution",
)
FIELDS = ("title", "abstractNote", "date", "DOI", "url", "citationKey", "archiveID", "extra", *VENUE_FIELDS)
# Every table the reader reads: each must be a table, not a view.
READ = (
    "items itemData itemDataValues creators itemCreators creatorTypes fields fieldsCombined itemTypes "
    "itemTypesCombined libraries deletedItems itemTags tags collections collectionItems itemAttachments"
).split()
QUERY_SECONDS = 30.0  # the most reading one database may take
PROGRESS_STEPS = 10_000  # SQLite instructions between two looks at the clock
_EXTRA_KEY = re.compile(r"^\s*Citation Key:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_EXTRA_DOI = re.compile(r"^\s*DOI:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)


def is_zotero_db(head: bytes) -> bool:
    return head.startswith(b"SQLite format 3\x00")


def read_zotero(path: Path, name: str) -> Records:
    """Records of the items in `path` (a zotero.sqlite), read from a temporary copy."""
    with tempfile.TemporaryDirectory(prefix="zotero-copy-") as tmp:
        copy = Path(tmp) / "zotero.sqlite"
        try:
            shutil.copyfile(path, copy)
            for suffix in ("-wal", "-journal"):  # uncommitted pages, when Zotero left any
                if os.path.exists(f"{path}{suffix}"):
                    shutil.copyfile(f"{path}{suffix}", f"{copy}{suffix}")
        except OSError as e:
            raise CollectionError(f"{name}: cannot copy the Zotero database to read it ({e.strerror or e})") from None
        con = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        deadline = time.monotonic() + QUERY_SECONDS
        # Every query is stopped past the deadline: a crafted database (a recursive view, say) cannot hold a core.
        con.set_progress_handler(lambda: int(time.monotonic() > deadline), PROGRESS_STEPS)
        try:
            yield from _items(con, name, path.resolve().parent)
        except sqlite3.OperationalError as e:
            if time.monotonic() > deadline:
                raise CollectionError(
                    f"{name}: reading the database took over {QUERY_SECONDS:g} s; stopped (not a Zotero database "
                    "as Zotero writes it?)"
                ) from None
            raise CollectionError(f"{name}: an SQLite file but not a readable Zotero database ({e})") from None
        except sqlite3.DatabaseError as e:
            raise CollectionError(f"{name}: an SQLite file but not a readable Zotero database ({e})") from None
        finally:
            con.close()


def _tables(con: sqlite3.Connection, name: str) -> set[str]:
    """The tables of the database; refused when one of the names read is not a table (a view
    can run any query, however long) or a required one is missing."""
    kinds = {r[0]: r[1] for r in con.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')")}
    views = sorted(n for n in READ if kinds.get(n) == "view")
    if views:
        raise CollectionError(f"{name}: not a Zotero database ({', '.join(views)} should be tables, not views)")
    tables = {n for n, kind in kinds.items() if kind == "table"}
    if not {"items", "itemData", "itemDataValues", "creators", "itemCreators", "creatorTypes"} <= tables or not (
        {"fields", "fieldsCombined"} & tables and {"itemTypes", "itemTypesCombined"} & tables
    ):
        raise CollectionError(f"{name}: an SQLite database, but not Zotero's (no items/itemData tables)")
    return tables


def _items(con: sqlite3.Connection, name: str, zotero_dir: Path) -> Iterator[tuple[str, Any]]:
    tables = _tables(con, name)
    fields = "fieldsCombined" if "fieldsCombined" in tables else "fields"
    types = "itemTypesCombined" if "itemTypesCombined" in tables else "itemTypes"
    user_libraries = (
        {r[0] for r in con.execute("SELECT libraryID FROM libraries WHERE type='user'")}
        if "libraries" in tables
        else {1}
    )
    trash = "AND i.itemID NOT IN (SELECT itemID FROM deletedItems)" if "deletedItems" in tables else ""
    feeds = (
        "AND i.libraryID NOT IN (SELECT libraryID FROM libraries WHERE type='feed')" if "libraries" in tables else ""
    )
    items = con.execute(
        f"SELECT i.itemID, i.key, i.libraryID, t.typeName FROM items i JOIN {types} t ON t.itemTypeID = i.itemTypeID "
        f"WHERE t.typeName NOT IN ({','.join('?' * len(SKIPPED_TYPES))}) {trash} {feeds} ORDER BY i.itemID",
        SKIPPED_TYPES,
    ).fetchall()
    data = _item_data(con, fields)
    authors = _creators(con)
    tags = (
        _grouped(
            con,
            "SELECT it.itemID, t.name FROM itemTags it JOIN tags t ON t.tagID = it.tagID ORDER BY it.itemID, t.name",
        )
        if "itemTags" in tables
        else {}
    )
    collections = _collections(con) if "collections" in tables else {}
    pdfs = _pdfs(con, zotero_dir) if "itemAttachments" in tables else {}
    for item_id, key, library, _type_name in items:
        d = data.get(item_id, {})
        extra = d.get("extra", "")
        m_key, m_doi = _EXTRA_KEY.search(extra), _EXTRA_DOI.search(extra)
        yield (
            f"item {key}",
            {
                "id": f"zotero:{key}" if library in user_libraries else f"zotero:{library}:{key}",
                "title": strip_rich_text(d.get("title")),
                "abstract": d.get("abstractNote"),
                "authors": authors.get(item_id, []),
                "year": d.get("date"),
                "venue": next((d[f] for f in VENUE_FIELDS if d.get(f)), ""),
                "doi": d.get("DOI") or (m_doi.group(1) if m_doi else None),
                "url": d.get("url"),
                "key": d.get("citationKey") or (m_key.group(1) if m_key else None),
                "arxiv_id": find_arxiv_id(d.get("archiveID"), extra, d.get("url")),
                "tags": tags.get(item_id, []),
                "collections": collections.get(item_id, []),
                "pdf_path": pdfs.get(item_id, ""),
            },
        )


def _item_data(con: sqlite3.Connection, fields: str) -> dict[int, dict[str, str]]:
    out: dict[int, dict[str, str]] = defaultdict(dict)
    rows = con.execute(
        f"SELECT d.itemID, f.fieldName, v.value FROM itemData d JOIN {fields} f ON f.fieldID = d.fieldID "
        f"JOIN itemDataValues v ON v.valueID = d.valueID WHERE f.fieldName IN ({','.join('?' * len(FIELDS))})",
        FIELDS,
    )
    for item_id, field, value in rows:
        out[item_id][field] = str(value)
    return out


def _creators(con: sqlite3.Connection) -> dict[int, list[str]]:
    by_type: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    rows = con.execute(
        "SELECT ic.itemID, ct.creatorType, c.firstName, c.lastName, c.fieldMode FROM itemCreators ic "
        "JOIN creators c ON c.creatorID = ic.creatorID JOIN creatorTypes ct ON ct.creatorTypeID = ic.creatorTypeID "
        "ORDER BY ic.itemID, ic.orderIndex"
    )
    for item_id, ctype, first, last, mode in rows:
        # fieldMode 1: a one-field name (an organisation), kept whole in lastName
        name = (last or "") if mode == 1 else " ".join(p for p in (first, last) if p)
        if name.strip():
            by_type[item_id][ctype].append(name.strip())
    return {i: t.get("author") or t.get("editor") or next(iter(t.values()), []) for i, t in by_type.items()}


def _grouped(con: sqlite3.Connection, sql: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    for item_id, value in con.execute(sql):
        out[item_id].append(str(value))
    return out


def _collections(con: sqlite3.Connection) -> dict[int, list[str]]:
    rows = con.execute("SELECT collectionID, collectionName, parentCollectionID FROM collections").fetchall()
    parent = {cid: (cname, pid) for cid, cname, pid in rows}

    def path(cid: int) -> str:
        names, seen = [], set()
        while cid in parent and cid not in seen:  # `seen`: a damaged database must not loop forever
            seen.add(cid)
            cname, cid = parent[cid]
            names.append(cname)
        return "/".join(reversed(names))

    out: dict[int, list[str]] = defaultdict(list)
    for cid, item_id in con.execute("SELECT collectionID, itemID FROM collectionItems ORDER BY collectionID"):
        out[item_id].append(path(cid))
    return out


def _pdfs(con: sqlite3.Connection, zotero_dir: Path) -> dict[int, str]:
    out: dict[int, str] = {}
    rows = con.execute(
        "SELECT a.parentItemID, i.key, a.path FROM itemAttachments a JOIN items i ON i.itemID = a.itemID "
        "WHERE a.parentItemID IS NOT NULL AND a.path IS NOT NULL "
        "AND (a.contentType = 'application/pdf' OR lower(a.path) LIKE '%.pdf') ORDER BY a.itemID"
    )
    for parent_id, att_key, path in rows:
        if parent_id in out:
            continue
        if path.startswith("storage:"):
            out[parent_id] = str(zotero_dir / "storage" / att_key / path[len("storage:") :])
        elif os.path.isabs(path) or re.match(r"^[A-Za-z]:[\\/]", path):
            out[parent_id] = path
    return out
