"""LaTeX in titles and abstracts made into plain Unicode text.

BibTeX fields are LaTeX (`M{\\"u}ller`, `$\\alpha$`, `\\emph{...}`), and abstracts copied from
LaTeX sources keep leftovers such as `\\ours` or `76\\(\\%\\)`.  `latex_to_text` turns both into
the text a reader would see, with pylatexenc, plus three rules for text that is only partly
LaTeX:

* a bare `%` is a per cent sign, not a comment (LaTeX would drop the rest of the line);
* `~` before a digit means "about" (`~20%`), elsewhere it is LaTeX's non-breaking space;
* a macro nobody defined that stands alone (`\\ours`, `\\ModelName`) keeps its name, so the
  sentence still names something; one followed by a braced argument (`\\method{X}`) is
  markup and leaves its argument.  Citations and cross-references (`\\cite{x}`, `\\ref{y}`)
  are dropped: they point into a document the reader does not have.

Text without any LaTeX trigger character is returned unchanged (and fast).
"""

from __future__ import annotations

import re
import threading

_TRIGGER = re.compile(r"[\\{}$]|``")
_BARE = re.compile(r"(?<!\\)([%&#])")  # per cent, ampersand, hash: as written, not LaTeX's comment/tab/param
_APPROX_TILDE = re.compile(r"(?<!\\)~(?=\s?\d)")
_DROPPED = (
    "cite",
    "citet",
    "citep",
    "citealp",
    "citeauthor",
    "citeyear",
    "parencite",
    "textcite",
    "autocite",
    "footcite",
    "nocite",
    "ref",
    "autoref",
    "cref",
    "Cref",
    "eqref",
    "label",
    "footnote",
)

# a citation with the space or tie before it: "gains~\\cite{x}." reads "gains."
_CITATION = re.compile(r"[ \t]*~?\\(?:" + "|".join(_DROPPED[:-1]) + r")\*?(?:\[[^\]]*\]){0,2}\{[^{}]*\}")
_local = threading.local()  # a LatexNodes2Text keeps parse state: one per thread


def _converter():
    conv = getattr(_local, "conv", None)
    if conv is None:
        from pylatexenc.latex2text import (
            LatexNodes2Text,
            MacroTextSpec,
            get_default_latex_context_db,
        )

        db = get_default_latex_context_db()
        db.add_context_category(
            "paper-text",
            prepend=True,
            macros=(
                [MacroTextSpec(name, discard=True) for name in _DROPPED]
                + [
                    MacroTextSpec("url", simplify_repl="%s"),
                    MacroTextSpec("textasciitilde", simplify_repl="~"),
                    MacroTextSpec("textasciicircum", simplify_repl="^"),
                ]
            ),
        )
        db.set_unknown_macro_spec(MacroTextSpec("", simplify_repl=_unknown_macro))
        conv = _local.conv = LatexNodes2Text(latex_context=db, math_mode="text")
    return conv


def _unknown_macro(node, l2tobj=None) -> str:
    source = node.parsing_state.s
    end = node.pos + node.len
    rest = source[end : end + 2]
    if rest.startswith("{") and rest != "{}":
        return ""
    return node.macroname + (" " if getattr(node, "macro_post_space", "") else "")  # "\\ours unifies" keeps its space


# Text whose only LaTeX is escaped specials and braces (most titles and abstracts in a .bib,
# and everything assistant.references writes) is converted here, a hundred times faster than
# by pylatexenc and to the same result (tests/test_records.py checks the two agree).
_SIMPLE = re.compile(r"(?:[^\\$]|\\[%&_#${}]|\\text(?:asciitilde|asciicircum|backslash)\{\})*", re.S)
_ESCAPES = {
    r"\%": "%",
    r"\&": "&",
    r"\_": "_",
    r"\#": "#",
    r"\$": "$",
    r"\{": "{",
    r"\}": "}",
    r"\textasciitilde{}": "~",
    r"\textasciicircum{}": "^",
    r"\textbackslash{}": "\\",
}
_ESCAPE = re.compile("|".join(re.escape(k) for k in sorted(_ESCAPES, key=len, reverse=True)))
_LIGATURES = {"---": "\u2014", "--": "\u2013", "``": "\u201c", "''": "\u201d", "!`": "\u00a1", "?`": "\u00bf"}
_LIGATURE = re.compile("|".join(re.escape(k) for k in _LIGATURES))  # left to right, longest first, as TeX reads


def _simple(text: str) -> str:
    placeholders: list[str] = []

    def hold(m: re.Match) -> str:
        placeholders.append(_ESCAPES[m.group(0)])
        return f"\ue000{len(placeholders) - 1}\ue001"

    out = _ESCAPE.sub(hold, text)
    out = _LIGATURE.sub(lambda m: _LIGATURES[m.group(0)], out)
    out = out.replace("~", " ").replace("{", "").replace("}", "")
    return re.sub("\ue000(\\d+)\ue001", lambda m: placeholders[int(m.group(1))], out)


def _prepare(text: str) -> str:
    return _APPROX_TILDE.sub(r"\\textasciitilde{}", _BARE.sub(r"\\\1", _CITATION.sub("", text)))


def slow_latex_to_text(text: str) -> str:
    """`latex_to_text` by pylatexenc alone (no fast path): for tests."""
    return _converter().latex_to_text(_prepare(text)).replace("\xa0", " ")


def latex_to_text(text: str) -> str:
    """Plain Unicode text for a LaTeX (or partly LaTeX) string; whitespace is left to the caller."""
    if not text or not _TRIGGER.search(text):
        return text
    prepared = _prepare(text)
    if _SIMPLE.fullmatch(prepared):
        return _simple(prepared)
    try:
        out = _converter().latex_to_text(prepared)
    except Exception:  # noqa: BLE001 - pylatexenc is tolerant, but a pathological string must not lose the record
        return text
    return out.replace("\xa0", " ")
