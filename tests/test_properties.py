"""Property tests (Hypothesis): arbitrary pages, questions and model output never raise anything but the documented
errors, chunks only hold the page's words and lose none, and rewritten answers only cite passages that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunking import Chunker
from ingest.docusaurus import ParseError, parse_document
from rag.answer.grounding import GroundingChecker
from rag.answer.result import MAX_QUESTION_CHARS, clean_question
from rag.text.citations import MARKER, CitationRewriter, verify
from rag.text.sentences import split_markdown

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Markdown-ish text: the characters and lines that exercise the parser, plus anything at all.
LINES = st.sampled_from(
    [
        "# Title",
        "## Section {#custom}",
        "### Sub",
        "```python",
        "```",
        "~~~",
        ":::tip Note",
        ":::",
        "---",
        "***",
        "| a | b |",
        "|---|---|",
        "- item",
        "1. step",
        "> quote",
        "<details>",
        "</details>",
        "<br/>",
        "<!-- c -->",
        "import X from '@site/x';",
        "export const y = 1;",
        "{1 + 2}",
        "{/* jsx */}",
        "<Tabs>",
        "![alt](img.png)",
        "[link](https://x.example)",
        "**bold** and `code`",
        "$x^{2}$",
        "",
        "   ",
        "\t",
    ]
)
TEXT = st.lists(st.one_of(LINES, st.text(max_size=40)), max_size=30).map("\n".join)
FRONT_MATTER = st.one_of(
    st.just(""),
    st.builds(lambda body: f"---\n{body}\n---\n", st.text(max_size=60)),
    st.builds(
        lambda k, v: f"---\n{k}: {v}\n---\n",
        st.sampled_from(["title", "slug", "id", "sidebar_position"]),
        st.text(max_size=30),
    ),
    st.just("---\ntitle: Unterminated\n"),
)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


@pytest.fixture
def page_path(tmp_path) -> Path:
    return tmp_path / "docs" / "page.md"


@PROPERTY
@given(front=FRONT_MATTER, body=TEXT)
def test_parser_only_raises_parse_errors_and_chunks_hold_only_page_words(page_path, embedder, front, body):
    page_path.parent.mkdir(parents=True, exist_ok=True)
    text = front + body
    page_path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        doc = parse_document(page_path, page_path.parent, "/docs")
    except ParseError:
        return
    chunker = Chunker(embedder.count_tokens, 64, 16)
    page = words(text) | {"image"}  # "[image: alt]" is the one word the parser writes itself
    for chunk in chunker.chunk_document(doc):
        assert words(chunk.text) <= page
        assert chunk.url.startswith("/docs") and " " not in chunk.url and ")" not in chunk.url


@PROPERTY
@given(body=st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=60), min_size=1, max_size=40))
def test_chunker_loses_no_word(embedder, body):
    from ingest.docusaurus import Document, Section

    text = "\n\n".join(body)
    doc = Document("p.md", "p", "P", "/docs/p", sections=[Section(["S"], "s", text)])
    chunks = Chunker(embedder.count_tokens, 32, 8).chunk_document(doc)
    found = set().union(*(words(c.text) for c in chunks)) if chunks else set()
    assert words(text) <= found and all(words(c.text) <= words(text) for c in chunks)


ANSWER = st.lists(
    st.one_of(
        st.text(max_size=20),
        st.builds(lambda n: f"[{n}]", st.integers(-3, 30)),
        st.builds(lambda a, b: f"[{a}, {b}]", st.integers(0, 12), st.integers(0, 12)),
        st.builds(lambda a, b: f"[{a}-{b}]", st.integers(0, 12), st.integers(0, 40)),
        st.just("["),
    ),
    max_size=30,
)


@PROPERTY
@given(parts=ANSWER, passages=st.integers(0, 8), cuts=st.lists(st.integers(0, 200), max_size=10))
def test_rewritten_answers_cite_only_existing_passages_however_the_text_streams(parts, passages, cuts):
    text = "".join(parts)
    whole, order = verify(text, passages)
    rewriter = CitationRewriter(passages)
    bounds = sorted({0, len(text), *[c for c in cuts if c <= len(text)]})
    streamed = "".join(rewriter.feed(text[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)) + rewriter.finish()
    assert streamed == whole and rewriter.order == order
    assert set(order) <= set(range(1, passages + 1))
    for marker in MARKER.finditer(whole):
        assert all(1 <= int(n) <= len(order) for n in re.findall(r"\d+", marker.group(1)))


@PROPERTY
@given(text=st.text(max_size=MAX_QUESTION_CHARS + 50))
def test_clean_question_returns_clean_text_or_says_why(text):
    try:
        cleaned = clean_question(text)
    except ValueError as exc:
        assert str(exc)
        return
    assert 0 < len(cleaned) <= MAX_QUESTION_CHARS and cleaned == cleaned.strip()
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", cleaned)
    cleaned.encode("utf-8")


@PROPERTY
@given(answer=TEXT, passages=st.lists(TEXT, max_size=5))
def test_sentences_and_checker_take_any_text(answer, passages):
    units = split_markdown(answer)
    assert all(answer[u.start : u.end] == u.text for u in units)
    result = GroundingChecker().check(answer, passages)
    assert all(1 <= n <= len(passages) for s in result.sentences for n in s.cites)
    assert 0.0 <= result.grounded <= 1.0
