"""Reading a question: its request framing, whether it asks for a list, and a standalone
query for a follow-up."""

from __future__ import annotations

import re

from assistant.text import tokenize
from assistant.types import Message

_ASK_NOUN = r"(?:papers?|works?|studies|study|articles?|research|publications?)"
# The words that frame a request for papers and say nothing about their content.
_FRAME = re.compile(
    r"^(?:(?:which|what)\s+(?:of the\s+)?(?:other\s+)?"
    + _ASK_NOUN
    + r"(?:\s+in (?:the|this) collection)?(?:\s+(?:that|which))?"
    r"|(?:is|are) there\s+(?:a|an|any)?\s*(?:other\s+)?(?:" + _ASK_NOUN + r"\s+)?(?:(?:that|which|on|about)\s+)?"
    r"|do(?:es)? any\s+" + _ASK_NOUN + r"(?:\s+in (?:the|this) collection)?"
    r"|(?:can you\s+)?(?:find|list|show)(?: me)?(?: all)?(?: the)?\s+" + _ASK_NOUN + r"(?:\s+(?:that|which|on|about))?"
    r"|i'?m looking for\s+(?:a|an|any)?\s*(?:" + _ASK_NOUN + r"\s+)?(?:(?:that|which|on|about)\s+)?"
    r")\s*",
    re.I,
)


def dense_query(query: str) -> str:
    """The text to embed for a query: without its request framing ("Which papers ...", "Is
    there a paper that ...").  The keyword side drops those words as stopwords; embedded,
    they pull the query vector towards "a paper about papers" and away from the topic
    (recall of "which papers" questions rose on all four question sets without them)."""
    rest = _FRAME.sub("", query, count=1)
    return rest if len(rest.split()) >= 2 else query


_LIST_Q = re.compile(
    r"\b(which|what|any|other|list|all|some|several|multiple)\s+(\w+\s+){0,2}"
    r"(papers|works|studies|methods|approaches|models|benchmarks|datasets|systems|articles)\b"
    r"|\bpapers\b|\bworks that\b",
    re.I,
)
_ANAPHORA = re.compile(
    r"\b(it|its|they|them|their|(this|that|these|those|the) (paper|papers|method|model|approach|authors|work|"
    r"benchmark|dataset|study|framework|system|loss|one|technique|module|package|library|software|article|"
    r"tool))\b",
    re.I,
)


def is_list_question(question: str) -> bool:
    """'Which papers ...?' asks for every matching paper, not the single best one."""
    return bool(_LIST_Q.search(question))


def needs_history(question: str) -> bool:
    """A follow-up that leans on the conversation ('what loss does it add?')."""
    words = re.findall(r"\w+", question)
    return bool(_ANAPHORA.search(question)) or len(words) <= 4


TAIL_CHARS = 2000  # the most of the previous question a follow-up's query takes (its end: the latest words)


def condense(question: str, history: list[Message] | None, max_words: int = 80) -> str:
    """A standalone query for retrieval without an LLM: a follow-up is prefixed with the
    previous user turn (its last TAIL_CHARS characters at most) and the start of the previous
    answer (which names the paper)."""
    if not history or not needs_history(question):
        return question
    last_user = next((m["content"] for m in reversed(history) if m.get("role") == "user" and m.get("content")), "")
    last_asst = next((m["content"] for m in reversed(history) if m.get("role") == "assistant" and m.get("content")), "")
    last_user = " ".join(last_user[-TAIL_CHARS:].split())
    context = " ".join(last_asst[: max_words * 40].split()[:max_words])
    return " ".join(x for x in (last_user, context, question) if x)


def history_problem(history: object, max_messages: int, max_chars: int) -> str:
    """Why a conversation history cannot be taken ("" when it can): not a list of
    {"role": "user"|"assistant", "content": str}, more than `max_messages` messages or more
    than `max_chars` characters in all."""
    if history is None:
        return ""
    if not isinstance(history, list) or not all(
        isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)
        for m in history
    ):
        return 'history must be a list of {"role": "user" | "assistant", "content": "..."} messages'
    if len(history) > max_messages:
        return (
            f"the history has {len(history)} messages; the limit is {max_messages} (setting "
            "max_history_messages): send the latest ones"
        )
    chars = sum(len(m["content"]) for m in history)
    if chars > max_chars:
        return (
            f"the history has {chars} characters; the limit is {max_chars} (setting max_history_chars): "
            "send the latest messages, or shorten them"
        )
    return ""


# --- questions about a paper's record ---------------------------------------------------------

# field -> what a question asking for it says
_ASKS = {
    "authors": re.compile(
        r"^\W*(?:who\s+(?:wrote|authored|are the authors|is the author|were the authors|created|developed)\b|"
        r"(?:which|what) (?:people|persons|authors)\b|(?:name|list|give) the authors\b|"
        r"what are the (?:names of the )?authors\b)",
        re.I,
    ),
    "year": re.compile(
        r"\b(?:when|what year|which year|in what year)\b.{0,60}\b(?:published|written|appear(?:ed)?|released|come out)\b|"
        r"\b(?:publication (?:year|date)|year of publication)\b",
        re.I,
    ),
    "venue": re.compile(
        r"\b(?:which|what)\s+(?:journal|venue|conference|proceedings|magazine|outlet)\b.{0,60}"
        r"\b(?:publish\w*|appear\w*|print\w*)|\bpublished in (?:which|what)\b|"
        r"^\W*where (?:was|is|did)\b.{0,60}\b(?:published|appear(?:ed)?)\b",
        re.I,
    ),
    "doi": re.compile(r"\b(?:what|which|give|the)\b.{0,20}\bdoi\b", re.I),
}


def asks_metadata(question: str) -> list[str]:
    """The record fields a question asks for, in a fixed order ([] for a question about content)."""
    return [field for field, pattern in _ASKS.items() if pattern.search(question)]


# The words of such a question that ask for the record rather than name the paper: the gate
# does not look for them in the papers.
RECORD_WORDS = frozenset(
    tokenize(
        "who wrote written authored author authors published publication appear appeared journal venue "
        "conference proceedings year when doi paper article names name list"
    )
)
