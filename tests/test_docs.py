"""The README and `docs/` as a reader follows them: every link to a file of the repository leads to one, and every
`#anchor` to a heading of its page (GitHub's slugs). Web links are not fetched: CI has no internet. Parsed with
markdown-it-py, which the app already uses; the link checkers on PyPI pin pytest below 9 or cannot see a
markdown heading's anchor."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
parser = MarkdownIt("commonmark").enable("table")


def _inline(tokens: list[Token]) -> list[Token]:
    return [child for token in tokens if token.type == "inline" for child in token.children or []]


def slugs(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    tokens = parser.parse(page.read_text())
    titles = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    return {re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-") for title in titles}


def links(page: Path) -> list[str]:
    found = _inline(parser.parse(page.read_text()))
    return [str(t.attrs["href"]) for t in found if t.type == "link_open" and "href" in t.attrs]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_to_the_repository_leads_somewhere(page):
    broken = []
    for href in links(page):
        target = urlsplit(href)
        if target.scheme or target.netloc:
            continue
        file = (page.parent / unquote(target.path)).resolve() if target.path else page
        if not file.exists() or (target.fragment and file.suffix == ".md" and target.fragment not in slugs(file)):
            broken.append(href)
    assert not broken, f"{page.name}: no such file or heading: {broken}"
