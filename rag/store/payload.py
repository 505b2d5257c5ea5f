"""The payload stored with every chunk: written by ingest, read back by retrieval and the instructor view.

One set of key names, checked by mypy on both sides and used by `Passage`, the history and the report alike:
`chapter` is the page's sidebar category, `source_path` the page's path under the docs folder, `url` its link.
"""

from __future__ import annotations

import base64
from typing import NotRequired, TypedDict

import numpy as np


class PackedVectors(TypedDict):
    """Unit vectors as one base64 string of little-endian float32 rows: compact in a JSON payload, and exact."""

    dim: int
    data: str


class ChunkPayload(TypedDict):
    text: str  # the passage as shown to students
    title: str  # the page's title
    breadcrumb: str  # Title › Section › Subsection
    section: str
    anchor: str
    url: str
    source_path: str
    doc_id: str
    chapter: str
    position: int  # the chunk's place in its page
    token_count: int
    content_hash: str
    doc_hash: str  # the page's text and chunking settings: unchanged pages are skipped
    chunk_count: int  # the page's chunks: a page is whole once that many carry its doc_hash
    # One vector per book-excerpt candidate of the text, in `rag.answer.excerpts.embedding_texts` order: the
    # book's sentences are embedded once here, not for every question.
    excerpt_vectors: NotRequired[PackedVectors]


def pack_vectors(rows: np.ndarray) -> PackedVectors:
    """`rows`: a (count, dim) array, count 0 included."""
    matrix = np.asarray(rows, dtype="<f4")
    return {"dim": int(matrix.shape[1]), "data": base64.b64encode(matrix.tobytes()).decode()}


def unpack_vectors(packed: PackedVectors) -> np.ndarray:
    return np.frombuffer(base64.b64decode(packed["data"]), dtype="<f4").reshape(-1, packed["dim"])
