"""Authoring tool for the LaTeX test papers: builds each PDF and writes its ground truth.

Not used by the tests (they need neither TeX nor poppler); run it after editing a .tex:

    apt-get install -y texlive-latex-base texlive-latex-recommended texlive-fonts-recommended poppler-utils
    python tests/data/pdfs/latex/build.py

For each `NAME.tex` it writes `NAME.pdf` and `NAME.json`.  The truth comes from the source,
never from a PDF text extractor: the papers are written one sentence per source line, so a
prose line is one sentence.  Only two facts are taken from the built files: which page each
sentence is on (`pdftotext -raw` per page, compared with all spacing, hyphens and punctuation
squashed out, so its reading order does not matter) and the words TeX broke at a line end.
Section numbers, pages and citation numbers come from TeX's own .aux file.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAPERS = ("checkpoint", "pollinators", "tokenization", "layout", "printed")
# Text set in the running headers/footers, per paper (page numbers are checked separately).
RUNNING = {
    "checkpoint": ["Adaptive Checkpoint Scheduling for Scientific Workflows", "Lindqvist and Okafor"],
    "pollinators": ["Ramirez-Ortega, Brandt and Nakamura", "Journal of Field Ecology Methods, Volume 12"],
    "tokenization": ["Workshop on Clinical Text Processing", "Preprint, not peer reviewed"],
    "layout": ["Short Communication", "Reading Order in Field Notebooks"],
    "printed": ["A Note on Sandwich Software", "Hartmann and Osei"],
}
# Title and authors as typeset on page 1.
META = {
    "checkpoint": (
        "Adaptive Checkpoint Scheduling for Long-Running Scientific Workflows",
        ["Maja Lindqvist", "Chidi Okafor"],
    ),
    "pollinators": (
        "Estimating Pollinator Visitation Rates from Sparse Camera-Trap Observations",
        ["Sofia Ramirez-Ortega", "Thomas Brandt", "Aiko Nakamura"],
    ),
    "tokenization": (
        "Robust Tokenization of Noisy Clinical Notes",
        ["Priya Raghunathan", "Henrik Solberg", "Laura Castellanos"],
    ),
    "layout": ("Recovering Reading Order in Digitised Field Notebooks", ["Ingrid Halvorsen", "Tomas Verhoeven"]),
    "printed": ("Clustered Covariances in Practice: A Software Note", ["Lena Hartmann", "Kwame Osei"]),
}
SKIP_ENVS = ("table", "table*", "figure", "lstlisting", "thebibliography", "center", "quote", "equation")


def squash(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower().replace("ﬁ", "fi").replace("ﬂ", "fl").replace("ﬀ", "ff"))


def build(name: str) -> None:
    # A fixed date and ID: rebuilding an unchanged source gives the same bytes.
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1735689600", "FORCE_SOURCE_DATE": "1"}
    for _ in range(2):  # twice: labels and citations settle on the second run
        subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
            cwd=HERE,
            check=True,
            stdout=subprocess.DEVNULL,
            env=env,
        )


def aux_facts(name: str) -> tuple[dict, dict, list[dict]]:
    aux = (HERE / f"{name}.aux").read_text()
    labels = {k: v for k, v in re.findall(r"\\newlabel\{([^}]*)\}\{\{([^}]*)\}", aux)}
    cites = dict(re.findall(r"\\bibcite\{([^}]*)\}\{([^}]*)\}", aux))
    sections = [
        {"title": f"{num} {title}", "page": int(page), "level": kind}
        for kind, num, title, page in re.findall(
            r"\\contentsline \{(section|subsection)\}\{\\numberline \{([^}]*)\}([^}]*)\}\{(\d+)\}", aux
        )
    ]
    return labels, cites, sections


def plain(line: str, labels: dict, cites: dict) -> str:
    """A prose source line as pdflatex prints it."""
    s = re.sub(r"\\cite\{([^}]*)\}", lambda m: "[" + ", ".join(cites[k.strip()] for k in m[1].split(",")) + "]", line)
    s = re.sub(r"\\ref\{([^}]*)\}", lambda m: labels[m[1]], s)
    s = s.replace("\\textasciitilde{}", "\0")  # a tilde as printed (a bare ~ is a space)
    s = re.sub(r"\\(?:emph|textbf|textit|textsuperscript|texttt)\{([^}]*)\}", r"\1", s)
    s = s.replace("\\linebreak{}", "").replace("~", " ").replace("---", "—").replace("--", "–").replace("\\%", "%")
    s = s.replace("``", "“").replace("''", "”").replace("'", "’").replace("\0", "~")
    return s.strip()


def source_lines(name: str, labels: dict, cites: dict, numbered: list[dict]) -> dict:
    """Prose sentences (with the heading they are under), footnotes, code lines and table
    rows of the source, in order.  `numbered`: the numbered headings from the .aux file."""
    tex = (HERE / f"{name}.tex").read_text()
    body = tex.split(r"\begin{document}", 1)[1]
    out = {
        "sentences": [],
        "footnotes": [],
        "code": [],
        "display_code": [],
        "table_rows": [],
        "references": [],
        "abstract": [],
        "section_of": {},
        "headings": [],
    }
    heading, next_numbered = None, iter(numbered)
    env: list[str] = []
    in_abstract = False
    # layout.tex draws its right column first: move it after the left one (reading order).
    right = re.search(r"% BEGIN-RIGHT-COLUMN.*?\n(.*?)% END-RIGHT-COLUMN\n", body, re.DOTALL)
    if right:
        body = body[: right.start()] + body[right.end() :].replace(r"\end{document}", right[1] + r"\end{document}")
    # A sentence split by hand between the columns ends its first half with "%CONTINUES";
    # the second half is the next prose line.
    body = re.sub(r"\s*%CONTINUES\n(?:.*\n)*?(?=[a-z])", " ", body)
    for raw in body.splitlines():
        line = raw.strip()
        m = re.match(r"\\begin\{([^}]*)\}", line)
        if m and m[1] in SKIP_ENVS + ("abstract",):
            env.append(m[1] if m[1] != "lstlisting" or "caption=" in line else "display")
            if m[1] == "abstract":
                in_abstract = True
            continue
        m = re.match(r"\\end\{([^}]*)\}", line)
        if m and env and m[1] == {"display": "lstlisting"}.get(env[-1], env[-1]):
            env.pop()
            in_abstract = in_abstract and m[1] != "abstract"
            continue
        top = env[-1] if env else None
        m = re.match(r"\\(?:(?:sub)?section(\*?)|heading)\{([^}]*)\}", line)
        if m and top is None:
            heading = next(next_numbered)["title"] if line.startswith("\\s") and not m[1] else m[2]
            out["headings"].append(heading)
            continue
        if top in ("lstlisting", "display"):  # a captioned listing is a float; a display stays in the text
            if line:
                out["code" if top == "lstlisting" else "display_code"].append(line)
            continue
        if top in ("table", "table*") and line.endswith(r"\\") and "&" in line:
            out["table_rows"].append(re.sub(r"\s*&\s*", " ", line[:-2]).strip())
            continue
        if top == "thebibliography" and line.startswith(r"\bibitem"):
            out["references"].append(plain(re.sub(r"\\bibitem\{[^}]*\}\s*", "", line), labels, cites))
            continue
        if top == "quote" and line.startswith(r"\small\textbf{Abstract.}"):
            in_abstract = True
            continue
        if top == "quote" and line.startswith(r"\textbf{Keywords:}"):
            in_abstract = False
            continue
        prose = line and not line.startswith(("\\", "%", "{", "}")) and (top is None or in_abstract)
        if not prose:
            continue
        fn = re.search(r"\\footnote\{(.*)\}$", line)
        if fn:
            out["footnotes"].append(plain(fn[1], labels, cites))
            continue  # the sentence carries a footnote mark; only the footnote itself is checked
        if "$" in line:
            continue  # inline maths: its extracted form is not predictable from the source
        text = plain(line, labels, cites)
        (out["abstract"] if in_abstract else out["sentences"]).append(text)
        if not in_abstract:
            out["section_of"][text] = heading
    return out


def page_texts(name: str, pages: int) -> list[str]:
    return [
        subprocess.run(
            ["pdftotext", "-raw", "-f", str(p), "-l", str(p), f"{name}.pdf", "-"],
            cwd=HERE,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for p in range(1, pages + 1)
    ]


def line_breaks(pages: list[str], source: str) -> tuple[list[dict], list[dict]]:
    """Words TeX broke at a line end: hyphenated (to be joined) and compounds (hyphen kept)."""
    hyphenated, compounds = [], []
    flat = " ".join(source.split())
    for number, text in enumerate(pages, 1):
        lines = text.splitlines()
        for a, b in itertools.pairwise(lines):
            m, n = re.search(r"([\w’-]+)-$", a), re.match(r"([\w’-]+)", b)
            if not (m and n):
                continue
            left, right = m[1], n[1].rstrip("’")
            if re.search(rf"(?<![\w-]){re.escape(left)}-{re.escape(right)}", flat):
                compounds.append({"word": f"{left}-{right}", "page": number})
            elif re.search(rf"(?<![\w-]){re.escape(left + right)}", flat):
                hyphenated.append({"word": left + right, "page": number})
    return hyphenated, compounds


def truth(name: str) -> dict:
    labels, cites, sections = aux_facts(name)
    src = source_lines(name, labels, cites, sections)
    pages_out = subprocess.run(["pdfinfo", f"{name}.pdf"], cwd=HERE, check=True, capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", pages_out)[1])
    texts = page_texts(name, pages)
    squashed = [squash(t) for t in texts]

    def where(sentence: str) -> int | None:
        if pages == 1:
            return 1  # (and pdftotext -raw keeps layout.tex's columns in the file's wrong order)
        hits = [i + 1 for i, t in enumerate(squashed) if squash(sentence) in t]
        return hits[0] if len(hits) == 1 else None

    by_page: dict[str, list[str]] = {str(p): [] for p in range(1, pages + 1)}
    spanning = []
    for s in src["sentences"]:
        page = where(s)
        (by_page[str(page)] if page else spanning).append(s)
    source_text = "\n".join(src["abstract"] + src["sentences"] + src["footnotes"])
    hyphenated, compounds = line_breaks(texts, source_text)
    return {
        "pdf": f"{name}.pdf",
        "note": "sentences from the .tex source; pages from pdftotext -raw at build time (see build.py)",
        "pages": pages,
        "title": META[name][0],
        "authors": META[name][1],
        "abstract": src["abstract"],
        "sections": sections,
        "headings": src["headings"],
        "sentences_by_page": by_page,
        "section_of": src["section_of"],
        "spanning_pages": spanning,
        "footnotes": [{"text": f, "page": where(f)} for f in src["footnotes"]],
        "hyphenated": hyphenated,
        "compounds": compounds,
        "running": RUNNING[name],
        "code": src["code"],
        "display_code": src["display_code"],
        "table_rows": src["table_rows"],
        "references": src["references"],
    }


def main() -> None:
    for name in sys.argv[1:] or PAPERS:
        build(name)
        data = truth(name)
        (HERE / f"{name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        counts = {k: len(v) for k, v in data["sentences_by_page"].items()}
        print(
            f"{name}: {data['pages']} pages, sentences per page {counts}, spanning {len(data['spanning_pages'])}, "
            f"hyphenated {len(data['hyphenated'])}, compounds {len(data['compounds'])}"
        )
    for junk in HERE.glob("*.aux"):
        for ext in (".aux", ".log", ".out"):
            junk.with_suffix(ext).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
