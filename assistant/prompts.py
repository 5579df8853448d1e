"""Every user-visible fixed phrase and every LLM prompt, in one place."""

# The sentinel for "the collection does not answer this".  Answers start with it when the
# relevance gate refuses, and LLMs are told to reply with exactly it, so code can detect it.
NOT_COVERED = "The collection does not cover this question."

NOT_COVERED_DETAIL = (
    "No paper in the collection matches it closely enough to answer from, so nothing is cited."
)

CLOSEST_PAPERS = "Closest papers (weak matches, not evidence):"

EXTRACTIVE_INTRO = "From the abstracts in the collection:"
EXTRACTIVE_LIST_INTRO = "Papers in the collection that match:"

FALLBACK_NOTE = "(Extractive answer: {reason})"

# The evaluation's answer-point grader (assistant/evaluation.py): one call per answer, the
# reply parsed line by line ("1: yes").  Plain yes/no per fact keeps it usable by small
# local models; a reply that does not give one verdict per fact is counted as unreadable.
GRADE_POINTS = """You check whether an answer states given facts.

Question: {question}

Answer:
{answer}

Facts:
{points}

For each of the {n} facts, write its number, a colon, then "yes" if the answer states the fact \
(in any wording) or "no" if it does not. One fact per line, nothing else. For example:
1: no
2: yes"""
