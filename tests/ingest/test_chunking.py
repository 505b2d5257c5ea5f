from itertools import pairwise

import pytest

from ingest.chunking import BREADCRUMB_SEPARATOR, Chunker, point_id
from ingest.docusaurus import Document, Section
from ingest.pipeline import IngestOptions, discover, make_chunker, parse_and_chunk
from tests.conftest import SAMPLE_DOCS


def doc(*sections: Section) -> Document:
    return Document("m/lesson.md", "m/lesson", "Lesson", "https://b/docs/m/lesson", sections=list(sections))


def test_small_sections_are_one_chunk_each_with_breadcrumbs(embedder):
    chunks = Chunker(embedder.count_tokens, 100, 20).chunk_document(
        doc(Section([], "", "Intro text."), Section(["Setup", "Install"], "install", "Run the installer."))
    )
    assert [c.breadcrumb for c in chunks] == ["Lesson", BREADCRUMB_SEPARATOR.join(["Lesson", "Setup", "Install"])]
    assert chunks[1].url == "https://b/docs/m/lesson#install" and chunks[0].url == "https://b/docs/m/lesson"
    assert chunks[1].section == "Install" and chunks[1].position == 1
    assert chunks[1].embedding_text.startswith("Lesson › Setup › Install\n\n")
    assert chunks[1].id == point_id("m/lesson.md", chunks[1].content_hash)


def test_long_section_splits_within_size_with_overlap(embedder):
    paragraphs = [f"Paragraph {i} explains how the controller tracks joint {i} with feedback." for i in range(40)]
    chunks = Chunker(embedder.count_tokens, 80, 20).chunk_document(
        doc(Section(["Long"], "long", "\n\n".join(paragraphs)))
    )
    assert len(chunks) > 3
    assert all(c.token_count <= 80 for c in chunks)
    assert all(c.section == "Long" for c in chunks)
    for before, after in pairwise(chunks):
        assert after.text.split("\n\n")[0] in before.text  # the next chunk repeats the previous tail
    joined = "\n\n".join(c.text for c in chunks)
    assert all(p in joined for p in paragraphs)


def test_code_blocks_split_between_lines(embedder):
    code = "```python\n" + "\n".join(f"value_{i} = compute({i})" for i in range(80)) + "\n```"
    chunks = Chunker(embedder.count_tokens, 100, 10).chunk_document(doc(Section(["Code"], "code", code)))
    assert len(chunks) > 2 and all(c.token_count <= 100 for c in chunks)
    lines = {line for c in chunks for line in c.text.split("\n")}
    assert all(f"value_{i} = compute({i})" in lines for i in range(80))


def test_a_code_block_keeps_the_sentence_that_introduces_it(embedder):
    """A lead-in longer than the overlap would end one chunk while its code starts the next: it goes with the code."""
    prose = "\n\n".join(f"Paragraph {i} explains how the controller tracks joint {i} with feedback." for i in range(6))
    lead_in = "Under the chassis link we add the lidar sensor, with its update rate and its topic, as follows:"
    code = "```xml\n<sensor name='gpu_lidar' type='gpu_lidar'>\n  <topic>lidar</topic>\n</sensor>\n```"
    chunks = Chunker(embedder.count_tokens, 110, 10).chunk_document(
        doc(Section(["Lidar"], "lidar", f"{prose}\n\n{lead_in}\n\n{code}"))
    )
    [with_code] = [c for c in chunks if "gpu_lidar" in c.text]
    assert with_code.text.startswith(lead_in) and with_code.token_count <= 110
    assert chunks.index(with_code) > 0 and lead_in in chunks[chunks.index(with_code) - 1].text


def test_overlong_line_splits_at_words(embedder):
    text = " ".join(["word"] * 500)
    chunks = Chunker(embedder.count_tokens, 60, 10).chunk_document(doc(Section(["W"], "w", text)))
    assert all(c.token_count <= 60 for c in chunks) and len(chunks) >= 8


def test_overlap_must_be_below_size(embedder):
    with pytest.raises(ValueError, match="--chunk-overlap"):
        Chunker(embedder.count_tokens, 50, 50)


def test_sample_book_chunks(embedder):
    opts = IngestOptions(SAMPLE_DOCS)
    chunker = make_chunker(opts, embedder)
    files = discover(SAMPLE_DOCS)
    assert 8 <= len(files) <= 12
    for path in files:
        doc_, chunks = parse_and_chunk(path, opts, chunker)
        assert chunks, path
        assert all(c.token_count <= opts.chunk_size and c.breadcrumb.startswith(doc_.title) for c in chunks)


def test_a_site_folder_yields_its_pages_not_its_packages_or_hidden_folders(tmp_path):
    """`--source` at a Docusaurus site's root: node_modules and .docusaurus hold markdown that is not the book."""
    for path in ("docs/intro.md", "docs/_partial.md", "node_modules/pkg/README.md", ".docusaurus/x.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("# Page\n\nText.\n")
    assert [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)] == ["docs/intro.md"]


def test_a_passage_s_id_follows_its_content_not_its_place(embedder):
    """A section added above a passage leaves its id alone; an edited passage gets another; identical passages
    of one page are told apart."""
    chunker = Chunker(embedder.count_tokens, 100, 20)
    nodes = Section(["Nodes"], "nodes", "A node is a process.")
    before = chunker.chunk_document(doc(nodes))
    added = chunker.chunk_document(doc(Section(["New"], "new", "A new lab."), nodes))
    edited = chunker.chunk_document(doc(Section(["Nodes"], "nodes", "A node is a program.")))
    twice = chunker.chunk_document(doc(nodes, nodes))
    assert added[1].id == before[0].id and added[1].position != before[0].position
    assert edited[0].id != before[0].id
    assert twice[0].id == before[0].id and twice[1].id != twice[0].id
