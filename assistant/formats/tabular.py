"""CSV and TSV with a header row, including Zotero's CSV export.

Column names are matched case-insensitively; a title column is required, the rest are
optional.  Zotero's export columns are understood under their own names ("Abstract Note",
"Publication Year", "Publication Title", "Manual Tags", "File Attachments"), and its item
"Key" becomes the id "zotero:KEY" -- the same id the Zotero database reader gives the item.
"""

from __future__ import annotations

import csv
import io

from assistant.formats import CollectionError, Records

ALIASES = {
    "abstract note": "abstract",
    "summary": "abstract",
    "publication year": "year",
    "publication title": "venue",
    "journal": "venue",
    "booktitle": "venue",
    "manual tags": "tags",
    "keywords": "tags",
    "file attachments": "pdf_path",
    "author": "authors",
    "citation key": "key",
}


def read_csv(text: str, name: str) -> Records:
    # The delimiter is the header's: csv.Sniffer, shown whole rows, guesses wrong on abstracts
    # full of commas and quotes (and then splits rows into too many cells).
    header_line = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=header_line.count)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as e:
        raise CollectionError(f"{name}: CSV parse error in the header line: {e}") from None
    columns = [ALIASES.get(h, h) for h in header]
    if "title" not in columns:
        raise CollectionError(
            f"{name}: CSV header must have columns title and abstract (abstract may be empty); "
            f"no title column in: {', '.join(h for h in header if h)[:200]}"
        )
    zotero = "item type" in header and "key" in header
    try:
        for row in reader:
            n = reader.line_num
            if None in row:  # more cells than header columns
                yield f"row {n}", f"{len(row) - 1 + len(row[None])} cells but the header has {len(header)} columns"
                continue
            rec = {}
            for raw_key, value in row.items():
                key = (raw_key or "").strip().lower()
                col = ALIASES.get(key, key)
                if value not in (None, "") and col not in rec:
                    rec[col] = value
            if zotero:
                rec = _zotero_row(rec)
            yield f"row {n}", rec
    except csv.Error as e:
        raise CollectionError(f"{name}: CSV parse error at line {reader.line_num}: {e}") from None


def _zotero_row(rec: dict) -> dict:
    """Zotero CSV: the item key is its id; attachments are "; "-separated paths; tags "; "-separated."""
    if rec.get("key"):
        rec["id"] = f"zotero:{rec.pop('key').strip()}"
    files = [f.strip() for f in str(rec.get("pdf_path") or "").split(";")]
    rec["pdf_path"] = next((f for f in files if f.lower().endswith(".pdf")), "")
    return rec
