"""`python -m ingest --source <docs dir>`: parse, chunk, embed and upsert a Docusaurus book.

Exit codes: 0 all documents ingested, 1 some documents failed (the others are
in), 2 configuration, model or connection error (nothing written).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import watchfiles

from ingest.chunking import Chunker
from ingest.handoff import HANDOFF_FILE, HandoffError, hand_to_app
from ingest.pipeline import DOC_SUFFIXES, IngestOptions, discover, make_chunker, parse_and_chunk, run_ingest, unreadable
from rag import logs
from rag.config import ConfigError, Settings, keep_files_private, load_settings
from rag.search.embeddings import Embedder, EmbeddingError
from rag.store import StoreError, StoreLocked, get_store

log = logging.getLogger("ingest")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Turn a Docusaurus book's markdown into the tutor's Qdrant collection. Reruns are incremental: "
        "unchanged documents are skipped, changed ones replaced, removed ones deleted.",
    )
    p.add_argument(
        "--source", type=Path, default=Path("book-source/docs"), help="the book's docs folder (default: %(default)s)"
    )
    p.add_argument(
        "--base-url",
        default=IngestOptions.base_url,
        help="the published site's docs URL, used for links to pages and anchors (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=IngestOptions.batch_size,
        help="chunks embedded and uploaded per batch (default: %(default)s)",
    )
    p.add_argument(
        "--chunk-size",
        type=int,
        default=IngestOptions.chunk_size,
        help="most tokens (of the embedding model's tokenizer) per chunk (default: %(default)s)",
    )
    p.add_argument(
        "--chunk-overlap",
        type=int,
        default=IngestOptions.chunk_overlap,
        help="tokens repeated from the previous chunk when a section is split (default: %(default)s)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files whose path relative to --source matches GLOB (repeatable), e.g. 'drafts/*'",
    )
    p.add_argument("--recreate", action="store_true", help="drop the collection and rebuild it from scratch")
    p.add_argument(
        "--dry-run", action="store_true", help="parse and chunk only: print counts and sample chunks, write nothing"
    )
    p.add_argument(
        "--watch",
        action="store_true",
        help="after ingesting, ingest again each time a page is saved, until Ctrl+C (for authors)",
    )
    p.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing when the collection already holds points (used by `make run` for the sample book)",
    )
    return p


def dry_run(opts: IngestOptions, chunker: Chunker) -> int:
    """What the real run would store, with the same guards (`unreadable`): a page it would skip fails here too."""
    files = discover(opts.source, opts.exclude)
    failed, chunks = 0, []
    root = opts.source.resolve()
    for path in files:
        try:
            if problem := unreadable(path, root):
                raise ValueError(problem)
            chunks += parse_and_chunk(path, opts, chunker)[1]
        except Exception as exc:  # report every unreadable file, keep going
            failed += 1
            print(f"FAILED {path.relative_to(opts.source)}: {exc}")
    sizes = [c.token_count for c in chunks] or [0]
    print(
        f"{len(files)} documents, {failed} failed, {len(chunks)} chunks; tokens per chunk: "
        f"min {min(sizes)}, mean {sum(sizes) / len(sizes):.0f}, max {max(sizes)}"
    )
    for chunk in chunks[:: max(1, len(chunks) // 3)][:3]:
        print(f"\n--- {chunk.breadcrumb}  ({chunk.url}, {chunk.token_count} tokens)\n{chunk.text[:400]}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure("%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not args.source.is_dir():
        print(
            f"error: --source {args.source} is not a folder. Pass the book's docs folder, e.g. "
            "--source samples/textbook/docs",
            file=sys.stderr,
        )
        return 2
    opts = IngestOptions(
        args.source,
        args.base_url,
        args.chunk_size,
        args.chunk_overlap,
        args.batch_size,
        tuple(args.exclude),
        args.recreate,
    )
    try:
        settings = load_settings()
        embedder = Embedder(settings.embedding_model, settings.model_cache_dir)
        chunker = make_chunker(opts, embedder)
    except (ConfigError, EmbeddingError, ValueError) as exc:
        return _error(exc)
    if args.dry_run:
        return dry_run(opts, chunker)
    if args.watch:
        return watch(opts, lambda: once(settings, opts, embedder, False))
    return once(settings, opts, embedder, args.if_empty)


def once(settings: Settings, opts: IngestOptions, embedder: Embedder, if_empty: bool) -> int:
    """One ingest: into the store the settings name, or, when the running app holds it, by the app."""
    try:
        store = get_store(settings)
    except StoreLocked as exc:  # the running app holds the embedded store: it ingests for us
        return handed_off(settings.data_dir, opts, exc) if not if_empty else _error(exc)
    except StoreError as exc:
        return _error(exc)
    try:
        store.verify_connection()
        if if_empty and store.count() > 0:
            print(f"{store.description} already holds {store.count()} chunks: nothing to do (--if-empty).")
            return 0
        report = run_ingest(opts, store, embedder)
    except StoreError as exc:
        return _error(exc)
    finally:
        store.close()
    return _reported(report.failed, report.summary())


def watch(opts: IngestOptions, ingest: Callable[[], int]) -> int:
    """Ingest, then again each time a page of the book is saved (watchfiles waits for a burst of saves to end),
    until interrupted: for an author who asks the tutor about what they just wrote. "Watching" is said once the
    watcher is in place (its first, empty, yield), so a save right after it is not missed."""
    ingest()
    watching = False
    try:
        changes_seen = watchfiles.watch(opts.source, watch_filter=_book_file, yield_on_timeout=True, rust_timeout=500)
        for changes in changes_seen:
            if not watching:
                print(f"Watching {opts.source} for changes (Ctrl+C stops).", file=sys.stderr, flush=True)
                watching = True
            if changes:
                print(f"{len(changes)} change(s): ingesting again.", file=sys.stderr, flush=True)
                ingest()
    except KeyboardInterrupt:
        pass
    return 0


def _book_file(change: watchfiles.Change, path: str) -> bool:
    """A page, a category's label, or a folder (one made with its pages in it is seen as the folder alone)."""
    return path.endswith((*DOC_SUFFIXES, "_category_.json")) or not Path(path).suffix


def handed_off(data_dir: Path, opts: IngestOptions, locked: StoreLocked) -> int:
    """The ingest done by the app that holds the store (`ingest.handoff`); the lock's message when no app
    announced itself (another ingest holds it)."""
    if (data_dir / HANDOFF_FILE).exists():
        print("The running app holds the embedded store: it ingests the book and keeps answering.", file=sys.stderr)
    try:
        result = hand_to_app(data_dir, opts)
    except HandoffError as exc:
        return _error(exc)
    return _error(locked) if result is None else _reported(*result)


def _reported(failed: list[tuple[str, str]], summary: str) -> int:
    for path, reason in failed:
        print(f"FAILED {path}: {reason}")
    print(summary)
    return 1 if failed else 0


def _error(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    keep_files_private()  # the command's, not a caller's who imports `main`
    sys.exit(main())
