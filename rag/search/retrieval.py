"""Hybrid search over the book: dense + BM25 fused by RRF in Qdrant, and the "not covered" decision.

RRF scores only rank. Each passage also carries its cosine similarity to the question (from its dense
vector, whichever search found it) and the question's words it contains; whether the book covers the
question at all is decided by `rag.search.coverage` from those signals, before any LLM is called.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import replace
from typing import cast

import numpy as np

from rag.search.book import BookIndex
from rag.search.coverage import assess
from rag.search.embeddings import Embedder
from rag.search.passage import Passage, Reading, SearchResult
from rag.store import Hit, SearchMode, Store
from rag.store.payload import ChunkPayload
from rag.store.vectors import Embedding, SparseVector
from rag.text.candidates import excerpts_of
from rag.text.intent import asked_head, defines, section_weight
from rag.text.lexical import STOPWORDS, TermStats, content_terms, term, words

log = logging.getLogger(__name__)

# A question leans on the previous turn when it opens with a connective ("and how do I…"), is short, or points
# back with a pronoun while naming no topic of its own: fewer than `OWN_TOPIC_WORDS` content words besides.
# "Why does my robot fall over when it walks?" names its own (robot, fall, walks): the earlier question stays out.
_CONNECTIVE = re.compile(r"^\s*(and|but|also|so|then|what about|how about)\b", re.IGNORECASE)
_POINTER = frozenset({"it", "its", "they", "them", "their", "this", "that", "these", "those", "there", "one"})
OWN_TOPIC_WORDS = 3
# Dense hits consulted for the best similarity in the collection (the hybrid top-k may rank a closer one lower).
SIMILARITY_POOL = 10
# A hybrid search ranks this many passages, then fuses their rank with their best sentence's (`by_best_sentence`):
# RRF with this k, the sentence ranks weighing this much (measured in docs/quality.md).
RERANK_POOL = 30
RERANK_K = 2
SENTENCE_WEIGHT = 0.5
# Then what the question asks weighs in (`by_what_is_asked`): a passage defining what a "what is" question names
# gains this share, a section about the book (Summary, Learning Objectives) weighs `META_WEIGHT`.
DEFINITION_GAIN = 1.0
# The page being read is one more ranking fused in (`read_first`), weighing this much, for its passages among
# the book's best few whose best sentence is within the margin of the book's best (docs/book.md has the
# measurements).
READING_WEIGHT = 1.0
READING_POOL = 10
READING_MARGIN = 0.08


def search_queries(question: str, previous_questions: list[str]) -> list[str]:
    """What to search for: the question, plus the previous question when this one leans on it ("and how do I
    launch it?"). Both searches are fused, so the follow-up still leads."""
    return [question, previous_questions[-1]] if previous_questions and leans_back(question) else [question]


def leans_back(question: str) -> bool:
    """Whether a question needs the previous one to be understood (see `_CONNECTIVE`)."""
    said = words(question)
    if _CONNECTIVE.search(question) or len(question.split()) <= 4:
        return True
    return bool(_POINTER.intersection(said)) and len(content_terms(question)) < OWN_TOPIC_WORDS


def matched_words(question: str, text: str) -> tuple[str, ...]:
    """The question's words (stopwords aside) that the text holds, compared by stem."""
    found = {term(w) for w in words(text)}
    return tuple(dict.fromkeys(w for w in words(question) if w not in STOPWORDS and term(w) in found))


class Retriever:
    """Search the store with the project's embeddings; thread-safe, so chats can search concurrently."""

    def __init__(self, store: Store, embedder: Embedder, top_k: int, threshold: float, index: BookIndex | None = None):
        self.store, self.embedder, self.top_k, self.threshold = store, embedder, top_k, threshold
        self.index = index or BookIndex(store)

    @property
    def stats(self) -> TermStats:
        """The book's term statistics (`BookIndex`)."""
        return self.index.book.stats

    def nearest(self, vector: list[float]) -> tuple[str, str] | None:
        """The (breadcrumb, url) of the chunk closest in meaning to a vector."""
        hits = self.store.query([Embedding(vector, SparseVector([], []))], limit=1, mode="dense")
        return (hits[0].payload.get("breadcrumb", ""), hits[0].payload.get("url", "")) if hits else None

    def payloads(self, ids: list[str]) -> dict[str, dict]:
        return self.store.get(ids)

    def search(
        self,
        queries: str | list[str],
        k: int | None = None,
        mode: SearchMode = "hybrid",
        embeddings: list[Embedding] | None = None,
        reading: Reading | None = None,
    ) -> SearchResult:
        """Top-k passages for the query (or the fused queries), with each one's similarity and matched words.
        `embeddings` are the queries', when the caller embedded them already (batched with other requests).
        With `reading`, the passages of that page that answer (`read_first`) come first; its selection, when it is
        the last query, widens the search but does not decide coverage: it is the book's own text, so its words
        cannot name a topic the book lacks, nor its closeness to the book make a question covered."""
        queries = [queries] if isinstance(queries, str) else queries
        k = k or self.top_k
        started = time.perf_counter()
        embeddings = embeddings or self.embedder.embed_queries(queries)
        embedded = time.perf_counter()
        selected = (
            reading is not None and bool(reading.selection) and len(queries) > 1 and queries[-1] == reading.selection
        )
        asked = len(queries) - selected  # the queries that decide coverage
        stats = self.stats  # first: the book's snapshot takes the store itself when it reads the book again
        with self.store.exclusive():  # one book: an ingest the app runs lands before or after, not between
            hits = self.store.query(embeddings, limit=max(k, RERANK_POOL) if mode == "hybrid" else k, mode=mode)
            nearest = [
                h for e in embeddings[:asked] for h in self.store.query([e], limit=SIMILARITY_POOL, mode="dense")
            ]
        vectors = np.array([e.dense for e in embeddings])
        text = " ".join(queries[:asked])
        passages = _passages(hits, vectors[:asked])  # a passage's similarity is to the question, not the selection
        if mode == "hybrid":
            passages = by_what_is_asked(by_best_sentence(passages, vectors, len(passages)), queries[0])
        if reading is not None:
            passages = read_first(passages, reading)
        passages = [replace(p, matched=matched_words(text, p.text)) for p in passages[:k]]  # of those kept only
        best = max([h.score for h in nearest] + [p.similarity for p in passages], default=0.0)
        coverage = assess(
            text,
            [f"{p.breadcrumb}\n{p.text}" for p in passages],
            best,
            self.threshold,
            stats if stats.documents else None,
            self.embedder.vocabulary,
        )
        log.info(
            "qdrant.search mode=%s queries=%d hits=%d best_similarity=%.3f covered=%s embed_ms=%.1f search_ms=%.1f",
            mode,
            len(queries),
            len(passages),
            best,
            coverage.covered,
            (embedded - started) * 1000,
            (time.perf_counter() - embedded) * 1000,
        )
        return SearchResult(" + ".join(queries), passages, coverage, embeddings[0].dense)


def by_best_sentence(passages: list[Passage], queries: np.ndarray, k: int) -> list[Passage]:
    """The top `k` of a hybrid pool after fusing its rank (RRF) with the rank of each passage's best sentence:
    a chunk that is mostly code, or covers several things, can hold the one sentence that answers, which the
    chunk's own vector dilutes. Uses the excerpt vectors ingest stored, so nothing is embedded here; a store
    without them keeps the hybrid order."""
    best = np.array([_best_sentence(p, queries) for p in passages])
    sentence_rank = np.empty(len(passages), dtype=int)
    sentence_rank[np.argsort(-best, kind="stable")] = np.arange(1, len(passages) + 1)
    fused = [
        1 / (RERANK_K + rank) + SENTENCE_WEIGHT / (RERANK_K + sentence_rank[rank - 1])
        for rank in range(1, len(passages) + 1)
    ]
    order = sorted(range(len(passages)), key=lambda i: -fused[i])
    return [
        replace(passages[i], score=fused[i], sentence_similarity=best[i] or passages[i].similarity) for i in order[:k]
    ]


def by_what_is_asked(passages: list[Passage], question: str) -> list[Passage]:
    """The passages reordered by their score weighed for what the question asks (`rag.text.intent`): the book's
    definition of what it names first, its sections about itself last. Both rules are the book-excerpt answer's,
    applied to the search, so the passage an answer should lead with is among those it is given."""
    head, terms = asked_head(question), set(content_terms(question))

    def weight(p: Passage) -> float:
        defined = head is not None and any(defines(e.text, terms, head) for e in excerpts_of(1, p.text, p.breadcrumb))
        return section_weight(question, p.breadcrumb) * (1 + DEFINITION_GAIN if defined else 1.0)

    return sorted((replace(p, score=p.score * weight(p)) for p in passages), key=lambda p: -p.score)


def _best_sentence(passage: Passage, queries: np.ndarray) -> float:
    """The cosine similarity of the passage's sentence closest to the queries (0 without stored vectors)."""
    vectors = passage.excerpt_vectors
    return float(np.max(vectors @ queries.T)) if vectors is not None and len(vectors) else 0.0


def _passages(hits: list[Hit], vectors: np.ndarray) -> list[Passage]:
    """Search hits as passages, with their similarity to the queries."""
    return [
        Passage.from_hit(
            h.id,
            cast(ChunkPayload, h.payload),  # what ingest wrote: the store itself holds any payload
            h.score,
            _similarity(vectors, h.dense),
        )
        for h in hits
    ]


def read_first(found: list[Passage], reading: Reading) -> list[Passage]:
    """The book's ranking (`found`, best first, scored) fused with the page being read as one more ranking
    (RRF, `READING_WEIGHT`), the section being read at its head. The page's passages take part when they
    answer: among the book's `READING_POOL` best, their best sentence within `READING_MARGIN` of the book's
    best. So the page leads when it answers, other pages still count, and a page that does not answer
    changes nothing."""
    best = max((_answers(p) for p in found), default=0.0)
    answering = [p for p in found[:READING_POOL] if p.doc_id == reading.doc_id and _answers(p) >= best - READING_MARGIN]
    answering.sort(key=lambda p: p.anchor != reading.anchor or not reading.anchor)  # stable: the book's order
    bonus = {p.id: READING_WEIGHT / (RERANK_K + rank) for rank, p in enumerate(answering, 1)}
    return sorted((replace(p, score=p.score + bonus.get(p.id, 0.0)) for p in found), key=lambda p: -p.score)


def _answers(passage: Passage) -> float:
    """How well a passage answers: its best sentence's similarity (a search without the rerank: its own)."""
    return passage.sentence_similarity or passage.similarity


def _similarity(queries: np.ndarray, dense: list[float] | None) -> float:
    """The best cosine of the passage to any of the queries (vectors are unit length)."""
    return float(np.max(queries @ np.asarray(dense))) if dense is not None and len(queries) else 0.0
