"""Docs folder -> Qdrant: incremental, idempotent, safe to interrupt.

Every chunk's payload records its document's hash (file text + chunking
settings) and chunk count. A document whose stored points all carry the current
hash, as many as it has chunks, is unchanged and costs no embedding. Otherwise
its chunks are upserted under deterministic ids and only then are its stale
points (older hashes) deleted, so an interrupted run leaves old or new chunks,
never none, and the next run finishes the job.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ingest.chunking import Chunk, Chunker
from ingest.docusaurus import Document, ParseError, parse_document
from rag.search.embeddings import Embedder
from rag.store import CollectionSpec, Store, StoredPoint
from rag.store.payload import ChunkPayload, pack_vectors
from rag.text.candidates import embedding_texts

Progress = Callable[[int, int], None]  # pages done, pages in all
log = logging.getLogger("ingest")

# Bump when parsing or chunking changes in a way that should re-embed every document.
# 5: excerpt vectors in the payload; 6: admonition titles apart, fewer excerpts; 7: code up to 40 lines;
# 9: a passage's id follows its content (`ingest.chunking.point_id`)
PIPELINE_VERSION = "9"
DOC_SUFFIXES = (".md", ".mdx")


@dataclass(frozen=True)
class IngestOptions:
    source: Path
    base_url: str = "/docs"
    # Measured on the dev questions (docs/quality.md): 400/80 finds more answer passages than 200/40 or 300/60.
    chunk_size: int = 400
    chunk_overlap: int = 80
    batch_size: int = 64
    exclude: tuple[str, ...] = ()
    recreate: bool = False


@dataclass
class IngestReport:
    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    empty: int = 0
    deleted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_upserted: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.chunks_upserted / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"documents: {self.seen} seen, {self.new} new, {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.empty} empty, {self.deleted} deleted, {len(self.failed)} failed | "
            f"chunks upserted: {self.chunks_upserted} | "
            f"{self.seconds:.1f} s, {self.rate:.1f} chunks/s"
        )


OUTSIDE_SOURCE = (
    "a symbolic link to a file outside --source: skipped. Copy the file into the docs folder if it belongs to the book"
)


MAX_PAGE_BYTES = 2_000_000  # a textbook page is rarely over 100 kB; a 50 MB one would be 135,000 chunks


def unreadable(path: Path, root: Path) -> str | None:
    """Why a page is not read at all: a symlink out of the docs (/etc/passwd must not become "the book"), or
    a page too large to be a page."""
    if not path.resolve().is_relative_to(root):
        return OUTSIDE_SOURCE
    size = path.stat().st_size
    if size > MAX_PAGE_BYTES:
        return (
            f"{size / 1e6:.1f} MB, over the {MAX_PAGE_BYTES / 1e6:.0f} MB a page may be: skipped. Split it into pages"
        )
    return None


def discover(source: Path, exclude: tuple[str, ...] = ()) -> list[Path]:
    """Markdown pages as Docusaurus finds them: `_`-prefixed files and folders are partials, not pages; installed
    packages (`node_modules`) and hidden folders (`.docusaurus`, `.git`) are not the book."""
    found = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if path.suffix.lower() not in DOC_SUFFIXES or not path.is_file():
            continue
        parts = path.relative_to(source).parts
        if any(part.startswith(("_", ".")) or part == "node_modules" for part in parts):
            continue
        if any(fnmatch.fnmatch(rel, pattern) for pattern in exclude):
            continue
        found.append(path)
    return found


def parse_and_chunk(path: Path, opts: IngestOptions, chunker: Chunker) -> tuple[Document, list[Chunk]]:
    doc = parse_document(path, opts.source, opts.base_url)
    return doc, chunker.chunk_document(doc)


def document_hash(path: Path, opts: IngestOptions, model: str) -> str:
    settings = f"{PIPELINE_VERSION}|{model}|{opts.base_url}|{opts.chunk_size}|{opts.chunk_overlap}"
    return hashlib.sha256(settings.encode() + b"\0" + path.read_bytes()).hexdigest()


@dataclass
class _Stored:
    """What the collection holds for one document."""

    hashes: set[str] = field(default_factory=set)
    points: int = 0
    chunk_count: int = -1


def _stored_documents(store: Store) -> dict[str, _Stored]:
    stored: dict[str, _Stored] = defaultdict(_Stored)
    for row in store.scroll(["source_path", "doc_hash", "chunk_count"]):
        entry = stored[row["source_path"]]
        entry.hashes.add(row["doc_hash"])
        entry.points += 1
        entry.chunk_count = int(row.get("chunk_count", -1))
    return stored


class _Uploader:
    """Embeds and upserts chunks in batches across documents; finishes a document once all its chunks are in."""

    def __init__(self, store: Store, embedder: Embedder, batch_size: int, report: IngestReport):
        self.store, self.embedder, self.batch_size, self.report = store, embedder, batch_size, report
        self.pending: list[tuple[Chunk, ChunkPayload]] = []
        self.remaining: dict[str, int] = {}
        self.stale: dict[str, list[str]] = {}

    def add(self, chunks: list[Chunk], doc_hash: str, stale_hashes: list[str], path: str) -> None:
        self.stale[path] = stale_hashes
        self.remaining[path] = len(chunks)
        if not chunks:
            self._finish(path)
        for chunk in chunks:
            self.pending.append((chunk, chunk.payload(doc_hash, len(chunks))))
            if len(self.pending) >= self.batch_size:
                self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        embeddings = self.embedder.embed_passages([c.embedding_text for c, _ in batch])
        self._add_excerpt_vectors(batch)
        self.store.upsert([StoredPoint(c.id, e, p) for (c, p), e in zip(batch, embeddings, strict=True)])
        self.report.chunks_upserted += len(batch)
        for chunk, _ in batch:
            self.remaining[chunk.source_path] -= 1
            if self.remaining[chunk.source_path] == 0:
                self._finish(chunk.source_path)

    def _add_excerpt_vectors(self, batch: list[tuple[Chunk, ChunkPayload]]) -> None:
        """The vectors the book-excerpts answer compares a question with, embedded once here for all questions."""
        texts = [embedding_texts(chunk.text, chunk.breadcrumb) for chunk, _ in batch]
        vectors = self.embedder.embed_texts([t for group in texts for t in group]) if any(texts) else None
        start = 0
        for (_, payload), group in zip(batch, texts, strict=True):
            rows = vectors[start : start + len(group)] if vectors is not None else np.zeros((0, self.embedder.dim))
            payload["excerpt_vectors"] = pack_vectors(rows)
            start += len(group)

    def _finish(self, path: str) -> None:
        if self.stale.get(path):
            self.store.delete({"source_path": path, "doc_hash": self.stale[path]})


def next_version(previous: str, pages: dict[str, str]) -> str:
    """ "<n>-<hash>": one more than the last ingest's count, and a digest of every page's hash, so two stores
    holding the same book can be told to hold the same book."""
    count = int(previous.split("-", 1)[0]) if previous.split("-", 1)[0].isdigit() else 0
    digest = hashlib.sha256(json.dumps(sorted(pages.items())).encode()).hexdigest()[:16]
    return f"{count + 1}-{digest}"


class PagesShown:
    """The pages done as `python -m ingest` shows them: a bar on a terminal, a log line every ten pages elsewhere
    (`detail` ends it). Its own ingest's, and those of an ingest it handed to the running app."""

    def __init__(self, detail: Callable[[], str] = str):
        self.interactive = sys.stderr.isatty()
        self.bar = tqdm(desc="ingest", unit="doc", disable=not self.interactive)
        self.detail = detail

    def __call__(self, done: int, total: int) -> None:
        self.bar.total = total
        self.bar.update(done - self.bar.n)
        if not self.interactive and done % 10 == 0:
            log.info("%d/%d documents%s", done, total, self.detail())

    def __enter__(self) -> PagesShown:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


def _counted(files: list[Path], progress: Progress) -> Iterator[Path]:
    """The files, each told to `progress` as done once the loop moves past it (skipped ones too)."""
    for done, path in enumerate(files, start=1):
        yield path
        progress(done, len(files))


def make_chunker(opts: IngestOptions, embedder: Embedder) -> Chunker:
    return Chunker(embedder.count_tokens, opts.chunk_size, opts.chunk_overlap)


def run_ingest(opts: IngestOptions, store: Store, embedder: Embedder, progress: Progress | None = None) -> IngestReport:
    """Ingest the book into `store`: new and changed pages embedded, removed ones deleted, the book's version
    moved on. The pages done are shown as a bar on a terminal, logged every ten pages elsewhere, and told to
    `progress` (an ingest handed to the app shows them to the command that asked)."""
    started = time.monotonic()
    chunker = make_chunker(opts, embedder)
    report = IngestReport()
    store.ensure_collection(CollectionSpec(embedder.model_name, embedder.dim), recreate=opts.recreate)
    stored = _stored_documents(store)
    files = discover(opts.source, opts.exclude)
    uploader = _Uploader(store, embedder, opts.batch_size, report)
    root = opts.source.resolve()
    book: dict[str, str] = {}  # each page's hash as the store holds it after this run (failed pages aside)

    def upserted() -> str:
        return f", {report.chunks_upserted} chunks upserted"

    with PagesShown(upserted) if progress is None else nullcontext(progress) as shown:
        for path in _counted(files, shown):
            rel = path.relative_to(opts.source).as_posix()
            report.seen += 1
            if problem := unreadable(path, root):
                report.failed.append((rel, problem))
                log.warning("skipped %s: %s", rel, problem)
                continue
            before = stored.get(rel)
            try:
                doc_hash = document_hash(path, opts, embedder.model_name)
                # Stored complete under the same hash: the chunks would come out the same, so skip parsing too.
                complete = before is not None and before.hashes == {doc_hash} and before.points == before.chunk_count
                chunks = None if complete else parse_and_chunk(path, opts, chunker)[1]
            except (ParseError, OSError) as exc:
                report.failed.append((rel, str(exc)))
                log.warning("skipped %s: %s", rel, exc)
            except Exception as exc:  # a bug met by one page must not cost the other pages
                report.failed.append((rel, f"unexpected error ({type(exc).__name__}: {exc}); please report it"))
                log.exception("skipped %s", rel)
            else:
                book[rel] = doc_hash
                if chunks is None:
                    report.unchanged += 1  # stored complete under the same hash
                elif before is None and not chunks:
                    report.empty += 1  # a page with no text: nothing to store
                else:
                    if before is None:
                        report.new += 1
                    else:
                        report.changed += 1
                    uploader.add(chunks, doc_hash, sorted((before.hashes if before else set()) - {doc_hash}), rel)
    uploader.flush()
    seen = {path.relative_to(opts.source).as_posix() for path in files}
    removed = sorted(set(stored) - seen)
    if removed:
        store.delete({"source_path": removed})
        report.deleted = len(removed)
    if report.chunks_upserted or report.deleted:
        store.optimize()
        store.set_book_version(next_version(store.book_version(), book))
    report.seconds = time.monotonic() - started
    return report
