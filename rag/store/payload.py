"""The payload stored with every chunk: written by ingest, read back by retrieval and the instructor view.

One set of key names, checked by mypy on both sides and used by `Passage`, the history and the report alike:
`chapter` is the page's sidebar category, `source_path` the page's path under the docs folder, `url` its link.
"""

from __future__ import annotations

from typing import TypedDict


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
