"""Heading-aware chunks: one section per chunk when it fits, else token windows with overlap.

Sizes are in tokens of the embedding model's tokenizer. Long sections split at
paragraph boundaries first, then at lines (so code blocks break between lines),
then at words; the next chunk repeats the last `overlap` tokens' worth of units.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import cast
from urllib.parse import quote

from ingest.docusaurus import Document, Section
from rag.store.payload import ChunkPayload

BREADCRUMB_SEPARATOR = " › "
# Namespace for deterministic point ids: uuid5(namespace, "<source path>#<content hash>#<occurrence>").
POINT_NAMESPACE = uuid.UUID("6f1c1c52-3d0e-4b8e-9a63-5c7d1f0a2b11")


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage and everything a citation needs."""

    id: str
    text: str  # the passage as shown to students
    title: str
    breadcrumb: str  # Title › Section › Subsection
    section: str
    anchor: str
    url: str
    source_path: str
    doc_id: str
    chapter: str  # the page's sidebar category (Docusaurus's `_category_.json` label)
    position: int
    token_count: int

    @property
    def embedding_text(self) -> str:
        """Prefixed with where it sits: generic headings ("Summary") repeat across lessons."""
        return f"{self.breadcrumb}\n\n{self.text}"  # what `content_hash` hashes

    @property
    def content_hash(self) -> str:
        return _content_hash(self.breadcrumb, self.text)

    def payload(self, doc_hash: str, chunk_count: int) -> ChunkPayload:
        """Its fields (`ChunkPayload` names each one's type), the id aside, which is the point's."""
        fields = {name: value for name, value in asdict(self).items() if name != "id"}
        page = {"content_hash": self.content_hash, "doc_hash": doc_hash, "chunk_count": chunk_count}
        return cast(ChunkPayload, fields | page)


def point_id(source_path: str, content_hash: str, occurrence: int = 0) -> str:
    """A passage's id follows its content, not its place: a citation of it never opens other text after the page
    changes (an edit, a section added above it), and a passage unchanged by an edit keeps its id. `occurrence`
    tells apart identical passages of one page."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{source_path}#{content_hash}#{occurrence}"))


def _content_hash(breadcrumb: str, text: str) -> str:
    """Of what is embedded: the passage with where it sits."""
    return hashlib.sha256(f"{breadcrumb}\n\n{text}".encode()).hexdigest()


_FENCE = re.compile(r"(`{3,}|~{3,})")


def _blocks(text: str) -> list[str]:
    """Paragraphs, with a fenced code block kept as one block even if it holds blank lines."""
    blocks: list[str] = []
    current: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        if fence is None and (m := _FENCE.match(stripped)):
            fence = m.group(1)
        elif fence is not None and stripped.startswith(fence) and not stripped.strip(fence[0]):
            fence = None
        if not stripped and fence is None:
            if current:
                blocks.append("\n".join(current))
                current = []
        else:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


class Chunker:
    def __init__(self, count_tokens: Callable[[str], int], chunk_size: int, overlap: int):
        if not 0 <= overlap < chunk_size:
            raise ValueError(f"--chunk-overlap ({overlap}) must be at least 0 and below --chunk-size ({chunk_size})")
        self.count, self.size, self.overlap = count_tokens, chunk_size, overlap

    def chunk_document(self, doc: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        seen: Counter[str] = Counter()  # identical passages of the page so far, by content hash
        for section in doc.sections:
            for text in self._split(section.text):
                chunk = self._chunk(doc, section, text, len(chunks), seen)
                seen[chunk.content_hash] += 1
                chunks.append(chunk)
        return chunks

    def _chunk(self, doc: Document, section: Section, text: str, position: int, seen: Counter[str]) -> Chunk:
        breadcrumb = BREADCRUMB_SEPARATOR.join([doc.title, *section.path])
        content = _content_hash(breadcrumb, text)
        return Chunk(
            id=point_id(doc.source_path, content, seen[content]),
            text=text,
            title=doc.title,
            breadcrumb=breadcrumb,
            section=section.path[-1] if section.path else doc.title,
            anchor=section.anchor,
            url=f"{doc.url}#{quote(section.anchor, safe='-_')}" if section.anchor else doc.url,
            source_path=doc.source_path,
            doc_id=doc.doc_id,
            chapter=doc.category,
            position=position,
            token_count=self.count(text),
        )

    def _split(self, text: str) -> list[str]:
        if self.count(text) <= self.size:
            return [text]
        return self._pack(self._units(text))

    def _units(self, text: str) -> list[tuple[str, str]]:
        """(separator before it, text) pieces no larger than the chunk size: paragraphs, else their
        lines, else a line's words."""
        units: list[tuple[str, str]] = []
        for block in _blocks(text):
            if self.count(block) <= self.size:
                units.append(("\n\n", block))
                continue
            for i, line in enumerate(block.split("\n")):
                sep = "\n\n" if i == 0 else "\n"
                if self.count(line) <= self.size:
                    units.append((sep, line))
                else:
                    words = line.split(" ")
                    units += [(sep if j == 0 else " ", w) for j, w in enumerate(words)]
        return units

    def _pack(self, units: list[tuple[str, str]]) -> list[str]:
        """Greedy windows of whole units up to the size; each window starts with the previous one's tail, or,
        when a code block starts it and the tail does not hold the paragraph before (too long for the overlap),
        with that paragraph: the sentence that says what the code does ("Add the lidar as follows:") stays with it.

        Each unit is counted once and a window's tokens are the sum of its units': the tokenizer splits at the
        whitespace that joins them, so the sum is the count of the joined text. Linear in the units, where
        counting every window anew made a 5 MB paragraph of single words take hours."""
        sizes = [self.count(text) for _, text in units]
        chunks: list[str] = []
        window: list[int] = []
        total = 0
        for i, size in enumerate(sizes):
            if window and total + size > self.size:
                chunks.append(_join([units[j] for j in window]))
                window = self._tail(window, sizes) or self._lead_in(i, units, sizes)
                total = sum(sizes[j] for j in window)
                while window and total + size > self.size:
                    total -= sizes[window.pop(0)]
            window.append(i)
            total += size
        if window:
            chunks.append(_join([units[j] for j in window]))
        return [c for c in chunks if c.strip()]

    def _lead_in(self, i: int, units: list[tuple[str, str]], sizes: list[int]) -> list[int]:
        """[i - 1] when unit i opens a code block, unit i - 1 is a paragraph before it, and both fit one chunk."""
        code, before = units[i][1].lstrip(), units[i - 1][1].lstrip()
        fits = sizes[i - 1] + sizes[i] <= self.size
        return [i - 1] if _FENCE.match(code) and not _FENCE.match(before) and units[i][0] == "\n\n" and fits else []

    def _tail(self, window: list[int], sizes: list[int]) -> list[int]:
        """The last units of a window that fit in the overlap."""
        tail: list[int] = []
        total = 0
        for j in reversed(window):
            total += sizes[j]
            if total > self.overlap:
                break
            tail.insert(0, j)
        return tail


def _join(units: list[tuple[str, str]]) -> str:
    return "".join(text if i == 0 else sep + text for i, (sep, text) in enumerate(units)).strip()
