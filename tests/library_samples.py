"""Small real PDFs for the library tests: a title, an author line, an abstract and a few
paragraphs about one topic, typeset like the synthetic papers of fixtures/synthetic.py."""

from __future__ import annotations

from pathlib import Path

from fixtures.synthetic import wrap_lines, write_pdf


def paper_pdf(path: Path, title: str, topic: str, author: str = "Ada Lovelace and Alan Turing", lines=()) -> Path:
    """A 2-page paper about `topic` (its text differs with the topic); `lines` are extra
    (style, text) lines printed on page 1 after the author line (a DOI, a date...)."""
    abstract = (
        f"We study {topic} with a new method. Our experiments on {topic} show a clear gain over earlier work. "
        f"The method is simple and its code is public."
    )
    body = " ".join(
        f"Paragraph {i} explains how {topic} behaves under condition {i}, and why the measured effect of "
        f"{topic} grows with the sample size in setting {i}."
        for i in range(1, 9)
    )
    first = [("title", title), ("author", author), *lines, ("heading", "Abstract")]
    first += [("body", line) for line in wrap_lines(abstract)]
    first += [("heading", "1 Introduction")] + [("body", line) for line in wrap_lines(body)][:20]
    second = [("heading", "2 Results")] + [("body", line) for line in wrap_lines(body.replace("Paragraph", "Result"))]
    write_pdf(path, title, [first, second])
    return path
