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
