"""Bad and odd PDF files made at test time, for tests/test_pdf.py.

Text pages are written with pypdf (a page is a content stream drawing Helvetica lines);
the image-only page with Pillow; the password-protected copy with pypdf's RC4 encryption,
which needs no extra crypto package.
"""

from __future__ import annotations

from pathlib import Path

TOPICS = (
    "soil moisture",
    "river discharge",
    "leaf area",
    "snow cover",
    "wind shear",
    "peat depth",
    "lake ice",
    "dune migration",
    "canopy gaps",
    "tide range",
    "frost days",
    "cloud base",
)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def text_pdf(path: Path, pages: list[list[tuple[float, float, str]]], *, header: str | None = None) -> Path:
    """A PDF whose page i draws the (x, y, text) lines of pages[i] in 11 pt Helvetica on US
    letter, with an optional running header and the page number at the bottom."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    for number, lines in enumerate(pages, 1):
        page = writer.add_blank_page(width=612, height=792)
        drawn = list(lines) + [(288, 40, str(number))]
        if header:
            drawn.append((72, 750, header))
        ops = "".join(f"BT /F1 11 Tf 1 0 0 1 {x:.1f} {y:.1f} Tm ({_escape(t)}) Tj ET\n" for x, y, t in drawn)
        stream = DecodedStreamObject()
        stream.set_data(ops.encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    with open(path, "wb") as f:
        writer.write(f)
    return path


def page_sentence(number: int) -> str:
    topic = TOPICS[number % len(TOPICS)]
    return f"Chapter {number} reports how {topic} changed at site {number * 7 % 97} during the survey."


def long_report(path: Path, pages: int = 1000) -> Path:
    """`pages` pages of a report: a running header, a page number and five lines of text."""
    body = []
    for n in range(1, pages + 1):
        lines = [
            page_sentence(n),
            "The measurements were repeated each season by the same observers",
            "and compared with the records of the previous decade, which were kept",
            "on paper until the station was automated.",
            f"Notes for chapter {n} end here.",
        ]
        body.append([(72, 600 - 14 * i, line) for i, line in enumerate(lines)])
    return text_pdf(path, body, header="Annual Field Survey Report")


def image_only(path: Path) -> Path:
    """A 'scanned' page: a picture of text lines, no text layer."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (850, 1100), 255)
    draw = ImageDraw.Draw(image)
    for row in range(30):
        y = 100 + 30 * row
        draw.rectangle((100, y, 750 - 13 * (row % 7), y + 12), fill=40)  # ink where words would be
    image.save(path, "PDF", resolution=100.0)
    return path


def encrypted(path: Path, source: Path, *, user_password: str = "secret") -> Path:
    """A copy of `source` encrypted with a user password ("" = opens without one)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
    with open(path, "wb") as f:
        writer.write(f)
    return path


def truncated(path: Path, source: Path) -> Path:
    """The first half of `source`: an interrupted download."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def html_named_pdf(path: Path) -> Path:
    """What a journal's login page looks like when saved as paper.pdf."""
    path.write_text(
        "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
        "<body><p>Please sign in to download this article.</p></body></html>\n"
    )
    return path


FIELD_NOTES = [
    "The survey began in early spring when the snow had left the lower slopes.",
    "Each transect was walked twice a week by two observers who recorded every flowering plant.",
    "Soil samples were taken at the start and at the end of each transect.",
    "The northern slope dried out three weeks earlier than the southern one.",
    "Grazing by sheep was heavier near the water troughs than anywhere else on the hill.",
    "Rare orchids were found only on the steep ground that the sheep avoided.",
    "In the second year the farmer moved the troughs to the valley floor.",
    "The orchids then spread downhill at a rate of several metres per season.",
    "Rainfall was close to the long-term average in both years of the study.",
    "Late frosts damaged the early flowers on the exposed ridge in the first year only.",
    "Counts of pollinating insects followed the flowering peak by about ten days.",
    "We conclude that the placement of water troughs shapes the plant community of the hill.",
]


def two_column_rows(path: Path) -> Path:
    """A two-column page written row by row (left line, then the right line beside it), with a
    gutter narrower than a line is high, as some converters write them."""
    import textwrap

    lines = textwrap.wrap(" ".join(FIELD_NOTES), 38)
    half = (len(lines) + 1) // 2
    drawn = [(150, 700, "Notes from a Hill Pasture Survey")]
    for row in range(half):
        y = 660 - 14 * row
        drawn.append((72, y, lines[row]))
        if half + row < len(lines):
            drawn.append((72 + 225 + 14, y, lines[half + row]))
    return text_pdf(path, [drawn])


def column_break_sentence() -> str:
    """The sentence of FIELD_NOTES that two_column_rows breaks between its columns."""
    import textwrap

    lines = textwrap.wrap(" ".join(FIELD_NOTES), 38)
    cut = len(" ".join(lines[: (len(lines) + 1) // 2]))
    pos = 0
    for sentence in FIELD_NOTES:
        if pos < cut < pos + len(sentence):
            return sentence
        pos += len(sentence) + 1
    raise AssertionError("no sentence crosses the column break")
