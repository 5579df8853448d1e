"""Papers-page text: the Hugging Face papers page saved as text.

A header up to a date line ("Mar 13"), then pairs of paragraphs: a title line and an abstract
paragraph.  The abstracts were copied from LaTeX sources and keep leftovers such as `\\ours`
or `76\\(\\%\\)`; they are cleaned the way BibTeX text is (`latex.latex_to_text`).

`looks_like_page` is the positive test that lets a file be read this way: a date line near
the top, or blank-line separated one-line paragraphs alternating short title / longer
abstract.  Anything else is not guessed into papers.
"""

from __future__ import annotations

import re

from assistant.formats import CollectionError, Records
from assistant.formats.latex import latex_to_text

DATE_LINE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2}(, \d{4})?$")
TITLE_MAX = 500


def looks_like_page(text: str) -> bool:
    nonblank = [ln.strip() for ln in text.splitlines()[:400] if ln.strip()]
    if any(DATE_LINE.match(ln) for ln in nonblank[:50]):
        return True
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()[:200_000]) if b.strip()][:200]
    if len(blocks) < 2 or any("\n" in b.strip() for b in blocks):
        return False
    pairs = list(zip(blocks[0::2], blocks[1::2]))
    good = sum(len(t) <= TITLE_MAX and len(a) > len(t) and len(a.split()) >= 10 for t, a in pairs)
    return good >= 0.8 * len(pairs)


def read_page(text: str, name: str) -> Records:
    lines = [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), 1)]
    nonblank = [(n, ln) for n, ln in lines if ln]
    start = next((i + 1 for i, (_, ln) in enumerate(nonblank) if DATE_LINE.match(ln)), 0)
    body = nonblank[start:]
    if not body:
        raise CollectionError(f"{name}: no title/abstract paragraphs found")
    i = 0
    while i < len(body):
        n, title = body[i]
        if len(title) > TITLE_MAX:  # an abstract with no title line before it: resynchronise
            yield f"line {n}", "paragraph without a title line before it"
            i += 1
            continue
        if i + 1 >= len(body):
            yield f"line {n}", f"title {title[:60]!r} has no abstract after it"
            break
        yield f"line {n}", {"title": latex_to_text(title), "abstract": latex_to_text(body[i + 1][1])}
        i += 2
