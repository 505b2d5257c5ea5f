"""Hybrid search over the book: dense + BM25 fused by RRF in Qdrant, and the "not covered" test.

RRF scores only rank; whether the book covers a question at all is decided on
the best cosine similarity of the dense search, compared with SCORE_THRESHOLD
before any LLM is called.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

from rag.embeddings import Embedder
from rag.store import SearchMode, Store
from rag.store.base import PREFETCH_LIMIT

log = logging.getLogger(__name__)

# A question that leans on the previous turn: short, or pointing back with a pronoun or "and ...".
_FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about)\b|\b(it|its|they|them|their|this|that|these|those|there|one)\b",
    re.IGNORECASE,
)


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
    similarity: float  # cosine similarity of the dense search (0 when only BM25 found it)

    @classmethod
    def from_hit(cls, hit_id: str, payload: dict, score: float, similarity: float) -> Passage:
        return cls(
            id=hit_id, text=payload.get("text", ""), title=payload.get("title", ""),
            breadcrumb=payload.get("breadcrumb", ""), section=payload.get("section", ""),
            url=payload.get("url", ""), source_path=payload.get("source_path", ""),
            score=score, similarity=similarity,
        )


@dataclass(frozen=True)
class SearchResult:
    query: str  # the question, with " + previous question" when it was searched too
    passages: list[Passage]
    best_similarity: float
    covered: bool


def search_queries(question: str, previous_questions: list[str]) -> list[str]:
    """What to search for: the question, plus the previous question when this one is a follow-up
    ("and how do I launch it?"). Both searches are fused, so the follow-up still leads."""
    if previous_questions and (_FOLLOW_UP.search(question) or len(question.split()) <= 4):
        return [question, previous_questions[-1]]
    return [question]


class Retriever:
    """Search the store with the project's embeddings; thread-safe, so chats can search concurrently."""

    def __init__(self, store: Store, embedder: Embedder, top_k: int, threshold: float):
        self.store, self.embedder, self.top_k, self.threshold = store, embedder, top_k, threshold
        self._lock = threading.Lock()  # one engine call at a time on the shared store handle

    def search(self, queries: str | list[str], k: int | None = None, mode: SearchMode = "hybrid") -> SearchResult:
        """Top-k passages for the query (or the fused queries), with each one's cosine similarity."""
        queries = [queries] if isinstance(queries, str) else queries
        k = k or self.top_k
        started = time.perf_counter()
        embeddings = [self.embedder.embed_query(q) for q in queries]
        embedded = time.perf_counter()
        with self._lock:
            hits = self.store.query(embeddings, limit=k, mode=mode)
            # Whatever ranks the passages, "is this in the book?" is answered by the dense similarity.
            dense = [h for e in embeddings for h in self.store.query([e], limit=PREFETCH_LIMIT, mode="dense")]
        similarity: dict[str, float] = {}
        for h in dense:
            similarity[h.id] = max(h.score, similarity.get(h.id, 0.0))
        passages = [Passage.from_hit(h.id, h.payload, h.score, similarity.get(h.id, 0.0)) for h in hits]
        best = max(similarity.values(), default=0.0)
        log.info(
            "qdrant.search mode=%s queries=%d hits=%d best_similarity=%.3f embed_ms=%.1f search_ms=%.1f",
            mode, len(queries), len(passages), best, (embedded - started) * 1000,
            (time.perf_counter() - embedded) * 1000,
        )
        return SearchResult(" + ".join(queries), passages, best, covered=bool(passages) and best >= self.threshold)
