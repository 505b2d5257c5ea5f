"""Ingest throughput of a whole book, against fastembed embedding the same chunk texts bare.

Prints chunks/s and tokens/s of `run_ingest` (parse, chunk, embed, upsert, optimize) into a fresh embedded
store, the rate of fastembed alone on the same texts (dense + BM25, its own batching), the ratio, the peak
RSS of this process, and the wall time of a no-op re-ingest (`python -m ingest` again, model load included).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fastembed import SparseTextEmbedding

from bench.common import REPO
from ingest.pipeline import IngestOptions, discover, make_chunker, parse_and_chunk, run_ingest
from rag.config import load_settings
from rag.search.embeddings import BM25_MODEL, Embedder, bm25_dir
from rag.store import EdgeStore

DEFAULT_SOURCE = REPO.parent / "shared" / "corpus" / "physical-ai-textbook" / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="docs folder (default: %(default)s)")
    args = parser.parse_args()
    settings = load_settings()
    embedder = Embedder(settings.embedding_model, settings.model_cache_dir)
    options = IngestOptions(args.source)
    with tempfile.TemporaryDirectory() as folder:
        store = EdgeStore(Path(folder) / "qdrant", "textbook_content")
        report = run_ingest(options, store, embedder)
        store.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        chunker = make_chunker(options, embedder)
        chunks = [c for path in discover(args.source) for c in parse_and_chunk(path, options, chunker)[1]]
        tokens = sum(embedder.count_tokens(c.embedding_text) for c in chunks)
        ours = report.chunks_upserted / report.seconds
        print(
            f"ingest: {report.chunks_upserted} chunks, {tokens} tokens in {report.seconds:.1f} s = "
            f"{ours:.1f} chunks/s, {tokens / report.seconds:.0f} tokens/s"
        )

        texts = [c.embedding_text for c in chunks]
        sparse = SparseTextEmbedding(BM25_MODEL, specific_model_path=str(bm25_dir(settings.model_cache_dir)))
        started = time.perf_counter()
        list(embedder._dense.passage_embed(texts))  # the same fastembed model, its default batching
        list(sparse.passage_embed(texts))
        bare = len(texts) / (time.perf_counter() - started)
        print(f"bare fastembed on the same texts: {bare:.1f} chunks/s -> ingest runs at {ours / bare:.0%} of it")
        print(
            f"peak RSS of the ingest (models included): {peak:.0f} MB; after bare fastembed with its default "
            f"batch of 256: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )

        env = {**os.environ, "QDRANT_PATH": str(Path(folder) / "qdrant"), "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "ingest", "--source", str(args.source)]
        started = time.perf_counter()
        out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        print(
            f"no-op re-ingest (python -m ingest, model load included): {time.perf_counter() - started:.1f} s "
            f"[{out.stdout.strip().splitlines()[-1]}]"
        )


if __name__ == "__main__":
    main()
