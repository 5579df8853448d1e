"""Focused answers: the sentence that answers what was asked comes first (focus.py), in
follow-ups too, multi-paper answers cite only papers that back the question, and an LLM's
passages are cut around the answering sentence (generate.select_sources).

Unit tests run the pure functions on hand-made abstracts (no embedding model: terms and
answer-type cues only); the last tests use the real bundled index.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from assistant.answering import plan as answers
from assistant.answering import prompts
from assistant.answering.answerer import Ask
from assistant.answering.context import AnswerContext
from assistant.answering.extractive import extractive
from assistant.answering.generation import select_sources
from assistant.answering.plan import Plan, supported
from assistant.answering.sentences import (
    SentenceVectors,
    choose,
    clauses_of,
    norm,
    pick_sentences,
    read_question,
    score_sentences,
)
from assistant.retrieval.search import Retrieval
from assistant.settings import Settings
from assistant.text import md_quote, sentence_spans
from assistant.types import Hit, Paper

ABSTRACT = (
    "Vision-language models have become popular for many tasks. "
    "However, existing approaches need large aligned datasets and expensive compute. "
    "In this paper, we propose GlimpseNet, a lightweight adapter that connects a frozen image encoder to a frozen language model. "
    "GlimpseNet routes visual tokens through a sparse gating module that keeps only the most informative patches. "
    "It is trained on 1.2 million image-text pairs, ten times fewer than comparable models. "
    "We evaluate on the COCO, Flickr30k and VQAv2 benchmarks. "
    "We find that sparse gating removes most object hallucinations while keeping caption quality. "
    "Our code is available at https://github.com/example/glimpsenet."
)
TITLE = "GlimpseNet: Sparse Gating for Frozen Vision-Language Models"


def idf(_term: str) -> float:
    return 1.0


def sentences(text: str = ABSTRACT) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def lead(question: str, history=None, text: str = ABSTRACT, title: str = TITLE) -> str:
    """The sentence an answer to `question` starts with."""
    q = read_question(question, history)
    s, e = pick_sentences(text, q, idf, 3, title=title)[0]
    return text[s:e]


# --- what the question asks for decides what leads --------------------------------------------


@pytest.mark.parametrize(
    "question,expected",
    [
        ("How much data was GlimpseNet trained on?", "1.2 million image-text pairs"),
        ("Which benchmarks was GlimpseNet evaluated on?", "COCO, Flickr30k and VQAv2"),
        ("How does GlimpseNet decide which visual tokens to keep?", "sparse gating module"),
        ("What did the GlimpseNet authors find about hallucinations?", "We find that sparse gating"),
        (
            "Is there a lightweight adapter that connects a frozen image encoder to a frozen language model?",
            "we propose GlimpseNet",
        ),
    ],
)
def test_the_sentence_that_answers_the_question_leads(question, expected):
    assert expected in lead(question)


def test_the_contribution_line_does_not_lead_when_a_detail_is_asked():
    """ "We propose GlimpseNet ..." shares the question's name and topic words; it is not the answer."""
    first = lead(
        "GlimpseNet, the adapter between a frozen image encoder and a frozen language model: "
        "how many image-text pairs was it trained on?"
    )
    assert "1.2 million" in first and "we propose" not in first


def test_context_and_code_notices_are_marked_down():
    q = read_question("What does GlimpseNet need large aligned datasets for?")
    scores = score_sentences(sentences(), q, idf, title=TITLE).max(axis=1)
    background = sentences().index(next(s for s in sentences() if s.startswith("However")))
    plain = score_sentences(
        sentences(), read_question("Why do approaches need large aligned datasets?"), idf, title=TITLE
    ).max(axis=1)
    # asked about the problem, the background sentence is the answer; asked about the method, it is not
    assert int(plain.argmax()) == background
    assert scores[background] < plain[background]
    code = read_question("Where is the GlimpseNet code?")
    assert "github" in lead(code.clauses[0].text)


def test_a_two_part_question_gets_an_answer_to_each_part():
    q = read_question("Which benchmarks was GlimpseNet evaluated on? And how much training data did it use?")
    assert [asks for _, asks in clauses_of(q.clauses[0].text + " " + q.clauses[1].text)] == [True, True]
    picked = [sentences()[i] for i in choose(score_sentences(sentences(), q, idf, title=TITLE), 3, q.asks, q.details)]
    assert any("COCO" in s for s in picked[:2]) and any("1.2 million" in s for s in picked[:2])


def test_clauses_split_a_describing_preface_from_the_ask():
    parts = clauses_of(
        "In the paper that connects a frozen image encoder to a language model, what data was it trained on?"
    )
    assert parts == [
        ("In the paper that connects a frozen image encoder to a language model", False),
        ("what data was it trained on?", True),
    ]
    assert clauses_of("What loss does it add, and why?") == [("What loss does it add and why?", True)]
    assert clauses_of("There's a paper on sparse gating. How big is it?")[0][1] is False


def test_a_sentence_carrying_on_the_one_before_inherits_its_match():
    text = (
        "We study retrieval. Our model decides whether to retrieve or generate an image at inference time. "
        "This is done with a learnt decision module conditioned on the hidden states. Results are strong."
    )
    q = read_question("How does the model decide whether to retrieve or generate?")
    picked = [text[s:e] for s, e in pick_sentences(text, q, idf, 2)]
    assert any("learnt decision module" in s for s in picked)


# --- follow-ups: the conversation picks the paper, the question picks the sentences -------------


def test_a_followup_does_not_repeat_the_previous_answer():
    text = (
        "We propose GlimpseNet, an adapter trained on web data. "
        "Its training data are 1.2 million image-text pairs filtered from LAION. "
        "We evaluate on COCO."
    )
    question = "What training data does it use?"
    # on its own, the question is answered as well by the first sentence as by the second ...
    assert lead(question, None, text, "GlimpseNet").startswith("We propose GlimpseNet")
    # ... but the conversation already showed the first: the follow-up quotes the other
    history = [
        {"role": "user", "content": "What is GlimpseNet?"},
        {
            "role": "assistant",
            "content": "**GlimpseNet** [1]\n- We propose GlimpseNet, an adapter trained on web data. [1]",
        },
    ]
    assert lead(question, history, text, "GlimpseNet").startswith("Its training data are 1.2 million")
    assert norm("We propose GlimpseNet, an adapter trained on web data.") in read_question(question, history).seen


def test_a_followup_is_answered_by_its_own_words():
    first_q = "Is there a lightweight adapter that connects a frozen image encoder to a frozen language model?"
    spans = pick_sentences(ABSTRACT, read_question(first_q), idf, 2, title=TITLE)
    shown = "\n".join(f"- {md_quote(ABSTRACT[s:e])} [1]" for s, e in spans)
    history = [{"role": "user", "content": first_q}, {"role": "assistant", "content": shown}]
    follow = lead("Does it need a lot of training data?", history)
    assert "1.2 million" in follow and norm(follow) not in norm(shown)


def test_a_shown_sentence_is_quoted_again_when_it_is_the_answer():
    history = [{"role": "assistant", "content": "We evaluate on the COCO, Flickr30k and VQAv2 benchmarks. [1]"}]
    assert "COCO" in lead("Which benchmarks did they evaluate on?", history)


def test_conversation_terms_only_break_ties():
    """The previous turn's words (here: hallucinations) must not outweigh the new question's."""
    q = read_question("How much training data?", context=("hallucin", "object", "caption"))
    assert "1.2 million" in sentences()[int(score_sentences(sentences(), q, idf, title=TITLE).max(axis=1).argmax())]


# --- multi-paper answers: each cited paper backs the question -----------------------------------


def _hit(pid: str, title: str, abstract: str, score: float) -> Hit:
    return Hit(paper=Paper(id=pid, title=title, abstract=abstract), text=abstract, score=score)


def collection_idf(term: str) -> float:
    """A collection where every paper is about vision-language models."""
    return 0.1 if term in {"vision", "languag", "model"} else 2.0


def test_a_paper_that_only_shares_vocabulary_is_not_cited():
    question = "Which papers evaluate vision-language models on hundreds of languages?"
    hits = [
        _hit(
            "a",
            "PolyBench: A Multilingual Benchmark",
            "We introduce PolyBench. It evaluates vision-language models "
            "across 205 languages, including many low-resource languages. Models fail on rare scripts.",
            3.0,
        ),
        _hit(
            "b",
            "Tiny Captioner",
            "Vision-language models are large. We distil a vision-language model into a "
            "small captioner. It runs on phones.",
            2.9,
        ),
        _hit(
            "c",
            "Babel-VQA",
            "We evaluate multilingual VQA in 100 languages with vision-language models. Translation errors dominate.",
            2.5,
        ),
    ]
    plan = supported(Plan(hits, list_question=True), _context(question, collection_idf))
    assert [h.paper.id for h in plan.hits] == ["a", "c"]
    text, citations = extractive(plan)
    assert "languages" in citations[0].paper.abstract[slice(*citations[0].spans[0])]
    assert "Tiny Captioner" not in text and text.count("[1]") >= 1 and "[2]" in text


def test_a_list_answer_no_paper_backs_says_it_quotes_the_closest():
    question = "Which papers evaluate vision-language models on hundreds of languages?"
    hits = [
        _hit("b", "Tiny Captioner", "We distil a large model into a small captioner. It runs on phones.", 3.0),
        _hit("d", "Fast Detector", "We detect objects quickly. It runs at 90 frames per second.", 2.9),
    ]
    plan = supported(Plan(hits, list_question=True), _context(question, collection_idf))
    assert plan.weak and len(plan.hits) == 1
    text, citations = extractive(plan)
    assert text.startswith(prompts.EXTRACTIVE_LIST_WEAK_INTRO) and prompts.EXTRACTIVE_LIST_INTRO not in text
    assert len(citations) == 1
    # a list question some paper backs keeps the plain intro
    backed = [_hit("a", "PolyBench", "It evaluates vision-language models across 205 languages.", 3.0), *hits]
    plan = supported(Plan(backed, list_question=True), _context(question, collection_idf))
    assert not plan.weak and extractive(plan)[0].startswith(prompts.EXTRACTIVE_LIST_INTRO)


def test_the_top_paper_of_a_one_paper_answer_is_always_cited():
    question = "How big is the speed-up?"
    hits = [
        _hit("a", "Fast Thing", "We make inference faster. It runs at 200 frames per second.", 3.0),
        _hit("b", "Other Thing", "We study something unrelated entirely.", 2.9),
    ]
    plan = supported(Plan(hits, list_question=False), _context(question, idf))
    assert [h.paper.id for h in plan.hits] == ["a"]
    assert "200 frames" in hits[0].paper.abstract[slice(*plan.spans[0][0])]


def _context(question: str, idf_of, hits: list[Hit] = ()) -> AnswerContext:
    """An answer's context with no index behind it: quotes come from the hits as they are."""
    r = Retrieval(question, [], list(hits), 1.0, True)
    return AnswerContext(question, read_question(question), idf_of, retrieval=r)


# --- LLM passages -----------------------------------------------------------------------------


def test_an_llm_passage_starts_at_the_answering_sentence_and_stays_verbatim():
    hit = _hit("g", TITLE, ABSTRACT, 1.0)
    ctx = _context("Which benchmarks was GlimpseNet evaluated on?", idf, [hit])
    settings = Settings.load(env={}, passage_words=30)
    [source] = select_sources(ctx, [hit], "local", settings)
    assert source.text == ABSTRACT[source.span[0] : source.span[1]]
    assert source.text.startswith("We evaluate on the COCO") and len(source.text.split()) <= 30


def test_sentence_vectors_are_embedded_once():
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.ones((len(texts), 4), dtype=np.float32)

    vectors = SentenceVectors(embed, size=3)
    assert vectors(["a", "b", "a"]).shape == (3, 4) and calls == [["a", "b"]]
    vectors(["b", "c"])
    assert calls[-1] == ["c"]
    vectors(["d"])  # the cache holds 3: "a" (least recently used) goes
    vectors(["a"])
    assert calls[-1] == ["a"]


# --- on the real bundled index ------------------------------------------------------------------

ZEROTA_Q = "What loss does ZeroTA add to keep moment masks apart, and why?"


def test_zerota_followup_answers_the_new_question(pa):
    first = pa.ask(ZEROTA_Q)
    assert "pairwise temporal IoU loss" in first.text
    history = [{"role": "user", "content": first.question}, {"role": "assistant", "content": first.text}]
    follow = pa.ask("Does it need any training data?", history=history)
    assert follow.citations[0].paper.id == first.citations[0].paper.id
    assert "does not require any videos or annotations for training" in follow.text
    lead_sentence = re.search(r"^- (.*?) \[1\]", follow.text, re.M).group(1)
    assert "does not require any videos or annotations" in lead_sentence
    shown = {norm(first.citations[0].paper.abstract[s:e]) for s, e in first.citations[0].spans}
    quoted = {norm(follow.citations[0].paper.abstract[s:e]) for s, e in follow.citations[0].spans}
    assert not (shown & quoted) - {norm(lead_sentence)}  # nothing repeated that does not answer it


def test_list_answers_quote_sentences_that_back_the_question(pa):
    question = "Which papers connect an image encoder to a frozen language model using only a single linear or projection layer?"
    ans = pa.ask(question)
    assert len(ans.citations) >= 2
    for c in ans.citations:
        quoted = [c.paper.abstract[s:e] for s, e in c.spans]
        assert max(answers.support(quoted, question, pa.store.snapshot.keyword.idf, c.paper.title)) >= answers.SUPPORT


def test_an_llm_is_given_the_answering_sentence_first(pa):
    """The local model's passage [1] for the ZeroTA follow-up starts with the sentence that answers it."""
    first = pa.ask(ZEROTA_Q)
    history = [{"role": "user", "content": first.question}, {"role": "assistant", "content": first.text}]
    r = pa.retrieve("Does it need any training data?", history=history)
    answerer, ask = pa._answerer(), Ask("Does it need any training data?", history)
    ctx = answerer.context(ask, r)
    sources = select_sources(ctx, answerer.plan(ctx).hits, "local", pa.settings)
    assert sources[0].text.startswith("Our method does not require any videos or annotations for training")
