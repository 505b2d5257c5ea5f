"""What ingest and retrieval need from a Qdrant collection, independent of the backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from rag.errors import Service, ServiceError
from rag.store.vectors import Embedding

DENSE = "dense"
SPARSE = "bm25"
# Payload fields with an index: ingest deletes and looks up chunks by document.
KEYWORD_INDEXES = ("source_path", "doc_id")
# Reciprocal-rank-fusion constant, the same for both backends. k=2 lets the top ranks of each search lead:
# on SciFact it scored nDCG@10 0.729 against 0.714 with the textbook k=60 (docs/quality.md).
RRF_K = 2
SCHEMA_VERSION = 1
# How many candidates each prefetch hands to the fusion.
PREFETCH_LIMIT = 50

SearchMode = Literal["hybrid", "dense", "bm25"]

# {"field": "value"} or {"field": ["any", "of"]}; all fields must match.
PayloadFilter = dict[str, str | list[str]]


@dataclass(frozen=True)
class CollectionSpec:
    """Recorded with the collection so vectors of two embedding models never mix."""

    embedding_model: str
    dim: int
    schema_version: int = SCHEMA_VERSION

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CollectionSpec:
        return cls(str(data["embedding_model"]), int(data["dim"]), int(data.get("schema_version", SCHEMA_VERSION)))


@dataclass(frozen=True)
class StoredPoint:
    id: str
    embedding: Embedding
    payload: Mapping[str, Any]  # any JSON object; ingest's is a ChunkPayload


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]
    dense: list[float] | None = None  # the point's dense vector, for searches with a dense leg

    @classmethod
    def from_point(cls, point: Any) -> Hit:
        """A scored point as either client returns it (both give named vectors as a dict)."""
        dense = point.vector.get(DENSE) if isinstance(point.vector, dict) else None
        return cls(
            str(point.id), float(point.score), dict(point.payload or {}), dense if isinstance(dense, list) else None
        )


class StoreError(ServiceError):
    """A store failure with a message meant for the user (what happened, what to do)."""

    kind: Service = "qdrant"


class StoreUnavailable(StoreError):
    """The Qdrant server cannot be reached (after retries)."""


class StoreAuthError(StoreError):
    """The server rejected the API key."""


class StoreFull(StoreError):
    """The disk cannot take the write."""


class StoreLocked(StoreError):
    """Another process holds the embedded store's folder."""


class CollectionMissing(StoreError):
    """The collection does not exist yet: run the ingest."""


class ModelMismatch(StoreError):
    """The collection was built with another embedding model."""


def check_spec(found: CollectionSpec | None, wanted: CollectionSpec, where: str) -> None:
    """Refuse a collection whose vectors come from a different model."""
    if found is None or (found.embedding_model, found.dim) == (wanted.embedding_model, wanted.dim):
        return
    raise ModelMismatch(
        f"{where} was built with embedding model {found.embedding_model} ({found.dim}-d), but EMBEDDING_MODEL is "
        f"{wanted.embedding_model} ({wanted.dim}-d). Set EMBEDDING_MODEL={found.embedding_model}, or rebuild the "
        "collection with `python -m ingest --recreate`."
    )


class Store(Protocol):
    """A Qdrant collection holding the book's chunks: a dense and a BM25 vector per point."""

    description: str

    def verify_connection(self) -> None: ...

    def collection_spec(self) -> CollectionSpec | None:
        """The recorded spec, or None when the collection does not exist."""

    def ensure_collection(self, spec: CollectionSpec, recreate: bool = False) -> None:
        """Create the collection (dropping it first when `recreate`), or check the existing one matches."""

    def book_version(self) -> str:
        """The version ingest last wrote ("" for none): cheap, so every process can follow it."""

    def set_book_version(self, version: str) -> None:
        """Recorded by ingest once the book has changed, for every process that reads the store."""

    def upsert(self, points: list[StoredPoint]) -> None: ...

    def delete(self, where: PayloadFilter) -> None: ...

    def query(
        self,
        queries: Sequence[Embedding],
        limit: int,
        where: PayloadFilter | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[Hit]:
        """Search with each query's dense and/or BM25 vector (by `mode`); several searches are fused by RRF
        in the engine, a single one is returned as scored (cosine or BM25)."""

    def count(self, where: PayloadFilter | None = None) -> int: ...

    def optimize(self) -> None:
        """Build the vector indexes after bulk writes (a server does this by itself; Edge has no background
        optimizer)."""

    def scroll(self, fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every point's payload (only `fields`), with its id under "id"."""

    def get(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The payloads of these points by id (points that are gone are left out)."""

    def exclusive(self) -> AbstractContextManager[Any]:
        """While held, no other thread's call reaches the store: a search reads one book, and an ingest the app
        runs lands all its writes at once (`ingest.staging`). An embedded store is one process's; a server's
        holds nothing (several processes write to it; ingest runs on its own)."""

    def close(self) -> None: ...


# A search asks the engine for this many hits more than it returns: hits that tie (RRF gives the same score to a
# passage one leg ranks r and another the other leg ranks r; a page repeated in a book has the same vector) come
# back in the engine's arbitrary order, which changed a question's passages from one run to the next. They are
# ordered by id instead (`settled`).
TIE_MARGIN = 10


def settled(hits: list[Hit], limit: int) -> list[Hit]:
    """The best `limit` hits, equal scores in the order of their ids: the same question, the same passages."""
    return sorted(hits, key=lambda h: (-h.score, h.id))[:limit]


def search_legs(queries: Sequence[Embedding], mode: SearchMode) -> list[tuple[str, Embedding]]:
    """(vector name, query) for each search to run: the dense and/or BM25 leg of every query."""
    names = {"hybrid": (DENSE, SPARSE), "dense": (DENSE,), "bm25": (SPARSE,)}[mode]
    return [(name, q) for q in queries for name in names]


def scroll_payloads(page: Callable[[Any], tuple[Sequence[Any], Any]]) -> Iterator[dict[str, Any]]:
    """Every record's payload with its id under "id": `page(offset)` returns (records, next offset), both
    clients' way of scrolling, until there is no next offset."""
    offset = None
    while True:
        records, offset = page(offset)
        for record in records:
            yield {"id": str(record.id), **(record.payload or {})}
        if offset is None:
            return
