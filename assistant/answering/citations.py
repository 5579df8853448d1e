"""Citation verification for LLM answers: pure text in, verified text out.

A model was given passages numbered [1]..[n].  Whatever it writes, the answer keeps only
markers that point to one of those passages, renumbered 1..k in order of first use (so
the reference list reads 1, 2, 3 in the text's order); markers that point nowhere
("[7]" with three passages, "[0]") are removed, and a claim (the text since the previous
marker) left with no marker is not shown.  The same filter runs on the token stream,
holding each claim back until its markers are in, so what a user watches stream is what
the final answer says.  The text is Markdown: brackets that are not citations and angle
brackets come out backslash-escaped.

With a `Support` check, a marker also has to be backed: the passage it points to must
contain most of the (IDF-weighted) terms of the claim, so a model that copies passage 3
and cites [1] loses that citation.  With a `details` check (assistant/fidelity.py), the
passages a claim keeps must also have each of its numbers, names and acronyms: a claim
that says "iGPT-2" where its passage says GPT-2 is not shown.

A claim that says nothing new is not shown either: one whose content words (stemmed) are,
all but REPEAT_NEW of them, in the claims already shown, or that loops on a phrase ("to
representative to representative to representative").  Small models fall into such loops
(docs/llm.md), and one never ends by itself: once the text being read loops, or after a
second repeat in a row, `looping` tells the caller to stop reading the model.

Accepted marker forms: [2], [1, 3], [1][3], [1-3], [Passage 2], [source 2].
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from assistant.answering import prompts
from assistant.text import MODEL_MARKER, PARTIAL_MARKER, tokenize

# Brackets that are not citations and angle brackets are escaped (as in extractive
# answers): text a model copied from a paper cannot become a link, a tag or a marker.
_ESCAPE = "[]<>"
_MAX_RANGE = 20  # "[1-999]" is not a citation of 999 passages
REPEAT_NEW = 0.2  # a claim with a smaller share of content words not yet shown repeats the answer
_LOOP = 3  # a phrase (1-4 words) said this many times in a row is a loop
_LOOP_TAIL = 200  # characters at the end of the text being read that are looked at for a loop


@dataclass
class Verified:
    text: str
    order: list[int] = field(default_factory=list)  # the model's numbers, in order of first use
    dropped: list[str] = field(default_factory=list)  # markers removed (pointing to no passage)
    unsupported: list[str] = field(default_factory=list)  # markers removed (passage does not back the claim)
    missing: list[str] = field(default_factory=list)  # details of claims that no passage they cite has
    claims: int = 0  # claims the model wrote (text followed by markers, or left uncited at the end)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (claim, why) for each claim not shown
    repeated: int = 0  # claims not shown because they repeat the answer or loop on a phrase

    @property
    def cited(self) -> bool:
        return bool(self.order)


Details = Callable[[str, list[int]], list[str]]  # (claim, passage numbers) -> its details those passages lack
_LEAD = re.compile(r"[\s.,;:!?)\"']*")  # what ends the previous claim's sentence: ". ", ", "


class CitationFilter:
    """Streaming verifier: feed() text pieces, get back verified text; close() at the end.

    A claim -- the text since the previous marker -- is held back until its markers have
    arrived, then checked: its markers must point to passages given, each passage must
    back it (`supports`), and together they must have its numbers and names (`details`).
    A claim that keeps no marker is never shown (its sentence's full stop is), nor is
    text left uncited at the end; `rejected` says why for each.  Nothing that fails is
    ever shown, even for a moment.
    """

    def __init__(
        self, n_passages: int, supports: Callable[[str, int], bool] | None = None, details: Details | None = None
    ):
        self.n = n_passages
        self.supports = supports  # (claim text, passage number) -> does the passage back the claim?
        self.details = details
        self.order: list[int] = []
        self.dropped: list[str] = []  # markers pointing to no passage
        self.unsupported: list[str] = []  # markers whose passage does not contain the claim
        self.missing: list[str] = []  # details no cited passage has
        self.rejected: list[tuple[str, str]] = []
        self.claims = 0
        self.repeated = 0  # claims not shown as repeats or loops
        self.looping = False  # the model is going round in circles: stop reading it
        self._said: set[str] = set()  # content words of the claims shown
        self._repeats_in_a_row = 0
        self._held = ""  # text since the last marker group (raw): the next group's claim
        self._claim = ""  # the claim of the marker group being read
        self._group: list[str] = []  # markers read since the claim ("[1] [3]"), settled at the next text
        self._last: list[int] | None = None  # numbers kept for the last claim (None: it was not shown)
        self._last_claim = ""
        self._buf = ""  # a possible marker, from "[" on
        self._started = False  # anything shown yet
        self._open = False  # the last shown claim's sentence has not ended yet

    def feed(self, piece: str) -> str:
        out: list[str] = []
        for ch in piece:
            if self._buf:
                self._buf += ch
                if ch == "]":
                    out.append(self._marker(self._buf))
                    self._buf = ""
                elif not PARTIAL_MARKER.fullmatch(self._buf):
                    text, self._buf = self._buf[:-1], ""
                    out.append(self._text(text))
                    out.append(self.feed(ch))  # the character that broke it may start a marker
            elif ch == "[":
                self._buf = "["
            else:
                out.append(self._text(ch))
        return "".join(out)

    def verified(self, shown: str) -> Verified:
        """What was shown (the text this filter let through), with what it kept and dropped."""
        return Verified(
            shown.strip(),
            order=self.order,
            dropped=self.dropped,
            unsupported=self.unsupported,
            missing=self.missing,
            claims=self.claims,
            rejected=self.rejected,
            repeated=self.repeated,
        )

    def close(self) -> str:
        """Settle what is held back; an unfinished marker at the very end is dropped, and so
        is text that no marker followed."""
        if self.looping:  # stopped mid-claim: what it had begun to say is not shown
            lead, body = _split(self._held)
            if _loops(body):
                self.claims += 1
                self.repeated += 1
                self.rejected.append((body.strip(), LOOPS))
            self._buf = self._held = ""
            return self._dropped(lead, "")
        buf, self._buf = self._buf, ""
        if re.fullmatch(r"\[\s*\d*\s*[,;\-–]?\s*", buf):
            self.dropped.append(buf)
            buf = ""
        out = self._text(buf) + (self._settle() if self._group else "")
        lead, body = _split(self._held)
        self._held = ""
        if re.search(r"\w", body):
            self.claims += 1
            self.rejected.append((body.strip(), "cites no passage"))
        return out + self._dropped(lead, body)

    def _text(self, text: str) -> str:
        out = []
        for ch in text:
            if self._group and not ch.isspace():
                out.append(self._settle())
            self._held += ch
            if ch.isspace() and not self._group and _loops(self._held[-_LOOP_TAIL:], at_end=True):
                self.looping = True  # a claim going round in circles never reaches its marker
        return "".join(out)

    def _marker(self, raw: str) -> str:
        if not MODEL_MARKER.fullmatch(raw):  # "[CLS]", "[a]": ordinary text in brackets
            return self._text(raw)
        if self._group:  # "[1][3]", "[1] [3]": one group (text in between would have settled it)
            self._group.append(raw)
        else:
            self._claim, self._group = self._held, [raw]
        self._held = ""
        return ""

    def _settle(self) -> str:
        """Decide the claim before the marker group just read: show it with the markers that
        stand, or drop it."""
        group, self._group = self._group, []
        numbers: list[int] = []
        for raw in group:
            found = _numbers(MODEL_MARKER.fullmatch(raw).group(1))
            if any(not 1 <= i <= self.n for i in found):
                self.dropped.append(raw)
            for i in found:
                if 1 <= i <= self.n and i not in numbers:
                    numbers.append(i)
        lead, body = _split(self._claim)
        if not re.search(r"\w", body):  # "claim [1]. [2]": more markers for the last claim
            if self._last is None:
                return self._lead(lead, shown=False)
            new = [i for i in numbers if i not in self._last]
            if self.supports is not None:
                backed = [i for i in new if self.supports(self._last_claim, i)]
                self.unsupported += [f"[{i}]" for i in new if i not in backed]
                new = backed
            self._last += new
            return self._lead(lead, shown=bool(new)) + self._markers(new)
        self.claims += 1
        terms = set(tokenize(body))
        repeat = _repeat(body, terms, self._said)
        self._repeats_in_a_row = self._repeats_in_a_row + 1 if repeat else 0
        self.looping = self.looping or repeat == LOOPS or self._repeats_in_a_row >= 2
        backed = numbers
        if self.supports is not None:
            backed = [i for i in numbers if self.supports(body, i)]
            self.unsupported += [f"[{i}]" for i in numbers if i not in backed]
        missing = self.details(body, backed) if self.details is not None and backed else []
        if missing:
            self.missing += missing
        if backed and not missing and repeat:  # faithful, but nothing new
            self.repeated += 1
            self.rejected.append((body.strip(), repeat))
            self._last = None
            return self._dropped(lead, body)
        if not backed or missing:
            why = (
                f"names {', '.join(missing)}, which the passages it cites do not have"
                if missing
                else "its passage does not contain what it says"
                if numbers
                else f"cites only passages it was not given ({', '.join(group)})"
            )
            self.rejected.append((body.strip(), why))
            self._last = None
            return self._dropped(lead, body)
        out = self._lead(lead, shown=True) + _escape(body) + self._markers(backed)
        self._last, self._last_claim = list(backed), body
        self._said |= terms
        self._open = not body.rstrip().endswith((".", "!", "?"))
        return out

    def _lead(self, lead: str, shown: bool) -> str:
        """What ends the previous sentence (kept only after shown text: a dropped claim keeps
        the full stop of the sentence before it, not its comma), and the space before the
        next shown claim."""
        punct, out = re.sub(r"\s", "", lead), ""
        if self._open and punct and (shown or re.search(r"[.!?]", punct)):
            out = punct
            self._open = not re.search(r"[.!?]", punct)
        if shown and self._started:
            out += re.sub(r"\S", "", lead)
        return out

    def _dropped(self, lead: str, body: str) -> str:
        """What stays of a claim that is not shown: the end of the shown sentence it was part
        of ("A [1] and B [9]." -> "A [1].")."""
        out = self._lead(lead, shown=False)
        end = re.search(r"[.!?](?=\s|$)", body)
        if self._open and end:
            out += end.group(0)
            self._open = False
        return out

    def _markers(self, numbers: list[int]) -> str:
        for i in numbers:
            if i not in self.order:
                self.order.append(i)
        if numbers:
            self._started = True
        return "".join(f"[{self.order.index(i) + 1}]" for i in numbers)


REPEATS = "repeats what the answer already said"
LOOPS = "repeats a phrase over and over"


def _repeat(claim: str, terms: set[str], said: set[str]) -> str:
    """Why `claim` (content words `terms`) adds nothing to an answer whose shown claims used
    the words `said` ("" when it does): it loops on a phrase, or nearly all its words were said."""
    if _loops(claim):
        return LOOPS
    if said and terms and len(terms - said) < REPEAT_NEW * len(terms):
        return REPEATS
    return ""


def _loops(text: str, at_end: bool = False) -> bool:
    """Does `text` say a phrase of 1-4 words _LOOP times in a row (`at_end`: as its last words)?"""
    words = re.findall(r"\w+", text.lower())
    for n in range(1, 5):
        starts = [len(words) - _LOOP * n] if at_end else range(len(words) - _LOOP * n + 1)
        for i in starts:
            if i >= 0 and all(words[i + k * n : i + (k + 1) * n] == words[i : i + n] for k in range(1, _LOOP)):
                return True
    return False


def _split(claim: str) -> tuple[str, str]:
    """(the previous sentence's end and the space after it, the claim itself)."""
    lead = _LEAD.match(claim).group(0)
    return lead, claim[len(lead) :]


def _escape(text: str) -> str:
    return "".join("\\" + ch if ch in _ESCAPE else ch for ch in text)


def _numbers(spec: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|\band\b)\s*", spec):
        span = re.fullmatch(r"(\d+)\s*[-–]\s*(\d+)", part)
        if span:
            lo, hi = int(span[1]), int(span[2])
            out.extend(range(lo, hi + 1) if 0 <= hi - lo < _MAX_RANGE else [lo, hi])
        elif part.isdigit():
            out.append(int(part))
    return out


def verify(
    text: str, n_passages: int, supports: Callable[[str, int], bool] | None = None, details: Details | None = None
) -> Verified:
    """Keep the claims of `text` whose markers point to passages 1..n_passages (and, with
    `supports`, whose passage backs the claim before them; with `details`, whose passages
    have its numbers and names), with those markers renumbered."""
    f = CitationFilter(n_passages, supports, details)
    return f.verified(f.feed(text) + f.close())


class Support:
    """Does passage n contain what a claim says?  The IDF-weighted share of the claim's
    terms (stemmed, stopwords dropped) that occur in the passage or its title.

    Calibrated on the dev set's answer points (short paraphrases of abstract facts): a
    true claim scores >= 0.67 against its own paper in 95% of cases, and the same claim
    scores <= 0.35 against the other top retrieved papers in 95% of cases.  A marker after
    no content terms ("1. [1]", "So it does [1].") vouches for nothing and is not kept."""

    def __init__(
        self,
        passages: Iterable[str],
        tokenize: Callable[[str], list[str]],
        idf: Callable[[str], float],
        threshold: float,
    ):
        self.tokenize, self.idf, self.threshold = tokenize, idf, threshold
        self.terms = [set(tokenize(p)) for p in passages]

    def score(self, claim: str, number: int) -> float:
        terms = set(self.tokenize(claim))
        total = sum(self.idf(t) for t in terms)
        if total <= 0 or all(t.isdigit() for t in terms):  # "1. [1]" is a list number, not a claim
            return 0.0
        return sum(self.idf(t) for t in terms if t in self.terms[number - 1]) / total

    def __call__(self, claim: str, number: int) -> bool:
        return self.score(claim, number) >= self.threshold


def says_not_covered(text: str) -> bool:
    """Did the model reply with the fixed "not covered" sentence (in any case or spacing)?"""
    norm = " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())
    phrase = " ".join(re.sub(r"[^a-z0-9]+", " ", prompts.NOT_COVERED.lower()).split())
    return phrase in norm
