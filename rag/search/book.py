"""The book as the store holds it, read in one scroll per process: which passages a page or a chapter holds, in
the book's order, which page a path, a URL or a document id names, and the term statistics that weigh a word by
its rarity in the book (the search, the excerpt answers, hints and the language check share them)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

from rag.search.passage import BOOK_FIELDS, Passage
from rag.store import Store
from rag.store.payload import ChunkPayload
from rag.text.lexical import TermStats

log = logging.getLogger(__name__)

FIELDS = [*BOOK_FIELDS, "position"]
# How often a process asks the store whether the book changed: one file read (embedded) or one request (a Qdrant
# server) per interval, whatever the traffic (docs/ingest.md measures it).
FOLLOW_SECONDS = 2.0


@dataclass(frozen=True)
class Book:
    pages: dict[str, list[Passage]]  # by the page's path in the docs, its passages in order
    chapters: dict[str, list[str]]  # by the chapter's label, its pages' paths in order
    stats: TermStats  # of every passage's heading path and text

    def chapter_of(self, page: str) -> list[Passage]:
        """Every passage of the page's chapter (its page alone when it has none)."""
        passages = self.pages.get(page, [])
        label = passages[0].chapter if passages else ""
        return [p for path in self.chapters.get(label, [page]) for p in self.pages.get(path, [])]

    def page(self, named: str) -> str | None:
        """The page a path ("01-ros2-basics/01-nodes-and-topics.md", with or without its extension), a URL
        (absolute or not, any anchor) or a document id names; None for none."""
        wanted = _bare(named)
        for path, passages in self.pages.items():
            first = passages[0]
            names = {_bare(path), _bare(path.rsplit(".", 1)[0]), _bare(first.doc_id), _bare(first.url.split("#")[0])}
            if wanted in names:
                return path
        return None


def _bare(name: str) -> str:
    """A path or URL without scheme, host, query, anchor and surrounding slashes."""
    parts = urlsplit(unquote(name.strip()))
    return parts.path.strip("/").lower()


class BookIndex:
    """The store's book as one `Book`, thread-safe: the one snapshot of a process, so the pages and the statistics
    a question sees always belong together. Read on first use (a scroll over every chunk), and again when the
    book's version, which ingest writes (`Store.book_version`), has changed: asked at most every
    `follow_seconds`, so every process follows a re-ingest within seconds, with no restart."""

    def __init__(
        self, store: Store, follow_seconds: float = FOLLOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ):
        self.store, self.follow_seconds, self.clock = store, follow_seconds, clock
        self._lock = threading.Lock()
        self._book: Book | None = None
        self._version = ""
        self._checked = -math.inf

    @property
    def book(self) -> Book:
        with self._lock:
            now = self.clock()
            if self._book is None or now - self._checked >= self.follow_seconds:
                self._checked = now
                version = self.store.book_version()
                if self._book is None or version != self._version:
                    self._book, self._version = _read(self.store), version
            return self._book


def _read(store: Store) -> Book:
    started = time.perf_counter()
    pages: dict[str, list[tuple[int, Passage]]] = defaultdict(list)
    with store.exclusive():  # every page of one book
        for found in store.scroll(FIELDS):
            payload = cast(ChunkPayload, found)
            passage = Passage.from_hit(str(found["id"]), payload, 0.0, 0.0)
            pages[passage.source_path].append((int(payload.get("position", 0)), passage))
    stats = TermStats.build(f"{p.breadcrumb}\n{p.text}" for found in pages.values() for _, p in found)
    ordered = {path: [p for _, p in sorted(found, key=lambda pair: pair[0])] for path, found in sorted(pages.items())}
    chapters: dict[str, list[str]] = defaultdict(list)
    for path, passages in ordered.items():
        chapters[passages[0].chapter].append(path)
    log.info(
        "book.read pages=%d chunks=%d terms=%d ms=%.0f",
        len(ordered),
        stats.documents,
        len(stats.frequency),
        (time.perf_counter() - started) * 1000,
    )
    return Book(ordered, dict(chapters), stats)
