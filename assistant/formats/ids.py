"""DOIs and arXiv identifiers: recognised in the many ways libraries write them.

A DOI is kept as "10.1234/abc" (no resolver prefix); an arXiv id as "2401.01234" or
"hep-th/9901001", with its version ("v2") kept when one was given.
"""

from __future__ import annotations

import re

DOI = re.compile(r"10\.\d{4,9}/[^\s\"<>{}]+", re.IGNORECASE)
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
ARXIV = re.compile(r"(?:\d{4}\.\d{4,5}|[a-z][a-z.-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?")
_ARXIV_PREFIX = re.compile(r"^(?:https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/|arxiv:\s*)", re.IGNORECASE)
# where an arXiv id shows up in free text: "arXiv:2401.01234", "arXiv preprint arXiv:...", URLs
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf)/|arxiv[:\s]\s*|10\.48550/arxiv\.)(" + ARXIV.pattern + r")", re.IGNORECASE
)


def clean_doi(value: str) -> str:
    """ "https://doi.org/10.1/X" -> "10.1/X"; "" when the value is not a DOI."""
    value = _DOI_PREFIX.sub("", value.strip()).rstrip(".,;")
    return value if DOI.fullmatch(value) else ""


def clean_arxiv_id(value: str) -> str:
    """ "arXiv:2401.01234v2" or an arxiv.org URL -> "2401.01234v2"; "" when it is not one."""
    value = _ARXIV_PREFIX.sub("", value.strip())
    value = re.sub(r"\.pdf$", "", value, flags=re.IGNORECASE)
    return value if ARXIV.fullmatch(value) else ""


def find_arxiv_id(*texts: object) -> str:
    """The first arXiv id mentioned in any of `texts` ("arXiv preprint arXiv:2401.01234")."""
    for text in texts:
        if isinstance(text, str) and text:
            m = _ARXIV_IN_TEXT.search(text)
            if m:
                return m.group(1)
    return ""


def arxiv_from_doi(doi: str) -> str:
    """arXiv's own DOIs (10.48550/arXiv.2401.01234) name the arXiv id."""
    m = re.fullmatch(r"10\.48550/arxiv\.(.+)", doi, re.IGNORECASE)
    return clean_arxiv_id(m.group(1)) if m else ""


_CODE_LINK = re.compile(
    r"https?://(?:[\w-]+\.)*(?:github\.com|gitlab\.com|bitbucket\.org|huggingface\.co|github\.io|"
    r"gitee\.com|codeberg\.org|sourceforge\.net)(?:/[^\s{}<>\"']*)?",
    re.IGNORECASE,
)


def find_code_link(*texts: object) -> str:
    """The first link to a code host in any of `texts` (a note such as "Code: \\url{https://github.com/a/b}")."""
    for text in texts:
        if isinstance(text, str) and text:
            m = _CODE_LINK.search(text)
            if m:
                return m.group(0).rstrip(".,;:)")
    return ""
