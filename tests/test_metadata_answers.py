"""Questions about a paper's record are answered from it and cited to it, not refused."""

from __future__ import annotations

import pytest

from assistant.retrieval.query import asks_metadata

PAPERS = [
    {
        "id": "adam",
        "title": "Adam: A Method for Stochastic Optimization",
        "abstract": "We introduce Adam, an algorithm for first-order gradient-based optimization of stochastic "
        "objective functions, based on adaptive estimates of lower-order moments.",
        "authors": ["Diederik P. Kingma", "Jimmy Ba"],
        "year": 2015,
        "venue": "International Conference on Learning Representations",
    },
    {
        "id": "dropout",
        "title": "Dropout: A Simple Way to Prevent Neural Networks from Overfitting",
        "abstract": "Dropout prevents neural networks from overfitting by randomly dropping units during training.",
        "authors": ["Nitish Srivastava"],
    },
]


@pytest.mark.parametrize(
    ("question", "fields"),
    [
        ("Who wrote the Adam paper?", ["authors"]),
        ("When was the Adam paper published?", ["year"]),
        ("In which journal did the dropout paper appear?", ["venue"]),
        ("What is the DOI of the Adam paper?", ["doi"]),
        ("What do the authors of the Adam paper recommend for the step size?", []),
        ("Who proposed adaptive moment estimation?", []),
        ("Which journal did they compare their results against?", []),
    ],
)
def test_questions_about_the_record_are_told_from_questions_about_the_text(question, fields):
    assert asks_metadata(question) == fields


def test_a_question_about_the_record_is_answered_from_it(empty_pa):
    empty_pa.add_papers(PAPERS)
    who = empty_pa.ask("Who wrote the Adam paper?")
    assert who.covered and "Diederik P. Kingma, Jimmy Ba" in who.text
    assert [c.paper.id for c in who.citations] == ["adam"] and "Kingma" in who.citations[0].quote
    when = empty_pa.ask("When was the Adam paper published?")
    assert "2015" in when.text and "[1]" in when.text
    unknown = empty_pa.ask("Which journal published the dropout paper?")  # the record has no venue
    assert unknown.covered and "does not give its journal" in unknown.text
    assert not empty_pa.ask("Who wrote the paper on quantum gravity?").covered  # no such paper
