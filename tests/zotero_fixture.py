"""Builds a small zotero.sqlite for the tests, as Zotero 7 lays it out.

The CREATE TABLE statements are the tables the reader touches, copied from Zotero's own
schema: resource/schema/userdata.sql of the zotero/zotero repository (schema version 129,
commit f2a42bec, 2026-08-21).  Item type, field and creator type names come from Zotero's
global schema (zotero/zotero-schema, schema.json version 41); their numeric ids are assigned
by Zotero when it loads that schema, and are numbered here in schema.json order.

The library: a journal article (two authors and an editor, tags, a nested collection, a
stored PDF and a note), a conference paper (citation key, an organisation as author, a
linked PDF and a link to a web page), a preprint without an abstract (arXiv id in
archiveID, citation key in Extra), an item in the trash, a standalone note, an item with a
PDF relative to the attachment base folder, an item without a title, a group-library item
and an item in an RSS feed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE itemTypes (itemTypeID INTEGER PRIMARY KEY, typeName TEXT, templateItemTypeID INT, display INT DEFAULT 1);
CREATE TABLE itemTypesCombined (itemTypeID INT NOT NULL, typeName TEXT NOT NULL, display INT DEFAULT 1 NOT NULL,
    custom INT NOT NULL, PRIMARY KEY (itemTypeID));
CREATE TABLE fields (fieldID INTEGER PRIMARY KEY, fieldName TEXT, fieldFormatID INT);
CREATE TABLE fieldsCombined (fieldID INT NOT NULL, fieldName TEXT NOT NULL, label TEXT, fieldFormatID INT,
    custom INT NOT NULL, PRIMARY KEY (fieldID));
CREATE TABLE creatorTypes (creatorTypeID INTEGER PRIMARY KEY, creatorType TEXT);
CREATE TABLE libraries (libraryID INTEGER PRIMARY KEY, type TEXT NOT NULL, editable INT NOT NULL,
    filesEditable INT NOT NULL, version INT NOT NULL DEFAULT 0, clientVersion INT NOT NULL DEFAULT 0,
    storageVersion INT NOT NULL DEFAULT 0, lastSync INT NOT NULL DEFAULT 0, archived INT NOT NULL DEFAULT 0,
    isAdmin INT NOT NULL DEFAULT 0);
CREATE TABLE items (itemID INTEGER PRIMARY KEY, itemTypeID INT NOT NULL,
    dateAdded TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, dateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, libraryID INT NOT NULL, key TEXT NOT NULL,
    version INT NOT NULL DEFAULT 0, clientVersion INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0,
    UNIQUE (libraryID, key), FOREIGN KEY (libraryID) REFERENCES libraries(libraryID) ON DELETE CASCADE);
CREATE TABLE itemDataValues (valueID INTEGER PRIMARY KEY, value UNIQUE, valueNormalized TEXT);
CREATE TABLE itemData (itemID INT, fieldID INT, valueID, PRIMARY KEY (itemID, fieldID),
    FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE,
    FOREIGN KEY (fieldID) REFERENCES fieldsCombined(fieldID), FOREIGN KEY (valueID) REFERENCES itemDataValues(valueID));
CREATE TABLE itemNotes (itemID INTEGER PRIMARY KEY, parentItemID INT, note TEXT, title TEXT,
    FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE,
    FOREIGN KEY (parentItemID) REFERENCES items(itemID) ON DELETE CASCADE);
CREATE TABLE itemAttachments (itemID INTEGER PRIMARY KEY, parentItemID INT, linkMode INT, contentType TEXT,
    charsetID INT, path TEXT, syncState INT DEFAULT 0, storageModTime INT, storageHash TEXT,
    lastProcessedModificationTime INT, lastRead INT,
    FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE,
    FOREIGN KEY (parentItemID) REFERENCES items(itemID) ON DELETE CASCADE);
CREATE TABLE tags (tagID INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, nameNormalized TEXT);
CREATE TABLE itemTags (itemID INT NOT NULL, tagID INT NOT NULL, type INT NOT NULL, PRIMARY KEY (itemID, tagID),
    FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE, FOREIGN KEY (tagID) REFERENCES tags(tagID) ON DELETE CASCADE);
CREATE TABLE creators (creatorID INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, fieldMode INT,
    firstNameNormalized TEXT, lastNameNormalized TEXT, UNIQUE (lastName, firstName, fieldMode));
CREATE TABLE itemCreators (itemID INT NOT NULL, creatorID INT NOT NULL, creatorTypeID INT NOT NULL DEFAULT 1,
    orderIndex INT NOT NULL DEFAULT 0, PRIMARY KEY (itemID, creatorID, creatorTypeID, orderIndex), UNIQUE (itemID, orderIndex),
    FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE,
    FOREIGN KEY (creatorID) REFERENCES creators(creatorID) ON DELETE CASCADE,
    FOREIGN KEY (creatorTypeID) REFERENCES creatorTypes(creatorTypeID));
CREATE TABLE collections (collectionID INTEGER PRIMARY KEY, collectionName TEXT NOT NULL, parentCollectionID INT DEFAULT NULL,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, libraryID INT NOT NULL, key TEXT NOT NULL,
    version INT NOT NULL DEFAULT 0, clientVersion INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0,
    UNIQUE (libraryID, key), FOREIGN KEY (libraryID) REFERENCES libraries(libraryID) ON DELETE CASCADE,
    FOREIGN KEY (parentCollectionID) REFERENCES collections(collectionID) ON DELETE CASCADE);
CREATE TABLE collectionItems (collectionID INT NOT NULL, itemID INT NOT NULL, orderIndex INT NOT NULL DEFAULT 0,
    PRIMARY KEY (collectionID, itemID), FOREIGN KEY (collectionID) REFERENCES collections(collectionID) ON DELETE CASCADE,
    FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE);
CREATE TABLE deletedItems (itemID INTEGER PRIMARY KEY, dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL,
    FOREIGN KEY (itemID) REFERENCES items(itemID) ON DELETE CASCADE);
"""

# schema.json order (global schema version 41)
ITEM_TYPES = {
    "annotation": 1,
    "attachment": 3,
    "book": 7,
    "conferencePaper": 11,
    "journalArticle": 22,
    "note": 28,
    "preprint": 31,
}
FIELDS = {
    "title": 1,
    "abstractNote": 2,
    "date": 5,
    "DOI": 7,
    "citationKey": 8,
    "url": 9,
    "accessDate": 10,
    "extra": 18,
    "proceedingsTitle": 60,
    "repository": 65,
    "publicationTitle": 78,
    "archiveID": 104,
}
CREATOR_TYPES = {"contributor": 2, "author": 10, "editor": 12}
LINK_IMPORTED_FILE, LINK_LINKED_FILE, LINK_LINKED_URL = 0, 2, 3  # Zotero.Attachments.LINK_MODE_*


class _Builder:
    def __init__(self, con: sqlite3.Connection):
        self.con = con
        self.next_item = 1

    def value(self, value: str) -> int:
        row = self.con.execute("SELECT valueID FROM itemDataValues WHERE value = ?", (value,)).fetchone()
        if row:
            return row[0]
        return self.con.execute("INSERT INTO itemDataValues (value) VALUES (?)", (value,)).lastrowid

    def item(self, type_name: str, key: str, library: int = 1, **data: str) -> int:
        item_id = self.next_item
        self.next_item += 1
        self.con.execute(
            "INSERT INTO items (itemID, itemTypeID, libraryID, key) VALUES (?, ?, ?, ?)",
            (item_id, ITEM_TYPES[type_name], library, key),
        )
        for name, value in data.items():
            self.con.execute("INSERT INTO itemData VALUES (?, ?, ?)", (item_id, FIELDS[name], self.value(value)))
        return item_id

    def creators(self, item_id: int, *people: tuple[str, str, str, int]) -> None:
        for order, (first, last, ctype, mode) in enumerate(people):
            row = self.con.execute(
                "SELECT creatorID FROM creators WHERE firstName = ? AND lastName = ? AND fieldMode = ?",
                (first, last, mode),
            ).fetchone()
            cid = (
                row[0]
                if row
                else self.con.execute(
                    "INSERT INTO creators (firstName, lastName, fieldMode) VALUES (?, ?, ?)", (first, last, mode)
                ).lastrowid
            )
            self.con.execute(
                "INSERT INTO itemCreators VALUES (?, ?, ?, ?)", (item_id, cid, CREATOR_TYPES[ctype], order)
            )

    def tags(self, item_id: int, *names: str) -> None:
        for name in names:
            row = self.con.execute("SELECT tagID FROM tags WHERE name = ?", (name,)).fetchone()
            tid = row[0] if row else self.con.execute("INSERT INTO tags (name) VALUES (?)", (name,)).lastrowid
            self.con.execute("INSERT INTO itemTags VALUES (?, ?, 0)", (item_id, tid))

    def attachment(
        self, parent: int, key: str, link_mode: int, path: str | None, content_type: str = "application/pdf"
    ) -> int:
        item_id = self.item("attachment", key)
        self.con.execute(
            "INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) VALUES (?, ?, ?, ?, ?)",
            (item_id, parent, link_mode, content_type, path),
        )
        return item_id


def build_zotero_db(folder: Path) -> Path:
    """`folder`/zotero.sqlite with the library described at the top; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zotero.sqlite"
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    for name, tid in ITEM_TYPES.items():
        con.execute("INSERT INTO itemTypes VALUES (?, ?, NULL, 1)", (tid, name))
        con.execute("INSERT INTO itemTypesCombined VALUES (?, ?, 1, 0)", (tid, name))
    for name, fid in FIELDS.items():
        con.execute("INSERT INTO fields VALUES (?, ?, NULL)", (fid, name))
        con.execute("INSERT INTO fieldsCombined VALUES (?, ?, NULL, NULL, 0)", (fid, name))
    for name, cid in CREATOR_TYPES.items():
        con.execute("INSERT INTO creatorTypes VALUES (?, ?)", (cid, name))
    con.executemany(
        "INSERT INTO libraries (libraryID, type, editable, filesEditable) VALUES (?, ?, 1, 1)",
        [(1, "user"), (2, "group"), (3, "feed")],
    )
    b = _Builder(con)

    article = b.item(
        "journalArticle",
        "ABCD2345",
        title="Graph Transformers for <i>Molecular</i> Property Prediction",
        abstractNote="We study graph transformers that predict molecular properties. "
        "Positional encodings from random walks matter most.",
        date="2023-05-14 2023-05-14",
        publicationTitle="Journal of Chemical Information",
        DOI="10.5555/chen.2023.14",
        url="https://example.org/chen2023",
    )
    b.creators(
        article, ("Wei", "Chen", "author", 0), ("Anna", "van der Berg", "author", 0), ("Ed", "Itor", "editor", 0)
    )
    b.tags(article, "graphs", "chemistry")
    b.attachment(article, "EFGH6789", LINK_IMPORTED_FILE, "storage:chen2023.pdf")
    note = b.item("note", "NOTE0001")
    con.execute("INSERT INTO itemNotes VALUES (?, ?, '<p>A child note</p>', 'A child note')", (note, article))

    paper = b.item(
        "conferencePaper",
        "MNOP4567",
        title="Sparse Mixture of Adapters for Speech Recognition",
        abstractNote="We adapt a frozen speech encoder to accented English with a sparse mixture of adapters.",
        date="2021-12-00 December 2021",
        proceedingsTitle="Advances in Neural Information Processing Systems",
        citationKey="mueller2021adapters",
    )
    b.creators(paper, ("Jörg", "Müller", "author", 0), ("", "Google Research", "author", 1))
    b.attachment(paper, "QRST8901", LINK_LINKED_URL, None, content_type="text/html")
    b.attachment(paper, "UVWX2345", LINK_LINKED_FILE, "/data/papers/mueller2021.pdf")

    preprint = b.item(
        "preprint",
        "IJKL0123",
        title="A Preprint Without an Abstract",
        date="2024-01-02 2024-01-02",
        repository="arXiv",
        archiveID="arXiv:2401.00001",
        url="http://arxiv.org/abs/2401.00001",
        extra="Citation Key: nobody2024preprint\ntex.note: kept by Better BibTeX",
    )
    b.creators(preprint, ("Ann", "Nobody", "author", 0))

    trashed = b.item("journalArticle", "TRSH0001", title="An Item in the Trash", abstractNote="Deleted.")
    con.execute("INSERT INTO deletedItems (itemID) VALUES (?)", (trashed,))
    b.item("note", "NOTE0002")  # a standalone note: not a paper

    relative = b.item(
        "journalArticle",
        "RELA0001",
        title="A Paper Whose PDF Is Under the Base Folder",
        abstractNote="Its attachment path is relative to a folder set in Zotero's preferences.",
        date="2019",
    )
    b.attachment(relative, "RELA0002", LINK_LINKED_FILE, "attachments:papers/relative.pdf")

    b.item("journalArticle", "NOTI0001", abstractNote="An item whose title was never filled in.")
    b.item(
        "journalArticle",
        "GRUP0001",
        library=2,
        title="A Paper in a Group Library",
        abstractNote="Shared with a research group.",
        date="2022-02-02",
    )
    b.item("journalArticle", "FEED0001", library=3, title="An RSS Feed Item", abstractNote="Not in the library.")

    thesis = con.execute(
        "INSERT INTO collections (collectionName, libraryID, key) VALUES ('Thesis', 1, 'COLL0001')"
    ).lastrowid
    chapter = con.execute(
        "INSERT INTO collections (collectionName, parentCollectionID, libraryID, key) "
        "VALUES ('Chapter 2', ?, 1, 'COLL0002')",
        (thesis,),
    ).lastrowid
    reading = con.execute(
        "INSERT INTO collections (collectionName, libraryID, key) VALUES ('To read', 1, 'COLL0003')"
    ).lastrowid
    con.executemany(
        "INSERT INTO collectionItems (collectionID, itemID) VALUES (?, ?)",
        [(chapter, article), (reading, article), (reading, preprint)],
    )
    con.commit()
    con.close()
    return path
