"""What a search finds: a passage of the book, where the student reads, and a search's result. Value types that
the answer, study, chats and web layers share, apart from the search that makes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from rag.search.coverage import Coverage
from rag.store.payload import ChunkPayload, unpack_vectors

# The payload keys a passage is read from (`Passage.from_hit`), named once for the rest: the book's snapshot
# scrolls these, and study keeps a passage as these (and its id). A test holds them to both types.
BOOK_FIELDS = ("text", "title", "breadcrumb", "section", "url", "source_path", "chapter", "doc_id", "anchor")


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk: what the model reads and what a citation opens."""

    id: str
    text: str
    title: str
    breadcrumb: str
    section: str
    url: str
    source_path: str
    score: float  # RRF rank score of the hybrid search
    similarity: float  # cosine similarity of its dense vector to the question
    matched: tuple[str, ...] = ()  # the question's words found in it (what BM25 matched)
    sentence_similarity: float = 0.0  # its best sentence's cosine similarity to the question (the rerank's)
    chapter: str = ""  # the book's sidebar category the page sits in
    doc_id: str = ""  # the page (Docusaurus document id) and the heading it sits under
    anchor: str = ""
    # Its book-excerpt candidates' vectors, embedded at ingest (None for a store ingested before them).
    excerpt_vectors: np.ndarray | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_hit(
        cls, hit_id: str, payload: ChunkPayload, score: float, similarity: float, matched: tuple[str, ...] = ()
    ) -> Passage:
        return cls(
            id=hit_id,
            text=payload.get("text", ""),
            title=payload.get("title", ""),
            breadcrumb=payload.get("breadcrumb", ""),
            section=payload.get("section", ""),
            url=payload.get("url", ""),
            source_path=payload.get("source_path", ""),
            score=score,
            similarity=similarity,
            matched=matched,
            chapter=payload.get("chapter") or payload.get("title", ""),  # a page outside any category: its title
            doc_id=payload.get("doc_id", ""),
            anchor=payload.get("anchor", ""),
            excerpt_vectors=unpack_vectors(payload["excerpt_vectors"]) if "excerpt_vectors" in payload else None,
        )

    def kept(self) -> dict[str, str]:
        """The passage as the history and study keep it (JSON): its id and `BOOK_FIELDS`."""
        return {name: getattr(self, name) for name in ("id", *BOOK_FIELDS)}

    @classmethod
    def from_kept(cls, data: Mapping[str, Any]) -> Passage:
        """A passage as `kept` kept it: its fields are a stored chunk's, so it reads like a search hit."""
        return cls.from_hit(str(data.get("id", "")), cast(ChunkPayload, data), 0.0, 0.0)


@dataclass(frozen=True)
class Reading:
    """Where the student is reading when they ask (the book widget sends it): a page, the heading the
    selection sits under, and the selected text. Hints for the search, never instructions."""

    doc_id: str
    anchor: str = ""
    selection: str = ""


@dataclass(frozen=True)
class SearchResult:
    query: str  # the question, with " + previous question" when it was searched too
    passages: list[Passage]
    coverage: Coverage
    vector: list[float] | None = None  # the question's dense vector (the instructor view groups questions by it)

    @property
    def covered(self) -> bool:
        return self.coverage.covered

    @property
    def best_similarity(self) -> float:
        return self.coverage.best_similarity
