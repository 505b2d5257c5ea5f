"""The book one process reads: one snapshot of pages and term statistics, which follows a re-ingest by the version
ingest writes, within `follow_seconds`, with no restart."""

from __future__ import annotations

import shutil

from ingest.pipeline import IngestOptions, run_ingest
from rag.search.book import BookIndex
from rag.store import EdgeStore
from tests.conftest import SAMPLE_DOCS

LAB = "05-labs/01-first-lab.md"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_re_ingest_reaches_the_book_within_the_follow_interval(tmp_path, embedder):
    docs = shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")
    store = EdgeStore(tmp_path / "qdrant", "book")
    run_ingest(IngestOptions(docs), store, embedder)
    clock = Clock()
    index = BookIndex(store, follow_seconds=2.0, clock=clock)
    before = index.book
    assert LAB not in before.pages and "trampoline" not in before.stats.vocabulary

    (docs / "05-labs").mkdir()
    (docs / LAB).write_text("# First lab\n\n## Walking\n\nMake the robot jump on a trampoline.\n")
    run_ingest(IngestOptions(docs), store, embedder)
    clock.now = 1.0
    assert index.book is before  # asked again only once the interval has passed
    clock.now = 2.0
    after = index.book
    assert LAB in after.pages and after.page("05-labs/01-first-lab") == LAB
    assert after.stats.documents == before.stats.documents + 1 and "trampoline" in after.stats.vocabulary
    clock.now = 4.0
    assert index.book is after  # the same version: no second read
    store.close()
