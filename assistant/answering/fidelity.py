"""Fidelity of an LLM answer's details: a cited sentence may not carry a number, name or
acronym that the passages it cites do not have.

The citation support check (citations.Support) asks whether a passage contains *most* of
a claim's terms, so a claim with one wrong detail -- "iGPT-2" for GPT-2, "40%" for 22%,
a data set the paper never used -- still passes it.  This module checks the details one
by one.  It is pure: text in, verdicts out.

A sentence's *details* are
* numbers, with their scale and percent sign: "22%", "30M", "1.5B", "2x", "2023", and
  number words from "two" up ("three benchmarks"; "one" is too often a pronoun);
* names: any word with a digit and a letter (GPT-2, LLaVA-1.5, ImageNet-1K, 3D), a
  capital inside (ImageNet, LLaVA, iGPT, IoU) or two capitals (CLIP, VLMs), kept whole
  across hyphens and slashes (Qwen2-VL-7B, ViT-L/14);
* capitalised words: every capitalised word that does not start a sentence (Kinetics,
  Smith, Visual Genome), and a sentence's first word when it is not an everyday English
  word (wordfreq zipf < 3: "Vicuna ...", but not "The", "Our", "Symmetrical").

Each is looked for in the cited passages (and the cited papers' titles) after folding
case, accents, Unicode dashes and possessives:
* a number must occur there with the same value ("1.5" = "1.50", "30M" = "30 million" =
  "30,000,000", "10" = "ten"); a claimed percentage must be a percentage there ("22 %",
  "22 percent", "22 percentage points").  Rounding is not a match: "22%" for 21.7% is
  another number.  Source text is read generously: numbers inside names count, and a bare
  number matches a scaled one ("30" in "30M");
* a name must occur as consecutive words, ignoring how they are joined ("GPT2" = "GPT-2"
  = "GPT 2", "zero-shot" = "zero shot") and a plural "s" ("LLMs" = "LLM"); a shorter name
  than the passage's is fine ("LLaVA" in "LLaVA-1.5"), a longer one is not;
* a capitalised word must occur as a word (stemmed: "Captions" = "caption").

List numbering ("1.", "(2)") and citation markers are not details.  Lower-case words are
never details: paraphrase is the model's job, and the support check weighs their share.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from assistant.text import STOPWORDS, md_unescape, strip_markers, term

RARE_ZIPF = 3.0  # a sentence's first word below this everyday-English frequency is a name
MAX_NAME_WORDS = 6  # longest run of passage words a name may be joined from

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
_QUOTES = dict.fromkeys(map(ord, "\u2018\u2019\u02bc\u2032"), "'")
_SIGNS = {ord("\u00d7"): "x", ord("\uff05"): "%", ord("\u2009"): " ", ord("\u202f"): " ", ord("\u00a0"): " "}

# A word of a sentence: letters/digits joined by hyphens, slashes, dots or "+" (GPT-4V,
# ViT-L/14, LLaVA-1.5, 1,000), a possessive, a percent sign.
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-/.,+][A-Za-z0-9]+)*(?:'s\b|s'|')?(?:\s?%)?")
_NUM = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?([A-Za-z]{0,2})")
_SCALE = {
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "B": 10**9,
    "b": 10**9,
    "T": 10**12,
    "thousand": 10**3,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
}
_UNITS = {"x", "X", "h", "s", "ms", "m", "px", "st", "nd", "rd", "th"}  # 2x, 10s, 2nd: the bare number
_PERCENT_AFTER = re.compile(r"\s*(%|percent\b|per cent\b|percentage points?\b|pp\b)", re.I)
_SCALE_AFTER = re.compile(r"\s+(thousand|million|billion|trillion)\b", re.I)
_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split()
)
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS = (
    {w: i for i, w in enumerate(_ONES)}
    | {w: 20 + 10 * i for i, w in enumerate(_TENS)}
    | {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "dozen": 12}
)
# Read only in passages: a claim's "1st" may come from a passage's "first".
_SOURCE_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "twice": 2,
    "double": 2,
    "triple": 3,
    "half": 0.5,
    "single": 1,
    "once": 1,
}
_CLAIM_NUMBER_WORDS = {w: v for w, v in NUMBER_WORDS.items() if w not in ("zero", "one")}
_LIST_NUMBER = re.compile(r"^\s*(?:[-*+]\s+)?(?:\(?\d{1,2}[.)]|\(?[ivx]{1,4}\))\s+", re.I | re.M)
_ENUMERATION = re.compile(r"\(\s*(?:\d{1,2}|[ivx]{1,4}|[a-h])\s*\)", re.I)
_MARKUP = re.compile(r"\\(?=[\\`*_\[\]<>])|[*_`]")
_INITIAL_AFTER = re.compile(r"(^\s*|[.!?:;]\s+|\n\s*|[\"']\s?)$")  # what precedes a word that starts a sentence


@dataclass(frozen=True)
class Detail:
    """One checkable detail of a sentence: `text` as written, `kind` number|name|word,
    `key` what is looked for (a Decimal value, a folded name, a stemmed word)."""

    text: str
    kind: str
    key: object
    percent: bool = False
    last: bool = False  # the sentence's last word, which a length limit may have cut ("LV" of "LVLM")


# --- folding ----------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Text as both sides are compared: NFKC, accents dropped, one kind of dash, quote and
    space; possessive 's removed.  Case is kept (callers lower it where it does not matter)."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES).translate(_SIGNS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    # LaTeX left in abstracts: "72\%", "76\(\%\)", "65.\%"
    text = re.sub(r"(?<=\d)\.%", "%", re.sub(r"\\[()]", "", text).replace("\\%", "%"))
    return re.sub(r"(?<=\w)'s\b|(?<=s)'(?!\w)", "", text)


def _name_key(text: str) -> str:
    return "".join(re.findall(r"[a-z0-9]+", text.lower()))


def _number(digits: str, decimals: str | None, scale: int = 1) -> Decimal | None:
    try:
        return (Decimal(digits.replace(",", "") + (decimals or "")) * scale).normalize()
    except InvalidOperation:
        return None


# --- the details of a sentence ----------------------------------------------------------------


def details(sentence: str) -> list[Detail]:
    """The numbers, names and capitalised words of one sentence (markers and markup ignored)."""
    text = fold(_MARKUP.sub("", md_unescape(strip_markers(sentence))))
    text = _LIST_NUMBER.sub(" ", _ENUMERATION.sub(" ", text))
    out: list[Detail] = []
    for m in _WORD.finditer(text):
        found = _word_details(m.group(0), text[: m.start()], text[m.end() :])
        if found and not re.search(r"[A-Za-z0-9]", text[m.end() :]):
            found[-1] = replace(found[-1], last=True)
        out += found
    return list(dict.fromkeys(out))


def _word_details(word: str, before: str, after: str) -> list[Detail]:
    alternatives = re.split(r"/(?=[A-Za-z][A-Za-z0-9]*[A-Za-z])", word)
    if len(alternatives) > 1:  # "LVIS/OmniLabel" names two things; "ViT-L/14" one
        last = len(alternatives) - 1
        return [
            d
            for i, w in enumerate(alternatives)
            for d in _word_details(w, before if i == 0 else "x ", after if i == last else "")
        ]
    initial = bool(_INITIAL_AFTER.search(before))
    percent = word.endswith("%")
    word = re.sub(r"\s?%$|'s$|'$", "", word)
    if word.lower() in ("thousand", "million", "billion", "trillion") and re.search(r"\d\s+$", before):
        return []  # the scale of the number before it ("30 million"), read with that number
    num = _number_word(word)
    if num:  # 22, 1.5, 30M, 2x, 1,000, 7B
        return [_claim_number(word, num, percent, after)]
    if re.fullmatch(r"\d+(?:[-/]\d+)+", word):  # a range or a ratio: 1-3, 4/5
        return [Detail(p, "number", _number(p, None)) for p in re.split(r"[-/]", word)]
    pieces = re.split(r"([-/+])", word)
    parts, seps = pieces[::2], pieces[1::2] + [""]
    shapes = [_shape(p) for p in parts]
    # A name seeds a run (and so does a capitalised word next to a number: Kinetics-400);
    # letters and numbers next to it belong to it (ViT-L/14, LLaVA-1.5-7B), capitalised
    # words do not ("CLIP-Based" is CLIP, and Based).
    seeds = [i for i, s in enumerate(shapes) if s == "name" or (s == "cap" and "num" in shapes[max(0, i - 1) : i + 2])]
    out: list[Detail] = []
    if seeds:
        lo, hi = seeds[0], seeds[-1]
        while lo > 0 and shapes[lo - 1] in ("name", "num", "letter"):
            lo -= 1
        while hi + 1 < len(parts) and shapes[hi + 1] in ("name", "num", "letter"):
            hi += 1
        name = "".join(p + sep for p, sep in zip(parts[lo : hi + 1], seps[lo:hi])) + parts[hi]
        out.append(Detail(name, "name", _name_key(name)))
        rest = list(range(lo)) + list(range(hi + 1, len(parts)))
    else:
        rest = list(range(len(parts)))
    for i in rest:
        p, shape = parts[i], shapes[i]
        if shape == "num":
            n = _number_word(p)
            out.append(_claim_number(p, n, percent and i == len(parts) - 1, after if i == len(parts) - 1 else ""))
        elif shape == "numword":
            out.append(Detail(p, "number", Decimal(_CLAIM_NUMBER_WORDS[p.lower()])))
        elif shape == "cap" and not (initial and i == 0 and _ordinary(p)):
            key = term(p)
            if key:
                out.append(Detail(p, "word", key))
    return out


def _claim_number(word: str, m: re.Match, percent: bool, after: str) -> Detail:
    digits, decimals, suffix = m.group(1), m.group(2), m.group(3)
    scale = _SCALE.get(suffix, 1)
    following = _SCALE_AFTER.match(after)
    if following and scale == 1:
        scale = _SCALE[following.group(1).lower()]
        word = f"{word} {following.group(1)}"
    if _PERCENT_AFTER.match(after):
        percent = True
    return Detail(word + ("%" if percent else ""), "number", _number(digits, decimals, scale), percent)


def _number_word(word: str) -> re.Match | None:
    """A number with at most a scale or unit letter: 22, 1.5, 30M, 2x, 2nd -- not 3D or 4o."""
    m = _NUM.fullmatch(word)
    return m if m and (not m.group(3) or m.group(3) in _SCALE or m.group(3) in _UNITS) else None


def _shape(part: str) -> str:
    """num (30M, 2x, 1.5), name (GPT, ImageNet, Qwen2, iGPT, 3D), numword (three), cap
    (Visual), letter (L of ViT-L), lower (shot)."""
    if not part:
        return "lower"
    if _number_word(part):
        return "num"
    has_digit, has_alpha = any(c.isdigit() for c in part), any(c.isalpha() for c in part)
    upper = sum(c.isupper() for c in part)
    if (has_digit and has_alpha) or upper >= 2 or (upper == 1 and not part[0].isupper()):
        return "name"
    if part.lower() in _CLAIM_NUMBER_WORDS:
        return "numword"
    if len(part) == 1:
        return "letter" if part.isupper() else "lower"
    if part[0].isupper() and part.lower() not in STOPWORDS:
        return "cap"
    return "lower"


@lru_cache(maxsize=4096)
def _ordinary(word: str) -> bool:
    """An everyday English word (capitalised only because it starts the sentence)."""
    from wordfreq import zipf_frequency

    w = word.lower()
    return w in STOPWORDS or w in NUMBER_WORDS or zipf_frequency(w, "en") >= RARE_ZIPF


# --- what the passages have -------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What a set of passages can vouch for: numbers (and which are percentages), names as
    joined runs of consecutive words, stemmed words, and the initials of runs of 3-6 words
    (an acronym of what the passage spells out: "large language model" -> LLM)."""

    numbers: frozenset
    percents: frozenset
    names: frozenset
    words: frozenset
    initials: frozenset

    def __or__(self, other: Evidence) -> Evidence:
        return Evidence(
            self.numbers | other.numbers,
            self.percents | other.percents,
            self.names | other.names,
            self.words | other.words,
            self.initials | other.initials,
        )


EMPTY = Evidence(frozenset(), frozenset(), frozenset(), frozenset(), frozenset())


@lru_cache(maxsize=1024)
def evidence(text: str) -> Evidence:
    """The Evidence of one passage (cached: the same passages are checked sentence after sentence)."""
    folded = fold(text)
    numbers, percents = set(), set()
    for m in re.finditer(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?([A-Za-z]{0,2})", folded):
        plain = _number(m.group(1), m.group(2))
        after = folded[m.end() :]
        scales = {_SCALE.get(m.group(3), 1)}
        following = _SCALE_AFTER.match(after)
        if following:
            scales.add(_SCALE[following.group(1).lower()])
        for s in scales:
            value = _number(m.group(1), m.group(2), s)
            numbers.add(value)
            if _PERCENT_AFTER.match(after):
                percents.add(value)
        numbers.add(plain)
    lower = folded.lower()
    tokens = re.findall(r"[a-z0-9]+", lower)
    for t in tokens:
        value = NUMBER_WORDS.get(t, _SOURCE_WORDS.get(t))
        if value is not None:
            numbers.add(Decimal(value).normalize())
    for m in re.finditer(r"\b(" + "|".join(_TENS) + r")-(" + "|".join(_ONES[1:10]) + r")\b", lower):
        numbers.add(Decimal(NUMBER_WORDS[m.group(1)] + NUMBER_WORDS[m.group(2)]))
    for m in re.finditer(r"\b(\w+)\s+percent", lower):
        if m.group(1) in NUMBER_WORDS:
            percents.add(Decimal(NUMBER_WORDS[m.group(1)]))
    names = set()
    for i in range(len(tokens)):
        joined = ""
        for t in tokens[i : i + MAX_NAME_WORDS]:
            joined += t
            names.add(joined)
            if joined.endswith("s") and len(joined) > 2:
                names.add(joined[:-1])
    words = {term(t) for t in tokens} - {""}
    initials = {
        "".join(t[0] for t in tokens[i : i + n])
        for n in range(3, 7)
        for i in range(len(tokens) - n + 1)
        if all(t.isalpha() for t in tokens[i : i + n])
    }
    return Evidence(frozenset(numbers), frozenset(percents), frozenset(names), frozenset(words), frozenset(initials))


def supported(d: Detail, ev: Evidence) -> bool:
    if d.kind == "number":
        return d.key is not None and d.key in (ev.percents if d.percent else ev.numbers)
    key = str(d.key) if d.kind == "name" else _name_key(d.text)
    if key in ev.names or (key.endswith("s") and key[:-1] in ev.names) or (d.kind == "word" and d.key in ev.words):
        return True
    acronym = re.fullmatch(r"([A-Za-z]{3,6}?)s?", d.text)
    if (
        d.kind == "name"
        and acronym
        and sum(c.isupper() for c in d.text) >= 2
        and (acronym.group(1).lower() in ev.initials or key in ev.initials)
    ):
        return True
    return d.last and len(key) >= 2 and any(n.startswith(key) for n in ev.names)


# --- the check --------------------------------------------------------------------------------


def evidence_of(sources: Iterable[str]) -> Evidence:
    out = EMPTY
    for s in sources:
        out = out | evidence(s)
    return out


def unsupported(sentence: str, sources: Iterable[str]) -> list[str]:
    """The details of `sentence` (as written) that none of `sources` has; [] = faithful.

    `sources` are the texts the sentence cites: its passages and their papers' titles."""
    ev = evidence_of(sources)
    return [d.text for d in details(sentence) if not supported(d, ev)]


# --- a finished answer ------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_LEADING_MARKERS = re.compile(r"^((?:\s*\[\d{1,3}\])+)")


@dataclass
class SentenceCheck:
    """One sentence of an answer: the [n] it carries and the details its passages lack."""

    text: str
    cited: list[int]
    missing: list[str]


def answer_sentences(text: str) -> list[tuple[str, list[int]]]:
    """The sentences of an answer's Markdown text with their [n] markers (a marker written
    after the full stop, "Claim. [1]", belongs to the sentence before it)."""
    out: list[tuple[str, list[int]]] = []
    for piece in _SENTENCE_END.split(text):
        lead = _LEADING_MARKERS.match(piece)
        if lead and out:
            out[-1][1].extend(int(n) for n in re.findall(r"\d+", lead.group(1)))
            piece = piece[lead.end() :]
        if re.search(r"[A-Za-z0-9]", strip_markers(piece)):
            out.append((piece.strip(), [int(n) for n in re.findall(r"\[(\d{1,3})\]", piece)]))
    return out


def check_answer(text: str, sources: dict[int, list[str]]) -> list[SentenceCheck]:
    """Each sentence of an answer against what its markers cite (`sources`: citation number
    -> the passage and title texts).  An uncited sentence is checked against nothing, so
    any detail in it is missing."""
    out = []
    for sentence, cited in answer_sentences(text):
        texts = [t for n in dict.fromkeys(cited) for t in sources.get(n, [])]
        out.append(SentenceCheck(strip_markers(sentence).strip(), cited, unsupported(sentence, texts)))
    return out
