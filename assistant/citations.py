"""Citation verification for LLM answers: pure text in, verified text out.

A model was given passages numbered [1]..[n].  Whatever it writes, the answer keeps only
markers that point to one of those passages, renumbered 1..k in order of first use (so
the reference list reads 1, 2, 3 in the text's order); markers that point nowhere
("[7]" with three passages, "[0]") are removed.  The same filter runs on the token stream,
so what a user watches stream is what the final answer says.  The text is Markdown:
brackets that are not citations and angle brackets come out backslash-escaped.

With a `Support` check, a marker also has to be backed: the passage it points to must
contain most of the (IDF-weighted) terms of the text since the previous marker, so a
model that copies passage 3 and cites [1] loses that citation.

Accepted marker forms: [2], [1, 3], [1][3], [1-3], [Passage 2], [source 2].
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import prompts
from .text import MODEL_MARKER, PARTIAL_MARKER

_PUNCT = ".,;:!?)"
# Brackets that are not citations and angle brackets are escaped (as in extractive
# answers): text a model copied from a paper cannot become a link, a tag or a marker.
_ESCAPE = "[]<>"
_MAX_RANGE = 20  # "[1-999]" is not a citation of 999 passages


@dataclass
class Verified:
    text: str
    order: list[int] = field(default_factory=list)  # the model's numbers, in order of first use
    dropped: list[str] = field(default_factory=list)  # markers removed (pointing to no passage)
    unsupported: list[str] = field(default_factory=list)  # markers removed (passage does not back the claim)

    @property
    def cited(self) -> bool:
        return bool(self.order)


class CitationFilter:
    """Streaming verifier: feed() text pieces, get back verified text; close() at the end.

    A piece that might be the start of a marker ("[", "[1") is held back until it is
    complete, so no invalid marker is ever shown, even for a moment.
    """

    def __init__(self, n_passages: int, supports: Callable[[str, int], bool] | None = None):
        self.n = n_passages
        self.supports = supports  # (claim text, passage number) -> does the passage back the claim?
        self.order: list[int] = []
        self.dropped: list[str] = []  # markers pointing to no passage
        self.unsupported: list[str] = []  # markers whose passage does not contain the claim
        self._claim = ""  # text since the previous marker: what the next marker vouches for
        self._last_claim = ""
        self._last_numbers: list[int] = []
        self._buf = ""  # a possible marker, from "[" on
        self._space = ""  # whitespace held until we know whether a dropped marker follows
        self._after_drop = False
        self._started = False  # anything shown yet

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

    def close(self) -> str:
        """Flush what is held back; an unfinished marker at the very end is dropped."""
        buf, self._buf = self._buf, ""
        if re.fullmatch(r"\[\s*\d*\s*[,;\-–]?\s*", buf):
            self.dropped.append(buf)
            return ""
        out = self._text(buf)
        self._space = ""
        return out

    def _text(self, text: str) -> str:
        out = []
        for ch in text:
            if ch.isspace():
                self._space += ch
                continue
            if (self._after_drop and ch in _PUNCT) or not self._started:
                self._space = ""  # "result [9]." -> "result."; no leading whitespace
            self._started = True
            self._claim += self._space + ch
            out.append(self._space + ("\\" + ch if ch in _ESCAPE else ch))
            self._space, self._after_drop = "", False
        return "".join(out)

    def _marker(self, raw: str) -> str:
        m = MODEL_MARKER.fullmatch(raw)
        if not m:  # "[CLS]", "[a]": ordinary text in brackets
            return self._text(raw)
        numbers = list(dict.fromkeys(_numbers(m.group(1))))
        valid = [i for i in numbers if 1 <= i <= self.n]
        if len(valid) < len(numbers):
            self.dropped.append(raw)
        fresh = bool(re.search(r"\w", self._claim))
        claim = self._claim if fresh else self._last_claim  # "[1][2]": one claim
        if not fresh:  # "[1][1]" says nothing more than "[1]"
            numbers = [i for i in numbers if i not in self._last_numbers]
            if not numbers:
                return ""
        self._claim, self._last_claim, self._last_numbers = "", claim, numbers
        if self.supports is not None:
            backed = [i for i in valid if self.supports(claim, i)]
            self.unsupported += [f"[{i}]" for i in valid if i not in backed]
            valid = backed
        if not valid:
            self._after_drop = True
            return ""
        for i in valid:
            if i not in self.order:
                self.order.append(i)
        out = (self._space if self._started else "") + "".join(f"[{self.order.index(i) + 1}]" for i in valid)
        self._space, self._after_drop, self._started = "", False, True
        return out


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


def verify(text: str, n_passages: int, supports: Callable[[str, int], bool] | None = None) -> Verified:
    """Keep the markers of `text` that point to passages 1..n_passages (and, with
    `supports`, whose passage backs the claim before them), renumbered."""
    f = CitationFilter(n_passages, supports)
    out = f.feed(text) + f.close()
    return Verified(out.strip(), f.order, f.dropped, f.unsupported)


class Support:
    """Does passage n contain what a claim says?  The IDF-weighted share of the claim's
    terms (stemmed, stopwords dropped) that occur in the passage or its title.

    Calibrated on the dev set's answer points (short paraphrases of abstract facts): a
    true claim scores >= 0.67 against its own paper in 95% of cases, and the same claim
    scores <= 0.35 against the other top retrieved papers in 95% of cases.  A marker after
    no content terms ("1. [1]", "So it does [1].") vouches for nothing and is not kept."""

    def __init__(self, passages: Iterable[str], tokenize: Callable[[str], list[str]], idf: Callable[[str], float],
                 threshold: float):
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
