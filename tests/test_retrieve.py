"""Pure retrieval logic on hand-made inputs."""

import math

import pytest

from assistant.index.keyword import KeywordIndex
from assistant.retrieval.fusion import fuse, zscores
from assistant.retrieval.gate import term_coverage
from assistant.retrieval.query import condense, dense_query, is_list_question, needs_history
from assistant.text import MIN_SPECIFICITY, specificity, tokenize


def test_zscores_and_floor():
    z, floor = zscores({"a": 3.0, "b": 1.0, "c": 2.0})
    assert z["a"] == pytest.approx(math.sqrt(1.5)) and z["c"] == pytest.approx(0.0)
    assert floor == pytest.approx(z["b"])


def test_fuse_combines_lists_and_penalises_missing_candidates():
    lists = {
        "passage": [("a", 0.9), ("b", 0.5), ("c", 0.4)],
        "keyword": [("b", 12.0), ("a", 11.0), ("d", 1.0)],
    }
    fused = fuse(lists)
    assert [f.paper_id for f in fused][:2] == ["a", "b"]
    assert fused[0].signals == {"passage": 0.9, "keyword": 11.0}
    d = next(f for f in fused if f.paper_id == "d")
    assert "passage" not in d.signals  # d was only found by keywords
    # weights matter: with keyword weighted up, b overtakes a
    assert fuse(lists, {"keyword": 20.0})[0].paper_id == "b"


def test_dense_query_drops_the_request_framing_only():
    assert dense_query("Which papers evaluate VLMs across many languages?") == "evaluate VLMs across many languages?"
    assert dense_query("Is there a paper that aligns GPT-2 with CLIP?") == "aligns GPT-2 with CLIP?"
    assert dense_query("Is there a benchmark for language priors?") == "benchmark for language priors?"
    assert dense_query("I'm looking for a survey of VLMs") == "survey of VLMs"
    # questions with no framing, or nothing left without it, are embedded as asked
    assert dense_query("What loss does ZeroTA add?") == "What loss does ZeroTA add?"
    assert dense_query("Which papers?") == "Which papers?"
    assert dense_query("Can you find papers on CLIP") == "Can you find papers on CLIP"


def test_fuse_keeps_each_papers_best_passage_score():
    fused = fuse({"passage": [("a", 0.8), ("a", 0.2), ("b", 0.5)]})
    assert fused[0].signals["passage"] == 0.8


def test_tokenizer_normalises_acronym_plurals_and_drops_question_words():
    assert tokenize("Which papers use LLMs and VLMs?") == ["llm", "vlm"]
    assert tokenize("What is the MMVP benchmark") == ["mmvp", "benchmark"]


def test_term_coverage_weights_rare_terms():
    ki = KeywordIndex(
        {
            "p1": tokenize("video captioning with frozen GPT-2 and CLIP"),
            "p2": tokenize("image captioning benchmark"),
            "p3": tokenize("image retrieval benchmark"),
        }
    )
    q = tokenize("watermarking image benchmark")
    cov = term_coverage(q, set(ki.tokens["p2"]), ki.idf)
    assert 0 < cov < 0.5  # 'watermark' is in no paper: the highest-weighted term is missing
    assert term_coverage(tokenize("video captioning"), set(ki.tokens["p1"]), ki.idf) == 1.0
    assert term_coverage([], {"x"}, ki.idf) == 0.0


def test_specificity_ranks_words_by_how_rare_they_are_in_everyday_english():
    spec = specificity("Which papers show watermarking of messy images, ZeroTA?")
    assert spec["watermark"] == spec["zerota"] == 1.0  # technical word; a name no dictionary has
    assert spec["show"] == MIN_SPECIFICITY  # as common as words get
    assert MIN_SPECIFICITY < spec["imag"] < spec["messi"] < 1.0
    assert "paper" not in spec  # stopwords are not terms at all


def test_term_coverage_forgives_missing_common_words_not_missing_specific_ones():
    ki = KeywordIndex(
        {
            "p1": tokenize("contrastive pretraining on noisy alt-text captions"),
            "p2": tokenize("image captioning benchmark"),
            "p3": tokenize("image retrieval benchmark"),
        }
    )
    doc = set(ki.tokens["p1"])
    paraphrase = "contrastive pretraining on big bad alt-text captions"  # 'big bad': the asker's 'noisy'
    plain = term_coverage(tokenize(paraphrase), doc, ki.idf)
    weighted = term_coverage(tokenize(paraphrase), doc, ki.idf, specificity(paraphrase))
    assert plain < 0.7 < weighted
    off_topic = "contrastive pretraining with watermarking on alt-text captions"  # the point of it, absent
    assert term_coverage(tokenize(off_topic), doc, ki.idf, specificity(off_topic)) < weighted


def test_keyword_index_top_and_filter():
    ki = KeywordIndex(
        {
            "a": tokenize("temporal IoU loss for moment masks"),
            "b": tokenize("contrastive decoding"),
            "c": tokenize("moment retrieval in videos"),
        }
    )
    assert [p for p, _ in ki.top(tokenize("moment masks"), 3)] == ["a", "c"]
    assert [p for p, _ in ki.top(tokenize("moment masks"), 3, allowed={"c"})] == ["c"]
    assert ki.top(tokenize("unrelated words"), 3) == []
    new = ki.updated({"b": ("Moment masks", "moment masks again")}, remove=["a"])
    assert set(new.ids) == {"b", "c"} and set(ki.ids) == {"a", "b", "c"}  # the old index is untouched
    assert new.top(tokenize("masks"), 1)[0][0] == "b"


def test_list_questions_and_followups_are_recognised():
    assert is_list_question("Which papers evaluate VLMs across many languages?")
    assert is_list_question("What other methods use a frozen LLM?")
    assert not is_list_question("How does ZeroTA localize events?")
    assert needs_history("What loss does it add?")
    assert needs_history("And that paper's dataset?")
    assert needs_history("Why?")
    assert not needs_history("Which benchmark measures language priors in LVLMs?")


def test_condense_uses_history_only_for_followups():
    history = [
        {"role": "user", "content": "Which paper proposes ZeroTA?"},
        {"role": "assistant", "content": "Zero-Shot Dense Video Captioning [1] proposes it."},
    ]
    q = condense("What loss does it add?", history)
    assert q.startswith("Which paper proposes ZeroTA?") and "Zero-Shot Dense Video Captioning" in q
    assert q.endswith("What loss does it add?")
    standalone = "Which benchmark measures language priors in LVLMs?"
    assert condense(standalone, history) == standalone
    assert condense("What loss does it add?", None) == "What loss does it add?"


def test_named_terms_are_names_as_typed():
    from assistant.retrieval.gate import named_terms, relevance

    assert named_terms("What loss keeps ZeroTA's moment masks apart in MMVP or DenseFusion-1M?") == [
        "ZeroTA",
        "MMVP",
        "DenseFusion",
    ]  # "1M" is too short to be a name
    assert named_terms("How does English speech recognition work for Accented speakers?") == []
    assert named_terms("Is GPT4 better than mPLUG?") == ["GPT4", "mPLUG"]
    assert relevance(0.5, 0.3, named_match=True) - relevance(0.5, 0.3) == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("question", "text", "terms"),
    [
        ("Which kernel does the SVM use?", "A support vector machine uses a radial kernel.", {"svm"}),
        ("What does REML estimate?", "Restricted maximum likelihood estimates the variances.", {"reml"}),
        ("Is it in Hardy-Weinberg equilibrium?", "We test HWE for each marker.", {"hardi", "weinberg", "equilibrium"}),
        ("What is the ISE?", "In some cases the error is large.", set()),
        ("What does the SVM need?", "The SVM needs a kernel.", set()),  # the same form: nothing to add
    ],
)
def test_an_abbreviation_matches_its_spelled_out_form(question, text, terms):
    from assistant.text import abbreviation_terms

    assert abbreviation_terms(question, text) == terms


def test_unfamiliar_words_are_names_and_identifiers_not_paraphrases():
    from assistant.retrieval.gate import unfamiliar_words

    assert unfamiliar_words("Does pscl provide a Vuong test for zero-inflated models?") == ["pscl", "Vuong"]
    assert unfamiliar_words("How many iterations (rlen) does som() run by default?") == ["rlen"]
    # everyday words, however rare in a question, and bare numbers are not names
    assert unfamiliar_words("What is the downside of the approach, and why does it worsen after 1000 runs?") == []


@pytest.mark.parametrize(
    ("question", "terms", "text", "missing"),
    [
        ("Does pscl provide a Vuong test?", ["pscl", "hurdl", "zeroinfl"], "", ["Vuong"]),
        ("Does pscl provide a Vuong test?", ["pscl", "vuong"], "", []),
        ("Which LaTeX 2e release does REVTeX need?", ["revtex", "latex2e"], "", []),  # part of a term
        (
            "Is the SVM fitted by LIBLINEAR?",
            ["liblinear", "support", "vector", "machin"],
            "a support vector machine",
            [],
        ),
        ("Is the SVM fitted by LIBLINEAR?", ["liblinear", "kernel"], "kernel methods", ["SVM"]),
    ],
)
def test_unmentioned_names_are_those_no_term_of_the_paper_holds(question, terms, text, missing):
    from assistant.retrieval.gate import unmentioned

    assert unmentioned(question, terms, lambda: text) == missing
