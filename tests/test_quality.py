"""Regression guard on the dev question set (the method, not individual questions)."""

from conftest import DEV

from assistant.evaluation.questions import load_questions
from assistant.evaluation.run import evaluate_assistant, summarize


def test_dev_set_retrieval_and_refusal(pa):
    table = summarize(evaluate_assistant(pa, load_questions(DEV)))
    assert table["single"]["mrr10"] >= 0.95 and table["single"]["r5"] >= 0.97
    assert table["followup"]["r1"] >= 0.8
    assert table["multi"]["r10"] >= 0.85
    assert table["none"]["refusal"] >= 0.8
    assert table["overall"]["false_refusal"] <= 0.1
    assert table["overall"]["fully_cited"] == 1.0
