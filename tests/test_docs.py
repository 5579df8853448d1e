"""The README is a first page: short, and every document it links to exists."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"


def test_readme_is_a_first_page_whose_links_resolve():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 220, "README.md has grown: move details to docs/"
    links = re.findall(r"\]\(((?:docs|examples|bench)/[^)#\s]+)", text)
    assert links, "the README links to nothing in docs/"
    for link in links:
        assert (ROOT / link).exists(), f"README links to {link}, which does not exist"


def test_every_doc_links_to_files_that_exist():
    for doc in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\((?!https?:|#|mailto:)([^)#\s]+)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / link).exists(), f"{doc.name} links to {link}, which does not exist"
