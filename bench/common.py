"""Shared pieces of the benchmarks: percentiles, and collections of any size built from SciFact abstracts."""

from __future__ import annotations

import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from evaluation.data import load_beir
from harness.app import App
from rag.search.embeddings import Embedder
from rag.store import CollectionSpec, EdgeStore, StoredPoint
from rag.store.vectors import Embedding, SparseVector

REPO = Path(__file__).resolve().parent.parent
SCIFACT = REPO.parent / "shared" / "eval" / "scifact"
CACHE = Path.home() / ".cache" / "textbook-tutor" / "bench"


@contextmanager
def app_on(source: Path) -> Iterator[App]:
    """The real app on `source` ingested into a temporary embedded store, the rate limits off (a benchmark asks
    far more than a student may); stopped after."""
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "QDRANT_PATH": str(data / "qdrant")}
        subprocess.run([sys.executable, "-m", "ingest", "--source", str(source)], env=env, check=True)
        app = App(data, RATE_LIMIT_PER_MINUTE="0", RATE_LIMIT_PER_ADDRESS="0")
        try:
            yield app
        finally:
            app.stop()


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50={q[49]:.1f} p95={q[94]:.1f} p99={q[98]:.1f}"


def scifact_embeddings(embedder: Embedder, count: int, beir_dir: Path = SCIFACT) -> list[tuple[str, Embedding]]:
    """(text, embedding) of the first `count` SciFact abstracts, cached on disk: embedding them is the slow part."""
    corpus, _, _ = load_beir(beir_dir)
    texts = list(corpus.values())[:count]
    cache = CACHE / f"scifact-{embedder.model_name.replace('/', '_')}-{len(texts)}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    print(f"embedding {len(texts)} SciFact abstracts once (cached in {cache}) ...", file=sys.stderr)
    pairs = list(zip(texts, embedder.embed_passages(texts), strict=True))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(pairs))
    return pairs


def build_collection(folder: Path, embedder: Embedder, size: int, unique: int, collection: str = "bench") -> EdgeStore:
    """`size` points from the first `unique` abstracts (fewer if `size` is smaller); copies get slightly perturbed
    dense vectors, so no two are equal."""
    pairs = scifact_embeddings(embedder, unique)[:size]
    store = EdgeStore(folder, collection)
    store.ensure_collection(CollectionSpec(embedder.model_name, embedder.dim))
    rng = np.random.default_rng(0)
    batch: list[StoredPoint] = []
    for n in range(size):
        text, emb = pairs[n % len(pairs)]
        dense = np.asarray(emb.dense)
        if n >= len(pairs):
            dense = dense + rng.normal(0, 0.02, dense.shape)
            dense /= np.linalg.norm(dense)
        payload = {"text": text, "title": f"abstract {n}", "breadcrumb": f"abstract {n}", "source_path": f"{n}.md"}
        batch.append(
            StoredPoint(
                str(uuid.uuid5(uuid.NAMESPACE_OID, str(n))),
                Embedding(dense.tolist(), SparseVector(emb.sparse.indices, emb.sparse.values)),
                payload,
            )
        )
        if len(batch) == 1000:
            store.upsert(batch)
            batch = []
    if batch:
        store.upsert(batch)
    store.optimize()
    return store
