"""A passage cut into the candidates a book-excerpts answer can quote: sentences, lists with their lead-in, table
rows with their column names, short code and glossary entries.

Pure strings: the composer (`rag.answer.excerpts`) ranks these for a question, and ingest embeds their
`embedding_texts` once per chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text.lexical import content_terms
from rag.text.sentences import LINE_PREFIX, line_prefix, split_markdown, table_cells

MAX_CODE_LINES = 40
_LEAD_IN = re.compile(r":\s*$")
_ROW = re.compile(r"^\s*\|")
EMPHASIS = re.compile(r"\*\*|__")
# Sentences about the book rather than the subject: where a lesson goes next, what it will cover.
_META = re.compile(
    r"\b(?:in|by) the (?:next|previous|following|end of (?:this|the)) (?:lesson|chapter|section|module|part|week)s?\b"
    r"|\b(?:this|the following|these|next) (?:lesson|chapter|section|module|page|tutorial)s? "
    r"(?:will |we )?(?:explores?|covers?|introduces?|describes?|discuss(?:es)?|shows?|walks?|looks?|teach(?:es)?)\b"
    r"|\byou(?:'ll| will) (?:learn|explore|discover|see|build|move on|go on)\b"
    r"|\blearning (?:objectives|outcomes|goals)\b",
    re.IGNORECASE,
)
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
# A text whose links hold this share of its characters (or with this many links) is navigation, not content.
MAX_LINK_SHARE = 0.5
MAX_LINKS = 3


@dataclass(frozen=True)
class Excerpt:
    passage: int  # 1-based passage number
    position: int  # order in the passage
    text: str
    terms: frozenset[str]
    code: bool = False
    context: str = ""
    header: tuple[str, ...] = ()  # a table row's column names (with `cells`: it can be shown as a table)
    cells: tuple[str, ...] = ()

    @property
    def words(self) -> int:
        return len(self.text.split())


def excerpts_of(passage: int, text: str, context: str = "") -> list[Excerpt]:
    """The candidate excerpts of one passage: sentences, lists with their lead-in, table rows, short code,
    and glossary entries ("**Term**" then ": definition"). `context` (the passage's breadcrumb) is embedded
    with each excerpt, so "Limitations: expensive" is known to be about LIDAR."""
    found: list[Excerpt] = []
    lead_in: str | None = None
    items: list[str] = []
    header: list[str] = []

    def add(body: str, code: bool = False, row: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())) -> None:
        body = body.strip() if code else " ".join(body.split())
        if body and (code or row[1] or says_something(body)):
            found.append(Excerpt(passage, len(found), body, frozenset(content_terms(body)), code, context, *row))

    def flush() -> None:
        nonlocal lead_in, items
        if items:
            joined = "; ".join(item.rstrip(".;") for item in items)
            add(f"{lead_in} {joined}." if lead_in else f"{joined}.")
        elif lead_in:
            add(lead_in)
        lead_in, items = None, []

    for unit in split_markdown(text):
        raw = unit.text
        if unit.kind == "code":
            flush()
            if raw.count("\n") <= MAX_CODE_LINES:
                add(raw, code=True)
        elif unit.kind != "sentence":
            flush()
            header = [] if unit.kind == "heading" else header
        elif _ROW.match(raw):
            flush()
            cells = table_cells(raw)
            if not header:
                header = cells
            else:
                add(
                    "; ".join(f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c).rstrip(".")
                    + ".",
                    row=(tuple(header), tuple(cells)),
                )
        elif raw.startswith(": ") and found and not found[-1].code and len(found[-1].text.split()) <= 8:
            term = found.pop()  # a definition: "**Term**" on the line before
            add(f"{term.text}: {raw[2:]}")
        elif line_prefix(raw).strip():  # a list item
            items.append(EMPHASIS.sub("", LINE_PREFIX.sub("", raw)).strip())
        elif _LEAD_IN.search(raw):
            flush()
            lead_in = raw.strip()
        else:
            flush()
            add(raw)
    flush()
    return [e for e in found if not _pseudo_heading(e)]  # after a glossary term has joined its definition


def says_something(text: str) -> bool:
    """Whether a sentence is content a student would want quoted: not one of the book's own questions ("Check
    your understanding"), not navigation or a lesson's plan ("In the next lesson, you'll learn ..."), and not a
    list of links."""
    if text.endswith("?") or _META.search(text):
        return False
    links = _LINK.findall(text)
    return len(links) < MAX_LINKS and sum(map(len, links)) <= MAX_LINK_SHARE * len(text)


def _pseudo_heading(excerpt: Excerpt) -> bool:
    """A bold line standing in for a heading ("**Tip: Use simulated time**"): a title, not a sentence."""
    text = excerpt.text
    return not excerpt.code and text.startswith("**") and text.endswith("**") and text.count("**") == 2


def embedding_texts(text: str, context: str = "") -> list[str]:
    """What a question is compared with, one text per candidate excerpt of a passage, in `excerpts_of` order.
    They depend on the passage alone, so ingest embeds them once and stores the vectors with the chunk."""
    return [embedding_text(e) for e in excerpts_of(0, text, context)]


def embedding_text(excerpt: Excerpt) -> str:
    return f"{excerpt.context}: {excerpt.text}" if excerpt.context else excerpt.text
