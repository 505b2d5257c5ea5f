"""One behaviour suite for both backends: Edge on disk, and the Cloud backend over qdrant-client's
local mode (the same client API the Cloud path uses; on disk so that a reopen is a real reopen)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
from qdrant_client import QdrantClient

from harness.qdrant_server import QdrantServer
from rag.store import (
    CloudStore,
    CollectionMissing,
    CollectionSpec,
    EdgeStore,
    ModelMismatch,
    StoredPoint,
)
from rag.store.cloud import ClusterLayout
from rag.store.vectors import Embedding, SparseVector
from tests.conftest import REPO

SPEC = CollectionSpec("test-model", 4)


def vec(*dense: float, terms: tuple[int, ...] = ()) -> Embedding:
    return Embedding(list(dense), SparseVector(list(terms), [1.0] * len(terms)))


def point(n: int, path: str, *dense: float, terms: tuple[int, ...] = ()) -> StoredPoint:
    return StoredPoint(f"00000000-0000-0000-0000-{n:012d}", vec(*dense, terms=terms), {"source_path": path, "n": n})


LAYOUT = ClusterLayout(shards=2, replicas=2)


class Backend:
    """Opens the same collection again, as a restarted process would: embedded, qdrant-client's local mode in
    this process, or over HTTP to the Qdrant stand-in server (as a cluster, with its shards and replicas)."""

    def __init__(self, kind: str, tmp_path):
        self.kind, self.tmp_path = kind, tmp_path
        self.server = QdrantServer() if kind == "server" else None

    def open(self):
        if self.kind == "edge":
            return EdgeStore(self.tmp_path / "qdrant", "book")
        if self.server is not None:
            return CloudStore.connect(self.server.url, None, "book", 10, LAYOUT)
        return CloudStore(QdrantClient(path=str(self.tmp_path / "local")), "book", "local://test")


@pytest.fixture(params=["edge", "cloud", "server"])
def backend(request, tmp_path):
    backend = Backend(request.param, tmp_path)
    yield backend
    if backend.server is not None:
        backend.server.close()


@pytest.fixture
def store(backend):
    s = backend.open()
    s.ensure_collection(SPEC)
    s.upsert(
        [
            point(1, "a.md", 1, 0, 0, 0, terms=(10, 11)),
            point(2, "a.md", 0.9, 0.1, 0, 0, terms=(11,)),
            point(3, "b.md", 0, 1, 0, 0, terms=(12,)),
            point(4, "c.md", 0, 0, 1, 0, terms=(10,)),
        ]
    )
    yield s
    s.close()


def test_missing_collection(backend):
    s = backend.open()
    assert s.collection_spec() is None
    assert s.count() == 0
    with pytest.raises(CollectionMissing, match="ingest"):
        s.query([vec(1, 0, 0, 0)], limit=3)


def test_create_upsert_count_and_reopen(backend, store):
    assert store.count() == 4
    assert store.count({"source_path": "a.md"}) == 2
    store.close()
    reopened = backend.open()
    assert reopened.collection_spec() == SPEC
    assert reopened.count() == 4
    reopened.ensure_collection(SPEC)  # same model: accepted, data kept
    assert reopened.count() == 4
    reopened.close()


def test_a_collection_on_a_cluster_gets_its_shards_and_replicas(tmp_path):
    backend = Backend("server", tmp_path)
    assert backend.server is not None
    try:
        backend.open().ensure_collection(SPEC)
        created = backend.server.created["book"]
    finally:
        backend.server.close()
    assert (created["shard_number"], created["replication_factor"]) == (2, 2)


def test_upsert_same_id_replaces(store):
    store.upsert([point(1, "a.md", 0, 0, 0, 1)])
    assert store.count() == 4
    assert store.query([vec(0, 0, 0, 1)], limit=1, mode="dense")[0].payload["n"] == 1


def test_delete_by_filter(store):
    store.delete({"source_path": ["a.md", "c.md"]})
    assert store.count() == 1
    assert [p["source_path"] for p in store.scroll(["source_path"])] == ["b.md"]


@pytest.mark.parametrize("mode,first", [("dense", 1), ("bm25", 3), ("hybrid", 3)])
def test_query_modes(store, mode, first):
    # Only point 3 has term 12; the vector is nearest to point 1; fusion ranks 3 (found by both) first.
    hits = store.query([vec(1, 0, 0, 0, terms=(12,))], limit=3, mode=mode)
    assert hits[0].payload["n"] == first
    assert len({h.id for h in hits}) == len(hits)


def test_hybrid_fuses_both_searches(store):
    # Point 4 matches only the keyword, point 3 only the vector: fusion returns both.
    ns = {h.payload["n"] for h in store.query([vec(0, 1, 0, 0, terms=(10,))], limit=4)}
    assert {3, 4} <= ns


def test_several_queries_are_fused(store):
    # One query finds point 3, the other point 4: both come back, ahead of points neither finds.
    hits = store.query([vec(0, 1, 0, 0), vec(0, 0, 1, 0)], limit=2, mode="dense")
    assert {h.payload["n"] for h in hits} == {3, 4}


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_hits_that_tie_come_in_the_order_of_their_ids(store, mode):
    """Points 3 and 4 are equally close to the query: the same one comes first every time (the engine's own
    order of equal scores changed from one run to the next)."""
    for _ in range(20):
        hits = store.query([vec(0, 1, 1, 0, terms=(12, 10))], limit=1, mode=mode)
        assert [h.payload["n"] for h in hits] == [3]
    hits = store.query([vec(0, 1, 1, 0, terms=(12, 10))], limit=4, mode=mode)
    assert [(-h.score, h.id) for h in hits] == sorted((-h.score, h.id) for h in hits) and len(hits) == 4


def test_query_with_filter(store):
    hits = store.query([vec(1, 0, 0, 0, terms=(10,))], limit=5, where={"source_path": "c.md"})
    assert [h.payload["n"] for h in hits] == [4]


def test_scroll_returns_every_payload_with_id(store):
    rows = list(store.scroll(["source_path"]))
    assert len(rows) == 4 and all(set(r) == {"id", "source_path"} for r in rows)


def test_get_returns_the_payloads_of_existing_points(store):
    first, gone = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000099"
    found = store.get([first, gone])
    assert list(found) == [first] and found[first]["source_path"] == "a.md" and store.get([]) == {}


@pytest.mark.parametrize("backend", ["edge"], indirect=True)  # local mode, the server's stand-in, is not thread-safe
def test_concurrent_queries_scrolls_and_writes_from_threads(store):
    """Chats search from worker threads through one store handle while the instructor view scrolls."""

    def work(n: int) -> tuple[str, int]:
        if n % 5 == 0:
            store.upsert([point(100 + n, "d.md", 0, 0, 0, 1)])
        first = store.query([vec(1, 0, 0, 0, terms=(10,))], limit=2)[0].payload["source_path"]
        return first, sum(1 for _ in store.scroll(["source_path"]))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(40)))
    assert {first for first, _ in results} == {"a.md"}
    assert all(4 <= seen <= 12 for _, seen in results)
    assert store.count() == 12


def test_other_model_is_refused(backend, store):
    store.close()
    with pytest.raises(ModelMismatch, match="EMBEDDING_MODEL"):
        backend.open().ensure_collection(CollectionSpec("another-model", 4))


def test_the_book_version_is_kept_with_the_collection_and_read_by_a_reopened_store(backend, store):
    assert store.book_version() == ""
    store.set_book_version("1-abc")
    store.set_book_version("2-def")
    assert store.book_version() == "2-def" and store.collection_spec() == SPEC  # the spec beside it stays
    store.close()
    reopened = backend.open()
    assert reopened.book_version() == "2-def"
    reopened.close()


def test_recreate_drops_the_data(backend, store):
    store.close()
    s = backend.open()
    s.ensure_collection(CollectionSpec("another-model", 8), recreate=True)
    assert s.count() == 0 and s.collection_spec() == CollectionSpec("another-model", 8)
    s.close()


def test_second_process_gets_a_clear_lock_message(tmp_path):
    """Only the embedded store is locked per process."""
    holder = EdgeStore(tmp_path / "qdrant", "book")
    holder.ensure_collection(SPEC)
    script = textwrap.dedent(f"""
        import sys
        from rag.store import EdgeStore, StoreLocked
        try:
            EdgeStore({str(tmp_path / "qdrant")!r}, "book")
        except StoreLocked as exc:
            print(exc)
            sys.exit(3)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 3, out.stderr
    assert str(tmp_path / "qdrant" / "book") in out.stdout
    assert "another process" in out.stdout and "Stop that process" in out.stdout
    assert "WouldBlock" not in out.stdout and "Traceback" not in out.stderr
    assert f"process {os.getpid()}" in out.stdout  # names who holds it
    holder.close()


def test_a_second_process_that_tries_the_store_leaves_its_holder_s_writes_working(tmp_path):
    """Qdrant Edge, asked to load a held shard, wrote to its files before it found the lock: the holder's next
    write then failed ("Tracker journal ... is shorter than expected"). The store's own lock keeps it away."""
    holder = EdgeStore(tmp_path / "qdrant", "book")
    holder.ensure_collection(SPEC)
    script = f"from rag.store import EdgeStore\nEdgeStore({str(tmp_path / 'qdrant')!r}, 'book')"
    for n in range(1, 4):
        holder.upsert([point(n, "a.md", 1, 0, 0, 0, terms=(10, n))])
        holder.optimize()
        tried = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
        assert "StoreLocked" in tried.stderr
    assert holder.count() == 3
    holder.close()
