"""Latency of `Retriever.search` (query embedding + hybrid RRF query) on the embedded store.

Builds collections of 1k, 10k and 50k points from SciFact abstracts (`../shared/eval/scifact`), runs the
SciFact queries through the project's search, and prints p50/p95/p99 and the share spent embedding.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import SCIFACT, build_collection, percentiles
from evaluation.data import load_beir
from rag.search.embeddings import Embedder
from rag.search.retrieval import Retriever


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000], help="collection sizes")
    parser.add_argument("--unique", type=int, default=2000, help="distinct abstracts embedded (the rest are copies)")
    parser.add_argument("--queries", type=int, default=300, help="SciFact queries per size")
    parser.add_argument("--beir-dir", type=Path, default=SCIFACT)
    args = parser.parse_args()
    embedder = Embedder()
    _, queries, _ = load_beir(args.beir_dir)
    texts = list(queries.values())[: args.queries]
    print(f"machine: {_machine()}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            store = build_collection(Path(folder), embedder, size, args.unique)
            retriever = Retriever(store, embedder, top_k=5, threshold=0.3)
            retriever.search(texts[0])  # warm-up
            total, embed = [], []
            for text in texts:
                started = time.perf_counter()
                embedder.embed_query(text)
                embedded = time.perf_counter()
                retriever.search(text)
                done = time.perf_counter()
                embed.append((embedded - started) * 1000)
                total.append((done - embedded) * 1000)
            store.close()
        share = sum(embed) / sum(total)
        print(
            f"{size:>6} chunks: search {percentiles(total)} ms | embedding share {share:.0%} "
            f"(query embedding {percentiles(embed)} ms)"
        )


def _machine() -> str:
    import os
    import platform

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


if __name__ == "__main__":
    main()
