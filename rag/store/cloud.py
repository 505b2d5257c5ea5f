"""Qdrant Cloud (or any Qdrant server) through qdrant-client.

Transient failures (connection errors, timeouts, 502/503/504) are retried with
exponential backoff; what still fails becomes a `StoreError` that names the
variable to fix. Never falls back to the embedded store: a configured server
that cannot be reached is an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse
from tenacity import RetryError, retry, retry_if_exception, stop_after_attempt, wait_exponential

from rag.config import mask_url
from rag.store.base import (
    DENSE,
    KEYWORD_INDEXES,
    PREFETCH_LIMIT,
    RRF_K,
    SPARSE,
    TIE_MARGIN,
    CollectionMissing,
    CollectionSpec,
    Hit,
    PayloadFilter,
    SearchMode,
    StoreAuthError,
    StoredPoint,
    StoreError,
    StoreUnavailable,
    check_spec,
    scroll_payloads,
    search_legs,
    settled,
)
from rag.store.vectors import Embedding

log = logging.getLogger(__name__)
BOOK_VERSION = "book_version"  # in the collection's metadata, beside the embedding model
T = TypeVar("T")

ATTEMPTS = 3
_TRANSIENT_STATUS = {502, 503, 504}


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code in _TRANSIENT_STATUS
    return isinstance(exc, (ResponseHandlingException, httpx.TransportError, TimeoutError, ConnectionError))


class CloudStore:
    """A collection on a Qdrant server. `client` is injectable so tests can use the in-memory client."""

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        endpoint: str,
        backoff: float = 0.5,
        layout: ClusterLayout | None = None,
    ):
        self.client = client
        self.collection = collection
        self.layout = layout or ClusterLayout()
        self.endpoint = mask_url(endpoint)  # only ever shown: the client holds the real one
        self.description = f"Qdrant at {self.endpoint}, collection {collection}"
        self._call = retry(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(ATTEMPTS),
            wait=wait_exponential(multiplier=backoff, max=8),
            reraise=False,
        )(self._invoke)

    @classmethod
    def connect(
        cls, endpoint: str, api_key: str | None, collection: str, timeout: float, layout: ClusterLayout | None = None
    ) -> CloudStore:
        client = QdrantClient(
            url=endpoint, api_key=api_key, timeout=max(1, round(timeout)), prefer_grpc=False, check_compatibility=False
        )
        return cls(client, collection, endpoint, layout=layout)

    @staticmethod
    def _invoke(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)

    def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the client with retries; translate what still fails into a user-facing error."""
        try:
            return self._call(fn, *args, **kwargs)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise StoreUnavailable(
                f"Qdrant at {self.endpoint} is unreachable after {ATTEMPTS} attempts ({_reason(cause)}). Check "
                "QDRANT_CLUSTER_ENDPOINT and your network, or raise QDRANT_TIMEOUT; unset QDRANT_CLUSTER_ENDPOINT "
                "to use the embedded store instead."
            ) from cause
        except (UnexpectedResponse, ValueError) as exc:
            if _collection_not_found(exc):
                raise CollectionMissing(
                    f"Collection {self.collection} does not exist at {self.endpoint}. "
                    "Run `python -m ingest` to build it."
                ) from None
            if not isinstance(exc, UnexpectedResponse):
                raise
            if exc.status_code in (401, 403):
                raise StoreAuthError(
                    f"Qdrant at {self.endpoint} rejected the API key (HTTP {exc.status_code}). Check QDRANT_API_KEY: "
                    "it must be a key of this cluster with read-write access."
                ) from None
            raise StoreError(f"Qdrant at {self.endpoint} answered HTTP {exc.status_code}: {_reason(exc)}") from exc

    def verify_connection(self) -> None:
        self._run(self.client.get_collections)
        log.info("qdrant.connect backend=cloud endpoint=%s", self.endpoint)

    def exclusive(self) -> AbstractContextManager[Any]:
        return nullcontext()

    def close(self) -> None:
        self.client.close()

    def collection_spec(self) -> CollectionSpec | None:
        if not self._run(self.client.collection_exists, self.collection):
            return None
        info = self._run(self.client.get_collection, self.collection)
        metadata = info.config.metadata or {}
        if "embedding_model" not in metadata:
            raise StoreError(
                f"Collection {self.collection} at {self.endpoint} was not created by this tutor (it records no "
                "embedding model). Choose another QDRANT_COLLECTION, or rebuild it with `python -m ingest --recreate`."
            )
        return CollectionSpec.from_dict(metadata)

    def ensure_collection(self, spec: CollectionSpec, recreate: bool = False) -> None:
        if recreate:
            self._run(self.client.delete_collection, self.collection)
        found = self.collection_spec()
        if found is not None:
            check_spec(found, spec, f"Collection {self.collection} at {self.endpoint}")
            return
        self._run(
            self.client.create_collection,
            self.collection,
            vectors_config={DENSE: models.VectorParams(size=spec.dim, distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            metadata=spec.as_dict(),
            shard_number=self.layout.shards,
            replication_factor=self.layout.replicas,
        )
        for field in KEYWORD_INDEXES:
            self._run(self.client.create_payload_index, self.collection, field, models.PayloadSchemaType.KEYWORD)

    def book_version(self) -> str:
        info = self._run(self.client.get_collection, self.collection)
        return str((info.config.metadata or {}).get(BOOK_VERSION, ""))

    def set_book_version(self, version: str) -> None:
        self._run(self.client.update_collection, self.collection, metadata={BOOK_VERSION: version})

    def upsert(self, points: list[StoredPoint]) -> None:
        self._run(
            self.client.upsert,
            self.collection,
            points=[
                models.PointStruct(
                    id=p.id,
                    vector={
                        DENSE: p.embedding.dense,
                        SPARSE: models.SparseVector(
                            indices=p.embedding.sparse.indices, values=p.embedding.sparse.values
                        ),
                    },
                    payload=dict(p.payload),
                )
                for p in points
            ],
            wait=True,
        )

    def delete(self, where: PayloadFilter) -> None:
        self._run(
            self.client.delete, self.collection, points_selector=models.FilterSelector(filter=_filter(where)), wait=True
        )

    def query(
        self,
        queries: Sequence[Embedding],
        limit: int,
        where: PayloadFilter | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[Hit]:
        flt = _filter(where) if where else None
        legs = [(_vector(name, q), name) for name, q in search_legs(queries, mode)]
        if len(legs) == 1:
            args: dict[str, Any] = dict(query=legs[0][0], using=legs[0][1])
        else:
            args = dict(
                prefetch=[
                    models.Prefetch(query=v, using=name, limit=max(limit, PREFETCH_LIMIT), filter=flt)
                    for v, name in legs
                ],
                query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
            )
        response = self._run(
            self.client.query_points,
            self.collection,
            limit=limit + TIE_MARGIN,
            query_filter=flt,
            with_payload=True,
            with_vectors=[DENSE] if mode != "bm25" else False,
            **args,
        )
        return settled([Hit.from_point(p) for p in response.points], limit)

    def optimize(self) -> None:
        """The server's optimizer indexes in the background."""

    def count(self, where: PayloadFilter | None = None) -> int:
        if not self._run(self.client.collection_exists, self.collection):
            return 0
        return self._run(self.client.count, self.collection, count_filter=_filter(where) if where else None).count

    def get(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if not ids or not self._run(self.client.collection_exists, self.collection):
            return {}
        records = self._run(self.client.retrieve, self.collection, ids=list(ids), with_payload=True)
        return {str(r.id): dict(r.payload or {}) for r in records}

    def scroll(self, fields: list[str]) -> Iterator[dict[str, Any]]:
        if not self._run(self.client.collection_exists, self.collection):
            return
        yield from scroll_payloads(
            lambda offset: self._run(
                self.client.scroll, self.collection, limit=1000, offset=offset, with_payload=fields
            )
        )


@dataclass(frozen=True)
class ClusterLayout:
    """How a new collection is spread over a cluster's nodes (None: the server's default, one shard and no
    replica). Replicas let another node answer when one is down or busy; shards spread a large collection."""

    shards: int | None = None
    replicas: int | None = None


def _vector(name: str, query: Embedding) -> list[float] | models.SparseVector:
    if name == DENSE:
        return query.dense
    return models.SparseVector(indices=query.sparse.indices, values=query.sparse.values)


def _filter(where: PayloadFilter) -> models.Filter:
    return models.Filter(
        must=[
            models.FieldCondition(
                key=key,
                match=models.MatchAny(any=value) if isinstance(value, list) else models.MatchValue(value=value),
            )
            for key, value in where.items()
        ]
    )


def _collection_not_found(exc: Exception) -> bool:
    """A server says 404 "Not found: Collection `x` doesn't exist!"; qdrant-client's local mode (the tests'
    stand-in) raises ValueError("Collection x not found")."""
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code == 404 and b"collection" in exc.content.lower()
    return "collection" in str(exc).lower() and "not found" in str(exc).lower()


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, UnexpectedResponse):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, ResponseHandlingException) and exc.source is not None:
        exc = exc.source
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
