"""Cells written by an LLM: a short phrase from the cell's quote only, checked as answers are
(its terms must be in the quote -- citations.Support -- and every number and name in it --
fidelity.unsupported); a phrase that fails, or a call that fails, leaves the extractive cell,
marked "extractive-fallback" with the reason."""

from __future__ import annotations

import re
from dataclasses import replace

from assistant.answering import fidelity
from assistant.answering.citations import Support
from assistant.answering.generation import prompt_text
from assistant.llm import LLM, LLMError
from assistant.tables.types import Cell
from assistant.text import tokenize
from assistant.types import Message, Paper

PHRASE_WORDS = 15  # longest phrase a cell shows; a longer reply is cut at a clause or refused
MAX_TOKENS = 48
SUPPORT = 0.6  # share of the phrase's IDF-weighted terms its quote (and the paper's title) must hold

SYSTEM = (
    "You fill one cell of a literature-review table. Answer the question about the paper with a short "
    f"phrase of at most {PHRASE_WORDS} words, using only what the quoted text says and its own words for "
    "names and numbers. Do not write a sentence, an explanation or a citation. If the quoted text does not "
    "answer the question, reply exactly: not stated"
)


def cell_messages(paper: Paper, aspect: str, quote: str) -> list[Message]:
    """The prompt for one cell: the paper's title, its quoted text and the aspect."""
    user = (
        f"Paper: {prompt_text(paper.title)}\n\nQuoted text:\n{prompt_text(quote)}\n\nQuestion: {aspect}\nShort answer:"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


_LEAD = re.compile(r"^\s*(?:short answer|answer)\s*:\s*", re.I)


def clean_phrase(reply: str) -> str:
    """The model's reply as a cell: its first line, without a leading "Answer:", wrapping
    quotes or a final full stop; "" when nothing is left."""
    line = next((x for x in reply.strip().splitlines() if x.strip()), "")
    line = _LEAD.sub("", line).strip().strip("\"'`*").strip()
    line = re.sub(r"\s*\[\d+\]", "", line).rstrip(" .")
    return " ".join(line.split())


def says_not_stated(phrase: str) -> bool:
    folded = " ".join(re.sub(r"[^a-z ]+", " ", phrase.lower()).split())
    return folded.startswith(("not stated", "not mentioned", "the text does not", "the quoted text does not"))


def check_phrase(phrase: str, cell: Cell, paper: Paper, idf) -> str:
    """Why the phrase cannot stand in for the cell's quote ("" when it can)."""
    if not phrase:
        return "the model gave no phrase"
    if says_not_stated(phrase):
        return "the model found it not stated in the quote"
    if len(phrase.split()) > PHRASE_WORDS:
        return f"the phrase runs to {len(phrase.split())} words"
    sources = [paper.title, cell.quote]
    missing = fidelity.unsupported(phrase, sources)
    if missing:
        return "the quote does not have " + ", ".join(missing[:3])
    score = Support(["\n".join(sources)], tokenize, idf, SUPPORT).score(phrase, 1)
    if score < SUPPORT:
        return f"the quote holds {score:.0%} of the phrase's terms"
    return ""


def write_cell(llm: LLM, paper: Paper, cell: Cell, idf, timeout: float) -> Cell:
    """The cell as a checked phrase of the LLM's; the extractive cell (marked, with the reason)
    when the call fails or the phrase is not in the quote.  A not-stated cell is kept as it is."""
    if not cell.stated:
        return cell
    try:
        reply = "".join(
            llm.stream(cell_messages(paper, cell.aspect, cell.quote), max_tokens=MAX_TOKENS, timeout=timeout)
        )
    except LLMError as e:
        return replace(cell, source="extractive-fallback", note=f"the {llm.name} backend failed: {e.cause}")
    phrase = clean_phrase(reply)
    why = check_phrase(phrase, cell, paper, idf)
    if why:
        return replace(cell, source="extractive-fallback", note=why)
    return replace(cell, text=phrase, source="llm")
