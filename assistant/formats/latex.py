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
_BARE_PERCENT = re.compile(r"(?<!\\)%")
_APPROX_TILDE = re.compile(r"(?<!\\)~(?=\s?\d)")
_DROPPED = ("cite", "citet", "citep", "citealp", "citeauthor", "citeyear", "parencite", "textcite",
            "autocite", "footcite", "nocite", "ref", "autoref", "cref", "Cref", "eqref", "label", "footnote")

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
        db.add_context_category("paper-text", prepend=True, macros=(
            [MacroTextSpec(name, discard=True) for name in _DROPPED]
            + [MacroTextSpec("url", simplify_repl="%s"), MacroTextSpec("textasciitilde", simplify_repl="~"),
               MacroTextSpec("textasciicircum", simplify_repl="^")]))
        db.set_unknown_macro_spec(MacroTextSpec("", simplify_repl=_unknown_macro))
        conv = _local.conv = LatexNodes2Text(latex_context=db, math_mode="text")
    return conv


def _unknown_macro(node, l2tobj=None) -> str:
    source = node.parsing_state.s
    end = node.pos + node.len
    rest = source[end:end + 2]
    if rest.startswith("{") and rest != "{}":
        return ""
    return node.macroname + (" " if getattr(node, "macro_post_space", "") else "")  # "\\ours unifies" keeps its space


def latex_to_text(text: str) -> str:
    """Plain Unicode text for a LaTeX (or partly LaTeX) string; whitespace is left to the caller."""
    if not text or not _TRIGGER.search(text):
        return text
    prepared = _APPROX_TILDE.sub(r"\\textasciitilde{}", _BARE_PERCENT.sub(r"\\%", _CITATION.sub("", text)))
    try:
        out = _converter().latex_to_text(prepared)
    except Exception:  # noqa: BLE001 - pylatexenc is tolerant, but a pathological string must not lose the record
        return text
    return out.replace("\xa0", " ")
