"""Ingest given a broken, hostile or oversized book: each fault found by probing gets a clear message and
loses nothing (a page fails alone, a full disk stops cleanly and a rerun repairs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from ingest.__main__ import main as ingest_main
from ingest.chunking import Chunker
from ingest.docusaurus import ParseError, parse_document
from ingest.pipeline import IngestOptions, run_ingest
from rag.store import CollectionSpec, EdgeStore, StoreFull
from tests.conftest import REPO, SAMPLE_DOCS


@pytest.fixture
def book(tmp_path):
    return shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")


def test_unterminated_front_matter_fails_its_page_only(book, tmp_path, env, capsys):
    (book / "bad.md").write_text("---\ntitle: Unterminated\n\n# Heading\n\nText.\n")
    env(QDRANT_PATH=str(tmp_path / "qdrant"))
    assert ingest_main(["--source", str(book)]) == 1
    out = capsys.readouterr().out
    assert "FAILED bad.md: front matter opened on line 1 is never closed" in out and "11 new" in out
    store = EdgeStore(tmp_path / "qdrant", "textbook_content")
    assert store.count() > 40  # every other page's chunks, the last batch included
    store.close()


def test_a_bug_on_one_page_does_not_abort_the_run(book, tmp_path, embedder, monkeypatch):
    import ingest.pipeline as pipeline

    real = pipeline.parse_and_chunk

    def flaky(path, opts, chunker):
        if path.name == "intro.md":
            raise KeyError("surprise")
        return real(path, opts, chunker)

    monkeypatch.setattr(pipeline, "parse_and_chunk", flaky)
    store = EdgeStore(tmp_path / "q", "book")
    report = run_ingest(IngestOptions(book), store, embedder)
    assert [path for path, _ in report.failed] == ["intro.md"] and "KeyError" in report.failed[0][1]
    assert report.new == 10 and store.count() == report.chunks_upserted > 0
    store.close()


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (needs root, as in CI); skipped where mounting is not allowed."""
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}): needs root")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_stops_ingest_cleanly_and_a_rerun_repairs(small_disk, tmp_path):
    env = {**os.environ, "QDRANT_PATH": str(small_disk / "q"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "ingest", "--source", str(SAMPLE_DOCS)]
    full = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert full.returncode == 2, full.stderr
    assert "Not enough disk space" in full.stderr and "QDRANT_PATH" in full.stderr and "Traceback" not in full.stderr
    subprocess.run(["mount", "-o", "remount,size=200m", str(small_disk)], check=True)
    again = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "11 new" in again.stdout, again.stderr


def test_space_is_checked_before_every_write(tmp_path, embedder, monkeypatch):
    import rag.store.edge as edge

    store = EdgeStore(tmp_path / "q", "book")
    store.ensure_collection(CollectionSpec(embedder.model_name, embedder.dim))
    # as if the disk were full: more than the whole disk, so no other process freeing space meanwhile can pass it
    monkeypatch.setattr(edge, "WAL_BYTES", shutil.disk_usage(tmp_path).total + 1)
    with pytest.raises(StoreFull, match="Not enough disk space"):
        run_ingest(IngestOptions(SAMPLE_DOCS), store, embedder)
    store.close()


def test_a_collection_cut_short_before_its_spec_is_repaired(tmp_path, embedder):
    store = EdgeStore(tmp_path / "q", "book")
    store.ensure_collection(CollectionSpec(embedder.model_name, embedder.dim))
    store.close()
    (tmp_path / "q" / "book" / "tutor-collection.json").unlink()  # as a crash between the two left it
    store = EdgeStore(tmp_path / "q", "book")
    report = run_ingest(IngestOptions(SAMPLE_DOCS), store, embedder)
    assert report.new == 11 and store.collection_spec() == CollectionSpec(embedder.model_name, embedder.dim)
    store.close()


def test_slug_cannot_inject_a_link(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "q.md").write_text(
        "---\nslug: \"/quantum) [PWN-SLUG](javascript:alert('xss-slug')\"\n---\n\n# Q\n\nText.\n"
    )
    (docs / "ü ber.md").write_text("# Über\n\n## Größe {#größe}\n\nText.\n")
    doc = parse_document(docs / "q.md", docs, "https://b/docs")
    assert doc.url == "https://b/docs/quantum%29%20%5BPWN-SLUG%5D%28javascript%3Aalert%28%27xss-slug%27%29"
    assert parse_document(docs / "ü ber.md", docs, "https://b/docs").url == "https://b/docs/%C3%BC%20ber"


def test_mdx_expressions_go_and_empty_pages_count_as_empty(tmp_path, embedder):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "calc.mdx").write_text("# Calc\n\nThe answer is {1 + 2} apples and `{kept}` in code.\n")
    (docs / "empty.md").write_text("---\ntitle: Empty\n---\n")
    doc = parse_document(docs / "calc.mdx", docs, "/docs")
    assert doc.sections[0].text == "The answer is  apples and `{kept}` in code."
    report = run_ingest(IngestOptions(docs), EdgeStore(tmp_path / "q", "b"), embedder)
    assert (report.new, report.empty, report.unchanged) == (1, 1, 0) and "1 empty" in report.summary()


def test_parse_errors_stay_parse_errors(tmp_path):
    (tmp_path / "x.md").write_text("---\n")
    with pytest.raises(ParseError, match="never closed"):
        parse_document(tmp_path / "x.md", tmp_path, "/docs")


def test_ingest_does_not_follow_a_symlink_out_of_the_docs(book, tmp_path, embedder):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:SECRET-ROOT-LINE:/root:/bin/bash\n")
    (book / "passwd.md").symlink_to(secret)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "page.md").write_text("# Outside\n\nSECRET-FOLDER-LINE of another folder.\n")
    (book / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    store = EdgeStore(tmp_path / "q", "book")
    report = run_ingest(IngestOptions(book), store, embedder)
    texts = " ".join(p.get("text", "") for p in store.scroll(["text"]))
    store.close()
    assert "SECRET-ROOT-LINE" not in texts and "SECRET-FOLDER-LINE" not in texts
    assert {"passwd.md"} <= {path for path, _ in report.failed} and "outside --source" in report.failed[0][1]
    assert report.new == 11


def test_a_dry_run_applies_every_guard_of_the_real_run(book, tmp_path, env, capsys):
    """A symlink out of the docs, a page over the size limit: the dry run fails them as the real run does, and
    prints none of their text."""
    from ingest.pipeline import MAX_PAGE_BYTES

    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:SECRET-ROOT-LINE:/root:/bin/bash\n")
    (book / "passwd.md").symlink_to(secret)
    (book / "huge.md").write_text("# Huge\n\n" + "word " * (MAX_PAGE_BYTES // 5 + 10))
    env(QDRANT_PATH=str(tmp_path / "qdrant"))
    assert ingest_main(["--source", str(book), "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "FAILED passwd.md:" in out and "outside --source" in out and "FAILED huge.md:" in out
    assert "2 failed" in out and "SECRET-ROOT-LINE" not in out


def test_a_page_too_large_to_be_a_page_is_skipped_with_the_reason(book, tmp_path, embedder):
    (book / "dump.md").write_text("# Dump\n\n" + "log line of a robot\n" * 150_000)  # 3 MB
    store = EdgeStore(tmp_path / "q", "book")
    report = run_ingest(IngestOptions(book), store, embedder)
    store.close()
    [(path, reason)] = report.failed
    assert path == "dump.md" and "over the 2 MB a page may be" in reason and "Split it" in reason
    assert report.new == 11


def test_packing_a_long_paragraph_counts_each_word_once():
    calls: list[str] = []

    def count(text: str) -> int:
        calls.append(text)
        return len(text.split())

    words = [f"word{n}" for n in range(5000)]
    chunks = Chunker(count, 100, 10)._split(" ".join(words))
    assert len(calls) == len(words) + 3  # the section, its block, its line, each word once: no window again
    assert all(len(chunk.split()) <= 100 for chunk in chunks)
    assert {w for chunk in chunks for w in chunk.split()} == set(words)
