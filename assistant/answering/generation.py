"""LLM answers: from retrieved hits to a streamed, verified, cited Answer.

The model sees the top passages numbered [1]..[n] (fewer and shorter for a small local
model), the recent conversation, and the question.  Its tokens stream through the
citation filter; at the end the answer keeps only citations of passages it was given.
When the model fails, cites nothing or cannot be reached, the user gets the extractive
answer, marked as a fallback with the reason.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace

from assistant.answering import fidelity, prompts
from assistant.answering.citations import CitationFilter, Support, Verified, says_not_covered
from assistant.answering.context import AnswerContext
from assistant.answering.extractive import abstract_citation, not_covered
from assistant.answering.plan import quotable
from assistant.answering.sentences import choose, pick_sentences, sentence_scores
from assistant.llm import LLM, LLMError
from assistant.retrieval.query import condense as rule_condense
from assistant.settings import Settings
from assistant.text import STOPWORDS, md_unescape, neutralise_markers, sentence_spans, strip_markers, tokenize
from assistant.types import Answer, Citation, Dropped, Hit, Message, Passage, Verification

# How many passages, of how many words, each backend gets when the settings say 0 (auto).
# A hosted model reads the top 5 papers, a passage's length of each.  The 135M local
# model copies from whichever passage it likes, so it only gets the papers the
# extractive answer would cite (the top paper and near ties; several for "which papers"
# questions; only papers that back the question), at most 3, cut to their best 80
# words: fewer distractors, and a prompt short enough for a fast first token.
HOSTED_PASSAGES = 5
LOCAL_PASSAGES = 3
AUTO_WORDS = {"openai": 0, "local": 80}  # 0 = the whole retrieved passage
CONDENSE_TOKENS = 60


@dataclass
class Source:
    """What the model saw as passage [number]: verbatim abstract text and where it is -- or,
    from a body passage (`passage`), text of that passage, and the part of it on one page
    (`quote`, offsets in passage.text) that a citation of it quotes."""

    hit: Hit
    text: str
    span: tuple[int, int]
    passage: Passage | None = None
    quote: tuple[int, int] | None = None

    @property
    def where(self) -> str:
        """ ", p. 7" (", pp. 7-8") after the title in the prompt; "" for an abstract."""
        if self.passage is None:
            return ""
        first, last = self.passage.page_at(self.span[0]), self.passage.page_at(max(self.span[0], self.span[1] - 1))
        return f", p. {first}" if first == last else f", pp. {first}-{last}"

    def citation(self, number: int) -> Citation:
        if self.passage is None:
            return abstract_citation(number, self.hit.paper, self.text, [self.span])
        s, e = self.quote
        return Citation(
            number=number,
            paper=self.hit.paper,
            quote=self.passage.text[s:e],
            spans=[(s, e)],
            page=self.passage.page_at(s),
            section=self.passage.section,
            passage=self.passage,
        )


def select_sources(ctx: AnswerContext, planned: list[Hit], llm_name: str, settings: Settings) -> list[Source]:
    """The passages the model sees, from the hits retrieved (best first) or `planned`, the
    ones the extractive answer would cite (plan.supported).

    Each passage is cut from its abstract around the sentence that best answers the
    question, scored as the extractive answer scores sentences (focus.pick_sentences: the
    question's own terms and meaning, its answer-type cues), and starts with that
    sentence where the abstract allows: a small model copies from the top of what it is
    given.  It is at most `passage_words` long (auto: 80 words for the local model; for a
    hosted model as long as the passage retrieval matched, so it reads as much as before,
    centred on the answer rather than on the retrieval match).  From a full-text paper's body
    the passage is the one the extractive answer would quote from (answer.quotable), and the
    prompt names its page."""
    hits = ctx.retrieval.hits
    if settings.llm_passages:
        chosen = hits[: settings.llm_passages]
    else:
        chosen = planned[:LOCAL_PASSAGES] if llm_name == "local" else hits[:HOSTED_PASSAGES]
    words = settings.passage_words or AUTO_WORDS[llm_name]
    out = []
    for hit in map(ctx.quotes, chosen):
        abstract = hit.paper.abstract
        body = _body_source(hit, ctx, words) if hit.passage is not None and hit.passage.in_body else None
        if body is not None:
            out.append(body)
            continue
        if not abstract.strip():  # no abstract: the model sees its metadata passage
            out.append(Source(hit, hit.text, (0, 0)))
            continue
        passage = ctx.quotes.span(hit) or (0, len(abstract))
        budget = words or len(abstract[passage[0] : passage[1]].split())
        best = pick_sentences(
            abstract, ctx.read, ctx.idf, 1, favoured=passage, vectors=ctx.vectors, title=hit.paper.title
        )[0]
        span = _window(abstract, best, budget)
        out.append(Source(hit, abstract[span[0] : span[1]], span))
    return out


def _body_source(hit: Hit, ctx: AnswerContext, words: int) -> Source | None:
    """A body passage as the model sees it, cut around its best sentence like an abstract; a
    citation of it quotes the part on the page of that sentence.  None when the paper's
    abstract answers better (`quotable`): the model then sees the abstract."""
    q = ctx.read
    text, spans, _, passage, _ = quotable(hit, ctx)
    if passage is None:
        return None
    scores = sentence_scores(text, spans, q, ctx.idf, vectors=ctx.vectors, title=hit.paper.title, body=True)
    best = spans[(choose(scores, 1, q.asks, q.details) or [0])[0]]
    span = _window(text, best, words or len(text.split()), spans)
    lo, hi = passage.page_part(best[0])
    return Source(hit, text[span[0] : span[1]], span, passage, (max(lo, span[0]), min(hi, span[1])))


def _window(
    abstract: str, best: tuple[int, int], words: int, sentences: list[tuple[int, int]] | None = None
) -> tuple[int, int]:
    """Consecutive sentences of the abstract, at most `words` long (or the best sentence
    alone), starting at the best sentence and growing forwards (a claim's details follow
    it), backwards only once the abstract ends; consecutive so the quote stays verbatim."""
    spans = (sentence_spans(abstract) if sentences is None else sentences) or [best]
    i = next((j for j, s in enumerate(spans) if s[0] <= best[0] < s[1]), 0)
    lo = hi = i
    size = len(abstract[spans[i][0] : spans[i][1]].split())
    while True:
        for j in (hi + 1, lo - 1):
            if 0 <= j < len(spans) and size + len(abstract[spans[j][0] : spans[j][1]].split()) <= words:
                size += len(abstract[spans[j][0] : spans[j][1]].split())
                lo, hi = min(lo, j), max(hi, j)
                break
        else:
            return spans[lo][0], spans[hi][1]


# --- prompts ------------------------------------------------------------------------------

_TEMPLATE_TOKEN = re.compile(r"<\|[^|>]{0,40}\|>|</?s>|\[/?INST\]|<</?SYS>>", re.I)


def prompt_text(text: str) -> str:
    """Paper or conversation text made safe to put in a prompt: chat-template tokens
    (which llama.cpp would parse as real control tokens) are removed, and bracketed
    numbers become parenthesised, so the text can never supply a citation marker."""
    return neutralise_markers(_TEMPLATE_TOKEN.sub(" ", text))


def history_messages(history: list[Message] | None, most: int) -> list[Message]:
    out = []
    for m in (history or [])[-most:] if most else []:
        role, content = m.get("role"), m.get("content")
        if role not in ("user", "assistant") or not isinstance(content, str) or not content.strip():
            continue
        words = md_unescape(strip_markers(content)).split()  # extractive answers escape quoted brackets
        text = " ".join(words[: prompts.HISTORY_WORDS]) + (" ..." if len(words) > prompts.HISTORY_WORDS else "")
        out.append({"role": role, "content": prompt_text(text)})
    return out


def answer_messages(question: str, history: list[Message] | None, sources: list[Source], local: bool) -> list[Message]:
    passages = "\n\n".join(
        prompts.PASSAGE.format(number=i, title=prompt_text(s.hit.paper.title) + s.where, text=prompt_text(s.text))
        for i, s in enumerate(sources, 1)
    )
    user = prompts.ANSWER_USER.format(passages=passages, question=prompt_text(question))
    if local:
        head = [
            {"role": "system", "content": prompts.LOCAL_SYSTEM},
            {"role": "user", "content": prompts.LOCAL_EXAMPLE_USER},
            {"role": "assistant", "content": prompts.LOCAL_EXAMPLE_ANSWER},
        ]
        turns = prompts.LOCAL_HISTORY_MESSAGES
    else:
        head, turns = [{"role": "system", "content": prompts.ANSWER_SYSTEM}], prompts.HISTORY_MESSAGES
    return head + history_messages(history, turns) + [{"role": "user", "content": user}]


def condense_messages(question: str, history: list[Message]) -> list[Message]:
    turns = history_messages(history, prompts.HISTORY_MESSAGES)
    conversation = "\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in turns)
    return [
        {"role": "system", "content": prompts.CONDENSE_SYSTEM},
        {
            "role": "user",
            "content": prompts.CONDENSE_USER.format(conversation=conversation, question=prompt_text(question)),
        },
    ]


def use_llm_condense(llm: LLM, settings: Settings) -> bool:
    return settings.condense == "llm" or (settings.condense == "auto" and llm.name != "local")


def condense(llm: LLM, question: str, history: list[Message], settings: Settings) -> str:
    """The query retrieval uses for a follow-up: the rule-based one (previous question and
    the start of the previous answer, which names the paper) plus the LLM's standalone
    rewrite.  Keeping both makes a bad rewrite harmless: on the dev follow-ups, SmolLM2's
    rewrites alone found the right paper 3 times in 6, rules alone and both together 6 in 6.
    Raises LLMError when the call fails."""
    reply = "".join(
        llm.stream(condense_messages(question, history), max_tokens=CONDENSE_TOKENS, timeout=settings.timeout)
    )
    rewrite = clean_standalone(reply)
    rules = rule_condense(question, history)
    if not rewrite or rewrite.lower() == question.lower():
        return rules
    return f"{rules} {rewrite}"


def clean_standalone(reply: str) -> str:
    line = next((x.strip() for x in reply.splitlines() if x.strip()), "")
    line = re.sub(r"^(standalone question|question|rewritten question)\s*:\s*", "", line, flags=re.I)
    line = strip_markers(line).strip(" \"'`*")
    if not line or len(line.split()) > 60 or says_not_covered(line):
        return ""
    return line


def support_check(sources: list[Source], settings: Settings, idf: Callable[[str], float]) -> Support | None:
    """Whether each citation's passage backs its claim (None when min_support is 0)."""
    if settings.min_support <= 0:
        return None
    return Support([f"{s.hit.paper.title}\n{s.text}" for s in sources], tokenize, idf, settings.min_support)


def compact(llm: LLM, settings: Settings) -> bool:
    """Whether the model gets the compact prompt made for small models (prompts.LOCAL_*)."""
    return settings.compact_prompt == "on" or (settings.compact_prompt == "auto" and llm.name == "local")


def detail_check(sources: list[Source]) -> Callable[[str, list[int]], list[str]]:
    """The details (numbers, names, acronyms) of a claim that the passages it cites, with
    their papers' titles, do not have."""
    texts = [f"{s.hit.paper.title}\n{s.text}" for s in sources]
    return lambda claim, numbers: fidelity.unsupported(claim, [texts[n - 1] for n in numbers])


def use_grammar(llm: LLM, settings: Settings) -> bool:
    return settings.cite_grammar == "on" or (settings.cite_grammar == "auto" and llm.name == "local")


_GRAMMAR_WORD = re.compile(r"[^\W_][\w'%+\-/.]*")


def grammar_words(sources: list[Source]) -> list[str]:
    """The words an answer under the citation grammar may use: those of the passages and
    their titles as written ("GPT-2", "3.85%"; a capitalised one also in lower case), and
    everyday function words."""
    words = set(STOPWORDS) | {"yes", "or", "its", "also"}
    for s in sources:
        for w in _GRAMMAR_WORD.findall(f"{s.hit.paper.title} {s.text}".replace("\\%", "%")):
            w = w.rstrip(".-/+'")
            if w:
                words.add(w)
                if w[0].isupper() and w[1:].islower():
                    words.add(w.lower())
    return sorted(words)


# --- the answer ---------------------------------------------------------------------------


class Generation:
    """Streams the model's answer through the citation filter, then settles the Answer.

    `pieces()` yields display text; once it is exhausted `answer` holds the final Answer.
    Normally the pieces add up to `answer.text`.  When the final answer is not what was
    streamed (a fallback after the model had started, or a "not covered" reply), the
    pieces continue with a blank line and the whole final answer."""

    def __init__(
        self,
        llm: LLM,
        messages: list[Message],
        sources: list[Source],
        settings: Settings,
        *,
        base: Answer,
        extractive: Callable[[], Answer],
        timings: dict[str, float],
        supports: Support | None = None,
    ):
        self.llm, self.messages, self.sources, self.supports = llm, messages, sources, supports
        self.settings, self.base, self.extractive, self.timings = settings, base, extractive, timings
        self.details = detail_check(sources)
        self.raw = ""  # what the model wrote, before verification (for evaluation)
        self.answer: Answer | None = None
        self._tokens = 0
        self._started: float | None = None

    def status(self) -> str:
        """What the model is doing, for a reader waiting on held-back text."""
        if self._started is None:
            return ""
        took = time.perf_counter() - self._started
        if not self._tokens:
            return f"{self.llm.model or self.llm.name} is reading {len(self.sources)} passages ({took:.0f} s)"
        return f"{self.llm.model or self.llm.name} is writing: {self._tokens} tokens in {took:.0f} s, citations being checked"

    def pieces(self) -> Iterator[str]:
        s = self.settings
        grammar = (
            prompts.citation_grammar(len(self.sources), grammar_words(self.sources))
            if use_grammar(self.llm, s)
            else None
        )
        filt = CitationFilter(len(self.sources), self.supports, self.details)
        shown: list[str] = []
        raw: list[str] = []
        error: LLMError | None = None
        t0 = self._started = time.perf_counter()
        yield ""  # the model has the prompt: `status` says so
        try:
            with closing(
                self.llm.stream(self.messages, max_tokens=s.max_tokens, timeout=s.timeout, grammar=grammar)
            ) as tokens:
                for token in tokens:
                    if not raw:
                        self.timings["first_token"] = time.perf_counter() - t0
                    raw.append(token)
                    self._tokens += 1
                    out = filt.feed(token)
                    if out:
                        shown.append(out)
                    yield out  # "" while the filter holds the text back: a reader sees `status` move
                    if filt.looping:  # what follows is more of the same
                        break
            out = filt.close()
            if out:
                shown.append(out)
                yield out
        except LLMError as e:
            error = e
        self.timings["generate"] = time.perf_counter() - t0
        self.raw = "".join(raw)
        streamed = "".join(shown)
        self.answer = self._settle(filt.verified(streamed), error)
        final = self.answer.text
        tail = final[len(streamed) :] if final.startswith(streamed) else "\n\n" + final
        if tail:
            yield tail

    def _settle(self, v: Verified, error: LLMError | None) -> Answer:
        name = self.llm.name
        if error is not None:
            return fallback(self.extractive(), f"the {name} backend failed: {error.cause}")
        if not v.cited and says_not_covered(self.raw):
            return replace(
                self.base,
                text=not_covered([x.hit for x in self.sources], prompts.NOT_COVERED_BY_PASSAGES),
                covered=False,
                model=self.llm.model,
            )
        checked = Verification(v.claims, v.claims - len(v.rejected), [Dropped(t, why) for t, why in v.rejected])
        if not v.cited:
            if v.missing:
                why = f"named what its passages do not have ({', '.join(v.missing[:3])})"
            elif v.unsupported:
                why = f"cited passages that do not contain what it says ({', '.join(v.unsupported[:3])})"
            elif v.dropped:
                why = f"cited only passages it was not given ({', '.join(v.dropped[:3])})"
            elif v.repeated:
                why = "repeated itself"
            else:
                why = "cited none of the retrieved passages"
            return replace(fallback(self.extractive(), f"the {name} answer {why}"), verification=checked)
        citations = [self.sources[n - 1].citation(i) for i, n in enumerate(v.order, 1)]
        return replace(self.base, text=v.text, citations=citations, model=self.llm.model, verification=checked)


def fallback(extractive: Answer, reason: str) -> Answer:
    """The extractive answer standing in for an LLM answer, marked with the reason (in
    `fallback`, which the CLI and the web UI show beside the text)."""
    return replace(extractive, fallback=reason, backend="extractive", model="")
