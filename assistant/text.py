"""Text handling shared by the whole library: the one home for words, sentences, citation
markers and escaping.

* words -- `tokenize` turns text into index terms (lower case, stopwords dropped, English
  stems, plural acronyms folded: *LLMs* -> *llm*); `specificity` says how specific a word
  is in everyday English.  BM25, the relevance gate, sentence choice and the citation
  support check all use these, so they agree on what a "term" is.
* sentences -- `sentence_spans` gives character offsets, so a quote can always be found
  again in its source text.
* citation markers -- `CITATION` is the `[n]` the library writes; `MODEL_MARKER` the forms
  an LLM writes (`[2]`, `[1, 3]`, `[1-3]`, `[Passage 2]`).
* escaping -- paper text is data, never markup: `md_title`/`md_quote` for Markdown the
  library writes, `md_text` for arbitrary text shown as Markdown, `html` for HTML.
"""

from __future__ import annotations

import html as _html
import re
import threading

# --- words ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+")
_VOWEL = re.compile(r"[aeiouy]")
# English function words plus the words people use to *ask* about papers ("is there a
# paper that...", "which method..."): they say nothing about what a paper contains.
STOPWORDS = frozenset(
    """
a about above after again against all also am an and any are as at be because been before being below between
both but by can cannot could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just let me more most my myself no nor not
of off on once only or other ought our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
anyone anything someone something paper papers work works study studies approach approaches method methods way
ways thing things kind kinds use used uses using get gets got make makes made tell know want looking look read
heard find found s t don doesn didn isn aren wasn weren won wouldn shouldn couldn
""".split()
)

# PyStemmer's stemmer objects are not thread-safe: one per thread (the web app answers on several).
_local = threading.local()
_normal: dict[str, str] = {}  # raw word -> index term ("" = dropped); words repeat, stemming is the cost
_NORMAL_MAX = 500_000  # bounded: a corpus of ids and numbers would grow it forever


def _stem(word: str) -> str:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer.stemWord(word)


def _term(word: str) -> str:
    if word in STOPWORDS or (len(word) < 2 and not word.isdigit()):
        return ""
    if len(word) > 3 and word.endswith("s") and not _VOWEL.search(word[:-1]):
        word = word[:-1]  # plural acronyms: LLMs -> llm, VLMs -> vlm (the stemmer leaves them alone)
    return _stem(word)


def term(word: str) -> str:
    """The index term of one word ("" when it is dropped)."""
    w = word.lower()
    t = _normal.get(w)
    if t is None:
        if len(_normal) > _NORMAL_MAX:
            _normal.clear()
        t = _normal[w] = _term(w)
    return t


def tokenize(text: str) -> list[str]:
    """Index terms of `text`, in order (repeats kept: BM25 counts them)."""
    out = []
    for w in _TOKEN.findall(text.lower()):
        t = _normal.get(w)
        if t is None:
            t = term(w)
        if t:
            out.append(t)
    return out


# Zipf frequency (log10 of occurrences per billion words) of a word in everyday English:
# "use" 6, "image" 4.9, "gaze" 3.7, "watermarking" 2.0, a name never seen 0.
COMMON_ZIPF, RARE_ZIPF, MIN_SPECIFICITY = 5.5, 3.0, 0.1


def specificity(text: str) -> dict[str, float]:
    """For each index term of `text`: how specific its word is (0.1..1) -- 1 for a word rarer
    than zipf 3 in everyday English (technical terms, names), falling linearly to 0.1 for one
    as common as zipf 5.5 ("way", "each", "show").  A question's common words say little
    about what it asks; its specific ones are the point of it."""
    from wordfreq import zipf_frequency

    out: dict[str, float] = {}
    for w in _TOKEN.findall(text.lower()):
        t = term(w)
        if t:
            z = zipf_frequency(w, "en")
            s = min(1.0, max(MIN_SPECIFICITY, (COMMON_ZIPF - z) / (COMMON_ZIPF - RARE_ZIPF)))
            out[t] = max(out.get(t, 0.0), s)
    return out


# --- sentences --------------------------------------------------------------------------------

_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREV = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Figs|Eq|Eqs|Sec|No|approx|resp|Dr|Mr|Ms|Prof|St|Inc|Ltd|"
    r"viz|al)\.|\b[A-Z]\.)$"
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.start() + len(m.group(0).rstrip())  # keep a closing quote/bracket with its sentence
        piece = text[start:end]
        if ends_with_abbreviation(piece) or len(piece.split()) < 3:
            continue  # "e.g. CLIP", "et al. show", "Findings." -- not a real boundary
        spans.append((start, end))
        start = m.end()
    if start < len(text) and text[start:].strip():
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def ends_with_abbreviation(text: str) -> bool:
    """'... e.g.', '... et al.', '... etc.': a full stop that does not end a sentence."""
    return bool(_ABBREV.search(text.rstrip("\"')]")))


# --- citation markers -------------------------------------------------------------------------

# What the library writes after a claim: [1], [2] ...
CITATION = re.compile(r"\[(\d{1,3})\]")
# What an LLM may write for one: [2], [1, 3], [1][3], [1-3], [Passage 2], [source 2].
MODEL_MARKER = re.compile(
    r"\[\s*(?:(?:passage|source|doc|document|ref|reference)s?\s*)?"
    r"(\d{1,3}(?:\s*(?:,|;|-|–|and)\s*\d{1,3})*)\s*\]",
    re.I,
)
# What the start of one can look like while it streams in ("[", "[1", "[Passage").
PARTIAL_MARKER = re.compile(r"\[[\w\s,;\-–]{0,24}", re.I)
# A bracketed number list anywhere (with the space before it): what strip_markers removes.
_NUMBER_BRACKETS = re.compile(r"\s*\[\s*\d{1,3}(?:\s*[,;\-–]\s*\d{1,3})*\s*\]")


# One or more markers in a row, with the space before them: " [1][3]", " [1, 2]", " [1-3]".
MARKER_RUN = re.compile(r"(?:\s*\[\d{1,3}(?:\s*[,;–-]\s*\d{1,3})*\])+")


def strip_markers(text: str) -> str:
    """Text without [n] markers (earlier answers passed back as conversation)."""
    return _NUMBER_BRACKETS.sub("", text)


def neutralise_markers(text: str) -> str:
    """Bracketed numbers made parenthesised: text that can never supply a citation marker."""
    return re.sub(r"\[(\s*\d+(?:\s*[,;\-–]\s*\d+)*\s*)\]", r"(\1)", text)


# --- escaping ---------------------------------------------------------------------------------


def md_title(text: str) -> str:
    """A paper title (or any short data) inside Markdown the library writes: emphasis, link,
    code and tag characters escaped."""
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def md_quote(text: str) -> str:
    """Quoted abstract text inside an answer: links and citation-like brackets, HTML tags,
    code spans and the backslashes of LaTeX leftovers (\\ours) escaped; emphasis kept as
    the paper wrote it."""
    return re.sub(r"([\\`\[\]<>])", r"\\\1", text)


def md_unescape(text: str) -> str:
    """Undo md_title / md_quote (an answer's text passed back to a model)."""
    return re.sub(r"\\([\\`*_\[\]<>])", r"\1", text)


def md_text(text: str) -> str:
    """Any plain text as Markdown that renders exactly as the text (no markup, no HTML, no links:
    not even the bare URLs, www. names and e-mail addresses that renderers turn into links)."""
    text = _html.escape(text, quote=False)
    text = re.sub(r"([\\`*_\[\]|~!@])", r"\\\1", text)
    text = text.replace("://", ":\\/\\/")
    text = re.sub(r"(?i)\b(www)\.", r"\1\\.", text)
    text = re.sub(r"(?m)^(\s*)([#+-])", r"\1\\\2", text)  # headings and list bullets at a line start
    return re.sub(r"(?m)^(\s*\d+)([.)])", r"\1\\\2", text)  # numbered-list markers


def html(value: object) -> str:
    """Text for HTML: every character that could open markup escaped (attribute-safe)."""
    return _html.escape(str(value), quote=True)


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}


def bib_escape(text: str) -> str:
    """Plain text as a BibTeX field value that reads back as the same text: LaTeX's special
    characters escaped, and the ligatures -- '' `` !` ?` broken so they stay two characters."""
    out = "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)
    out = re.sub(r"-(?=-)", "-{}", out)
    out = re.sub(r"'(?=')", "'{}", out)
    return re.sub(r"([`!?])(?=`)", r"\1{}", out)  # `` !` ?` are ligatures too


# --- abbreviations ------------------------------------------------------------------------------

_ACRONYM = re.compile(r"\b([A-Z][A-Z0-9]{1,5})s?\b")
_LINK_WORDS = frozenset({"of", "and", "the", "for", "to", "in", "on", "a", "an", "with", "by"})
_WORDS = re.compile(r"[A-Za-z][A-Za-z'’]*(?:-[A-Za-z]+)*")


def _initials(words: list[str]) -> str:
    """The letters an abbreviation of these words is made of: each word's first ("Hardy-Weinberg"
    gives two), link words skipped."""
    return "".join(part[0] for w in words if w.lower() not in _LINK_WORDS for part in w.split("-")).upper()


def _spelled_out(acronym: str, text: str) -> bool:
    """Do consecutive words of `text` spell `acronym`, each giving the start of itself ("REstricted
    Maximum Likelihood" REML; link words may give nothing)?"""
    words = [w.lower() for w in _WORDS.findall(text)]
    target = acronym.lower()

    def spells(k: int, i: int) -> bool:  # target[k:] from words[i:], words[i] giving at least one letter
        if k == len(target):
            return True
        if i >= len(words):
            return False
        w = words[i]
        if w in _LINK_WORDS and spells(k, i + 1):
            return True
        return any(w[:m] == target[k : k + m] and spells(k + m, i + 1) for m in range(1, min(len(w), 3) + 1))

    return any(w[0] == target[0] and spells(0, i) for i, w in enumerate(words))


def abbreviation_terms(question: str, text: str) -> set[str]:
    """Terms of `question` that `text` states in the other form: an abbreviation of the question
    spelled out in the text ("SVM" / "support vector machine"), or the reverse ("Hardy-Weinberg
    equilibrium" / "HWE")."""
    out: set[str] = set()
    for acronym in {m.group(1) for m in _ACRONYM.finditer(question)}:
        if acronym not in text and _spelled_out(acronym, text):
            out.update(tokenize(acronym))
    found = {m.group(1) for m in _ACRONYM.finditer(text)}
    if found:
        words = _WORDS.findall(question)
        for i in range(len(words)):
            for j in range(i + 2, min(len(words), i + 7) + 1):
                if words[j - 1].lower() in _LINK_WORDS:
                    continue
                if _initials(words[i:j]) in found:
                    out.update(tokenize(" ".join(words[i:j])))
    return out
