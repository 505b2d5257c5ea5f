"""The corpora a question file names (`--corpus NAME=FOLDER`), each ingested into a temporary embedded
collection the way `python -m ingest` does."""

from __future__ import annotations

import sys
from pathlib import Path

from ingest.pipeline import IngestOptions, run_ingest
from rag.search.embeddings import Embedder
from rag.store import EdgeStore


def ingested(
    specs: list[str],
    embedder: Embedder,
    workdir: Path,
    chunk_size: int = IngestOptions.chunk_size,
    chunk_overlap: int = IngestOptions.chunk_overlap,
) -> dict[str, EdgeStore]:
    """`NAME=FOLDER` specs as open stores by name (the caller closes them), chunked as ingest does by default."""
    stores = {}
    for spec in specs:
        name, folder = spec.split("=", 1)
        stores[name] = EdgeStore(workdir / f"corpus-{name}", "book")
        options = IngestOptions(Path(folder), chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        report = run_ingest(options, stores[name], embedder)
        print(f"corpus {name}: {report.summary()}", file=sys.stderr)
    return stores
