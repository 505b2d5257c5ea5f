"""The embedded store: Qdrant Edge, Qdrant's engine running in this process, on disk.

One Edge shard per collection, in `<QDRANT_PATH>/<collection>/`. Edge allows one
process per folder; we record who holds it (`holder.json`) so a second process
can say which program to stop instead of showing Edge's WAL error.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import qdrant_edge as qe

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
    StoredPoint,
    StoreError,
    StoreFull,
    StoreLocked,
    check_spec,
    scroll_payloads,
    search_legs,
    settled,
)
from rag.store.vectors import Embedding

log = logging.getLogger(__name__)

SPEC_FILE = "tutor-collection.json"
VERSION_FILE = "tutor-book-version"  # beside the shard, outside its lock: readable by any process
HOLDER_FILE = "holder.json"
CONFIG_FILE = "edge_config.json"
# Edge writes through memory-mapped files: on a full disk a write kills the process with SIGBUS instead of
# raising. So space is checked before writing: the write-ahead log reserves two 32 MB segments, and a point
# (vectors, payload, indexes) takes a few kB; this is a generous bound.
WAL_BYTES = 64 * 2**20
BYTES_PER_POINT = 32 * 2**10

P = ParamSpec("P")
R = TypeVar("R")


def _serialized(method: Callable[Concatenate[EdgeStore, P], R]) -> Callable[Concatenate[EdgeStore, P], R]:
    """One shard call at a time: chats search from several threads through one shard handle."""

    @functools.wraps(method)
    def locked(self: EdgeStore, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class EdgeStore:
    """A collection in an Edge shard folder; loaded at construction so a lock shows up at once."""

    def __init__(self, path: Path, collection: str):
        self.folder = Path(path) / collection
        self.description = f"embedded Qdrant Edge at {self.folder}"
        self._shard: qe.EdgeShard | None = None
        self._gate: int | None = None  # the descriptor of our own lock while the shard is open (`_enter_gate`)
        self._lock = threading.RLock()
        if (self.folder / CONFIG_FILE).exists():
            self._shard = self._open(lambda: qe.EdgeShard.load(str(self.folder)))

    # -- lifecycle -------------------------------------------------------------

    def _open(self, opener: Callable[[], qe.EdgeShard]) -> qe.EdgeShard:
        self._enter_gate()
        try:
            shard = opener()
        except Exception as exc:  # Edge raises plain Exception; its text tells the cause
            self._leave_gate()
            if "WouldBlock" in str(exc):
                raise StoreLocked(self._locked_message()) from None
            raise StoreError(f"Could not open the {self.description}: {exc}") from exc
        (self.folder / HOLDER_FILE).write_text(
            json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv), "since": time.strftime("%Y-%m-%d %H:%M:%S")})
        )
        log.info("qdrant.connect backend=edge folder=%s", self.folder)
        return shard

    def _enter_gate(self) -> None:
        """Qdrant Edge writes to a shard's files as it loads them, before it finds the folder locked: a second
        process that only tried to open the store damaged the first one's (its next write failed with "Tracker
        journal ... is shorter than expected"). A lock of our own, beside the folder and taken before Edge is
        asked, keeps every other process away from the shard's files."""
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        gate = os.open(self.folder.parent / f".{self.folder.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(gate, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(gate)
            raise StoreLocked(self._locked_message()) from None
        self._gate = gate

    def _leave_gate(self) -> None:
        if self._gate is not None:
            os.close(self._gate)  # the lock goes with it
            self._gate = None

    def _locked_message(self) -> str:
        holder = ""
        try:
            info = json.loads((self.folder / HOLDER_FILE).read_text())
            holder = f" (process {info['pid']}: `{info['command']}`, since {info['since']})"
        except (OSError, ValueError, KeyError):
            pass
        return (
            f"The embedded Qdrant store at {self.folder} is in use by another process{holder}: the running app "
            "or an ingest. Only one process can open it at a time. Stop that process and try again, or point "
            "QDRANT_PATH at another folder, or use a Qdrant server (QDRANT_CLUSTER_ENDPOINT) for shared access."
        )

    def verify_connection(self) -> None:
        if self._shard is not None and not (self.folder / CONFIG_FILE).exists():
            raise StoreError(
                f"The embedded store folder {self.folder} was removed while in use. Stop the app, rebuild the "
                "collection with `python -m ingest --source <docs folder>`, and start the app again."
            )
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(self.folder.parent, os.W_OK):
            raise StoreError(f"QDRANT_PATH {self.folder.parent} is not writable: choose a writable folder.")

    def _require_space(self, points: int) -> None:
        """Refuse a write the disk cannot take, before Edge crashes on it (see WAL_BYTES)."""
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.folder.parent).free
        needed = WAL_BYTES + points * BYTES_PER_POINT
        if free < needed:
            raise StoreFull(
                f"Not enough disk space for the embedded store at {self.folder}: {free / 2**20:.1f} MB free, about "
                f"{needed / 2**20:.0f} MB needed (its write-ahead log alone reserves {WAL_BYTES // 2**20} MB). Free "
                "some space, or set QDRANT_PATH to a folder on a larger disk, then run the same command again."
            )

    def exclusive(self) -> AbstractContextManager[Any]:
        return self._lock  # the lock every shard call takes (reentrant: calls inside go through)

    @_serialized
    def close(self) -> None:
        if self._shard is not None:
            self._shard.flush()
            self._shard.close()
            (self.folder / HOLDER_FILE).unlink(missing_ok=True)
            self._shard = None
            self._leave_gate()

    # -- collection --------------------------------------------------------------

    def collection_spec(self) -> CollectionSpec | None:
        if self._shard is None:
            return None
        try:
            return CollectionSpec.from_dict(json.loads((self.folder / SPEC_FILE).read_text()))
        except (OSError, ValueError, KeyError) as exc:
            raise StoreError(
                f"{self.folder / SPEC_FILE} is missing or unreadable ({exc}); "
                "rebuild with `python -m ingest --recreate`."
            ) from exc

    @_serialized
    def ensure_collection(self, spec: CollectionSpec, recreate: bool = False) -> None:
        if recreate and self.folder.exists():
            self.close()
            shutil.rmtree(self.folder)
        if self._shard is not None and not (self.folder / SPEC_FILE).exists() and self.count() == 0:
            self._write_spec(spec)  # an empty collection whose creation was cut short (a full disk): finish it
        if self._shard is not None:
            check_spec(self.collection_spec(), spec, f"The collection in {self.folder}")
            return
        self._require_space(0)
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=spec.dim, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_spec(spec)  # first: a collection is never there without its spec
        self._shard = self._open(lambda: qe.EdgeShard.create(str(self.folder), config))
        for field in KEYWORD_INDEXES:
            self._shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))

    def _write_spec(self, spec: CollectionSpec) -> None:
        _replace(self.folder / SPEC_FILE, json.dumps(spec.as_dict()))

    def book_version(self) -> str:
        try:
            return (self.folder / VERSION_FILE).read_text()
        except FileNotFoundError:
            return ""

    def set_book_version(self, version: str) -> None:
        _replace(self.folder / VERSION_FILE, version)

    def _require(self) -> qe.EdgeShard:
        if self._shard is None:
            raise CollectionMissing(
                f"No collection in {self.folder} yet. Run `python -m ingest --source <docs folder>` to build it."
            )
        return self._shard

    # -- points --------------------------------------------------------------------

    @_serialized
    def upsert(self, points: list[StoredPoint]) -> None:
        shard = self._require()
        self._require_space(len(points))
        shard.update(
            qe.UpdateOperation.upsert_points(
                [
                    qe.Point(
                        p.id,
                        {
                            DENSE: p.embedding.dense,
                            SPARSE: qe.SparseVector(p.embedding.sparse.indices, p.embedding.sparse.values),
                        },
                        dict(p.payload),
                    )
                    for p in points
                ]
            )
        )
        shard.flush()

    @_serialized
    def delete(self, where: PayloadFilter) -> None:
        shard = self._require()
        shard.update(qe.UpdateOperation.delete_points_by_filter(_filter(where)))
        shard.flush()

    @_serialized
    def query(
        self,
        queries: Sequence[Embedding],
        limit: int,
        where: PayloadFilter | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[Hit]:
        shard = self._require()
        flt = _filter(where) if where else None
        legs = [_nearest(name, q) for name, q in search_legs(queries, mode)]
        vectors = [DENSE] if mode != "bm25" else False
        if len(legs) == 1:
            request = qe.QueryRequest(
                limit=limit + TIE_MARGIN, query=legs[0], filter=flt, with_payload=True, with_vector=vectors
            )
        else:
            request = qe.QueryRequest(
                limit=limit + TIE_MARGIN,
                prefetches=[qe.Prefetch(limit=max(limit, PREFETCH_LIMIT), query=leg, filter=flt) for leg in legs],
                query=qe.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]  # the stub leaves Rrf out of Fusion
                filter=flt,
                with_payload=True,
                with_vector=vectors,
            )
        return settled([Hit.from_point(p) for p in shard.query(request)], limit)

    @_serialized
    def optimize(self) -> None:
        if self._shard is not None:
            self._shard.optimize()
            self._shard.flush()

    @_serialized
    def count(self, where: PayloadFilter | None = None) -> int:
        if self._shard is None:
            return 0
        return self._shard.count(qe.CountRequest(exact=True, filter=_filter(where) if where else None))

    @_serialized
    def get(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        if self._shard is None or not ids:
            return {}
        records = self._shard.retrieve(list(ids), with_payload=True, with_vector=False)
        return {str(r.id): dict(r.payload or {}) for r in records}

    def scroll(self, fields: list[str]) -> Iterator[dict[str, Any]]:
        if self._shard is None:
            return
        yield from scroll_payloads(functools.partial(self._scroll_page, fields=fields))

    @_serialized
    def _scroll_page(self, offset: Any, fields: list[str]) -> tuple[list[qe.Record], Any]:
        return self._require().scroll(qe.ScrollRequest(offset=offset, limit=1000, with_payload=fields))


def _nearest(name: str, query: Embedding) -> qe.Query:
    if name == DENSE:
        return qe.Query.Nearest(query.dense, using=DENSE)
    return qe.Query.Nearest(qe.SparseVector(query.sparse.indices, query.sparse.values), using=SPARSE)


def _filter(where: PayloadFilter) -> qe.Filter:
    return qe.Filter(
        must=[
            qe.FieldCondition(key=key, match=qe.MatchAny(value) if isinstance(value, list) else qe.MatchValue(value))
            for key, value in where.items()
        ]
    )


def _replace(path: Path, text: str) -> None:
    """Written to a temporary file and renamed into place, so it is whole or absent."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
