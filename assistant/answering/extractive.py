"""Answers without an LLM: a plan's chosen sentences written out, each verbatim and cited."""

from __future__ import annotations

from assistant.answering import prompts
from assistant.answering.context import Plan
from assistant.text import md_quote, md_title
from assistant.types import Citation, Hit, Paper, Passage


def extractive(plan: Plan) -> tuple[str, list[Citation]]:
    """Answer text with [n] markers and the matching citations, for a plan whose sentences
    are chosen (`supported`).  Sentences are shown best first; a citation's spans are in
    abstract order (they highlight the abstract)."""
    citations: list[Citation] = []
    blocks: list[str] = []
    passages = plan.passages or [None] * len(plan.hits)
    alsos = plan.also or [None] * len(plan.hits)
    for hit, spans, passage, also in zip(plan.hits, plan.spans, passages, alsos):
        number = len(citations) + 1
        abstract = hit.paper.abstract
        if passage is not None:  # from the body of its PDF: the sentences are on one page
            ordered = sorted(spans)
            citations.append(
                Citation(
                    number=number,
                    paper=hit.paper,
                    quote=passage.text[ordered[0][0] : ordered[-1][1]],
                    spans=ordered,
                    page=passage.page_at(ordered[0][0]),
                    section=passage.section,
                    passage=passage,
                )
            )
            sentences = [f"{md_quote(passage.text[s:e].strip())} [{number}]" for s, e in spans]
        elif not abstract.strip():  # known by its title and metadata only: nothing to quote
            citations.append(Citation(number=number, paper=hit.paper, quote="", spans=[]))
            sentences = [f"{prompts.NO_ABSTRACT} [{number}]"]
        else:
            ordered = sorted(spans)
            quote = abstract[ordered[0][0] : ordered[-1][1]]
            citations.append(abstract_citation(number, hit.paper, quote, ordered))
            sentences = [f"{md_quote(abstract[s:e].strip())} [{number}]" for s, e in spans]
        quoted = [c.quote for c in citations if c.paper.id == hit.paper.id]
        if also is not None and not any(also_text(also) in q or q in also_text(also) for q in quoted):
            c = also_citation(len(citations) + 1, hit.paper, *also)
            citations.append(c)
            sentences.append(f"{md_quote(c.quote.strip())} [{c.number}]")
        if plan.list_question:
            blocks.append(f"{number}. **{md_title(hit.paper.title)}** [{number}]: " + " ".join(sentences))
        else:
            blocks.append(f"**{md_title(hit.paper.title)}** [{number}]\n" + "\n".join(f"- {x}" for x in sentences))
    intro = (
        prompts.EXTRACTIVE_LIST_WEAK_INTRO
        if plan.weak
        else prompts.EXTRACTIVE_LIST_INTRO
        if plan.list_question
        else prompts.EXTRACTIVE_INTRO_FULL_TEXT
        if any(c.passage is not None for c in citations)
        else prompts.EXTRACTIVE_INTRO
    )
    return intro + "\n\n" + "\n\n".join(blocks), citations


def also_text(also: tuple[Passage, tuple[int, int]]) -> str:
    """The sentence a plan's `also` points to."""
    passage, (a, b) = also
    return passage.text[a:b]


def also_citation(number: int, paper: Paper, passage: Passage, span: tuple[int, int]) -> Citation:
    """A citation of one more sentence of a paper: from a body passage, with its page and
    section, or from its abstract (an abstract passage's span is within it)."""
    a, b = span
    if not passage.in_body:
        start = passage.start + a
        return abstract_citation(number, paper, paper.abstract[start : passage.start + b], [(start, passage.start + b)])
    return Citation(
        number=number,
        paper=paper,
        quote=passage.text[a:b],
        spans=[span],
        page=passage.page_at(a),
        section=passage.section,
        passage=passage,
    )


def not_covered(closest: list[Hit], detail: str = prompts.NOT_COVERED_DETAIL) -> str:
    text = f"{prompts.NOT_COVERED} {detail}"
    if closest:
        text += "\n\n" + prompts.CLOSEST_PAPERS + " " + "; ".join(f"*{md_title(h.paper.title)}*" for h in closest[:3])
    return text


def unmentioned_detail(closest: list[Hit], words: list[str]) -> str:
    """Why nothing is cited: the names the closest paper never mentions, or no close paper."""
    if not words or not closest:
        return prompts.NOT_COVERED_DETAIL
    quoted = ", ".join(f"“{w}”" for w in words)
    return prompts.NOT_COVERED_UNMENTIONED.format(title=md_title(closest[0].paper.title), words=quoted)


def abstract_citation(number: int, paper: Paper, quote: str, spans: list[tuple[int, int]]) -> Citation:
    """A quote from a paper's abstract, with the PDF page it is printed on when there is one."""
    page = paper.abstract_page or None
    return Citation(
        number=number, paper=paper, quote=quote, spans=spans, page=page, section="Abstract" if page else None
    )
