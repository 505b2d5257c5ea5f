"""Incremental ingest on the real embedded Qdrant with the real embedding model."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.__main__ import main
from ingest.pipeline import IngestOptions, run_ingest
from rag.store import CollectionSpec, EdgeStore
from tests.conftest import REPO, SAMPLE_DOCS, requires_shared


@pytest.fixture
def book(tmp_path):
    """A writable copy of the sample book."""
    return shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")


def ingest(store, embedder, source, **opts):
    return run_ingest(IngestOptions(source, **opts), store, embedder)


@pytest.fixture
def store(tmp_path):
    s = EdgeStore(tmp_path / "qdrant", "book")
    yield s
    s.close()


def test_rerun_embeds_nothing(store, embedder, book):
    first = ingest(store, embedder, book)
    assert first.new == first.seen == 11 and not first.failed and first.chunks_upserted == store.count() > 0
    second = ingest(store, embedder, book)
    assert (second.new, second.changed, second.unchanged, second.chunks_upserted) == (0, 0, 11, 0)


def test_editing_one_file_reembeds_only_it(store, embedder, book):
    ingest(store, embedder, book)
    lesson = book / "01-ros2-basics" / "03-launch-files.md"
    before = store.count({"source_path": "01-ros2-basics/03-launch-files.md"})
    lesson.write_text(lesson.read_text().replace("## Remapping", "## Remapping topics\n\nNew words.\n\n## Renaming"))
    report = ingest(store, embedder, book)
    after = store.count({"source_path": "01-ros2-basics/03-launch-files.md"})
    assert (report.changed, report.unchanged) == (1, 10)
    assert report.chunks_upserted == after == before + 1
    texts = [
        p["breadcrumb"]
        for p in store.scroll(["breadcrumb", "source_path"])
        if p["source_path"] == "01-ros2-basics/03-launch-files.md"
    ]
    assert "Launch Files › Remapping topics" in texts and "Launch Files › Remapping" not in texts


def test_shrinking_a_file_leaves_no_stale_chunks(store, embedder, book):
    ingest(store, embedder, book)
    (book / "intro.md").write_text("---\ntitle: Welcome\n---\n\nShort now.\n")
    ingest(store, embedder, book)
    assert store.count({"source_path": "intro.md"}) == 1


def test_deleting_a_file_removes_its_points(store, embedder, book):
    ingest(store, embedder, book)
    total = store.count()
    gone = store.count({"source_path": "02-simulation/02-gazebo-simulation.md"})
    (book / "02-simulation" / "02-gazebo-simulation.md").unlink()
    report = ingest(store, embedder, book)
    assert report.deleted == 1 and store.count() == total - gone
    assert store.count({"source_path": "02-simulation/02-gazebo-simulation.md"}) == 0


def test_a_run_that_changes_the_book_writes_its_next_version(store, embedder, book):
    """The version every process follows: a run that changes nothing leaves it, one that does counts up, and its
    digest names the book held (the same pages, the same digest)."""
    ingest(store, embedder, book)
    first = store.book_version()
    ingest(store, embedder, book)
    assert first.startswith("1-") and store.book_version() == first
    page = book / "intro.md"
    text = page.read_text()
    page.unlink()
    ingest(store, embedder, book)
    second = store.book_version()
    page.write_text(text)
    ingest(store, embedder, book)
    third = store.book_version()
    assert second.startswith("2-") and second[2:] != first[2:] and third == "3-" + first[2:]


def test_exclude_and_recreate(store, embedder, book):
    ingest(store, embedder, book)
    full = store.count()
    report = ingest(store, embedder, book, exclude=("04-humanoid-control/*",))
    assert report.deleted == 3 and store.count() < full
    rebuilt = ingest(store, embedder, book, recreate=True)
    assert rebuilt.new == 11 and store.count() == full


def test_other_model_collection_is_refused(tmp_path, book, env, capsys):
    other = EdgeStore(tmp_path / "qdrant", "textbook_content")
    other.ensure_collection(CollectionSpec("some/other-model", 768))
    other.close()
    env(QDRANT_PATH=str(tmp_path / "qdrant"))
    assert main(["--source", str(book)]) == 2
    err = capsys.readouterr().err
    assert "some/other-model" in err and "EMBEDDING_MODEL" in err and "--recreate" in err


def test_bad_files_are_reported_and_the_rest_ingested(tmp_path, book, env, capsys):
    (book / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
    (book / "latin1.md").write_bytes(b"# Caf\xe9\n\nText")
    (book / "broken.md").write_text("---\ntitle: [oops\n---\n\nBody\n")
    env(QDRANT_PATH=str(tmp_path / "qdrant"))
    assert main(["--source", str(book)]) == 1
    out = capsys.readouterr().out
    assert "FAILED image.md: binary" in out and "FAILED latin1.md: not valid UTF-8" in out
    assert "FAILED broken.md: broken front matter" in out
    assert "14 seen, 11 new" in out and "3 failed" in out
    # A file that fails later keeps the points it had: bad input never loses data.
    (book / "intro.md").write_bytes(b"\xff\xfe broken now")
    store = EdgeStore(tmp_path / "qdrant", "textbook_content")
    before = store.count({"source_path": "intro.md"})
    store.close()
    assert main(["--source", str(book)]) == 1
    store = EdgeStore(tmp_path / "qdrant", "textbook_content")
    assert store.count({"source_path": "intro.md"}) == before > 0
    store.close()


def test_missing_source_and_bad_settings_exit_2(tmp_path, env, capsys):
    assert main(["--source", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    env(QDRANT_CLUSTER_ENDPOINT="https://example.cloud.qdrant.io")
    assert main(["--source", str(SAMPLE_DOCS)]) == 2
    assert "QDRANT_API_KEY" in capsys.readouterr().err


def test_dry_run_writes_nothing(tmp_path, env, capsys):
    env(QDRANT_PATH=str(tmp_path / "qdrant"))
    assert main(["--source", str(SAMPLE_DOCS), "--dry-run"]) == 0
    assert "11 documents, 0 failed" in capsys.readouterr().out
    assert not (tmp_path / "qdrant").exists()


def test_if_empty_skips_a_filled_collection(tmp_path, env, capsys, book):
    env(QDRANT_PATH=str(tmp_path / "qdrant"))
    assert main(["--source", str(book), "--if-empty"]) == 0
    assert "11 new" in capsys.readouterr().out
    assert main(["--source", str(book), "--if-empty"]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_killed_run_is_fixed_by_rerunning(tmp_path, book, embedder):
    clean = EdgeStore(tmp_path / "clean", "book")
    expected = ingest(clean, embedder, book).chunks_upserted
    clean.close()
    env = {**os.environ, "PYTHONPATH": str(REPO), "QDRANT_PATH": str(tmp_path / "killed")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest", "--source", str(book), "--batch-size", "4"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if "10/11 documents" in line:  # batches are in, the run is not finished
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    rerun = subprocess.run(
        [sys.executable, "-m", "ingest", "--source", str(book), "--batch-size", "4"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr
    store = EdgeStore(tmp_path / "killed", "textbook_content")
    assert store.count() == expected
    store.close()


# The pages of each real corpus that are embedded and stored end to end (every page is parsed and chunked): the
# ones the test reads back, and their folders' sidebar labels. Embedding a whole corpus took 440 s of CPU.
REAL_PAGES = {
    "physical-ai-textbook": [
        "module-1-ros2/week-3-lesson-1-ros2-architecture.md",
        "module-1-ros2/week-5-lesson-1-launch-files.md",
        "module-1-ros2/troubleshooting-faq.md",
    ],
    "gazebo-docs": ["harmonic/install.md", "harmonic/ros2_integration.md", "harmonic/sensors.md"],
}


def some_pages(source: Path, pages: list[str], folder: Path) -> Path:
    """A copy of `pages` of the book at `source` (with their folders' `_category_.json`), under `folder`."""
    for page in pages:
        for path in [source / page, *(source / page).parent.glob("_category_.json")]:
            copy = folder / path.relative_to(source)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(path.read_bytes())
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["physical-ai-textbook", "gazebo-docs"])
def test_real_corpora_ingest_end_to_end(tmp_path, env, capsys, corpus):
    source = requires_shared("corpus", corpus)
    source = source / "docs" if (source / "docs").is_dir() else source
    env(QDRANT_PATH=str(tmp_path / "qdrant"))
    assert main(["--source", str(source), "--dry-run"]) == 0  # every page parses and chunks
    assert ", 0 failed, " in capsys.readouterr().out
    pages = some_pages(source, REAL_PAGES[corpus], tmp_path / "docs")
    args = ["--source", str(pages), "--base-url", "https://book.example/docs"]
    assert main(args) == 0
    assert "0 failed" in capsys.readouterr().out
    assert main(args) == 0
    assert " 0 new, 0 changed" in capsys.readouterr().out
    store = EdgeStore(tmp_path / "qdrant", "textbook_content")
    rows = list(store.scroll(["title", "breadcrumb", "url", "source_path", "text"]))
    store.close()
    assert all(r["title"] and r["breadcrumb"].startswith(r["title"]) and r["text"].strip() for r in rows)
    if corpus == "physical-ai-textbook":
        lesson = [r for r in rows if r["source_path"] == "module-1-ros2/week-3-lesson-1-ros2-architecture.md"]
        assert {r["title"] for r in lesson} == {"ROS 2 Architecture"}
        assert any(
            r["url"] == "https://book.example/docs/module-1-ros2/week-3-lesson-1-ros2-architecture#21-what-is-ros-2"
            and r["breadcrumb"].endswith("› 2.1 What is ROS 2?")
            for r in lesson
        )
        crlf = [r for r in rows if r["source_path"] == "module-1-ros2/week-5-lesson-1-launch-files.md"]
        assert crlf and not any("\r" in r["text"] for r in crlf)
    else:
        install = [r for r in rows if r["source_path"] == "harmonic/install.md"]
        assert {r["title"] for r in install} == {"Gazebo Harmonic"}
        assert any(r["url"].endswith("/harmonic/install#binary-installation-instructions") for r in install)


def test_status_lines_also_count_unchanged_documents(tmp_path, book):
    env = {**os.environ, "PYTHONPATH": str(REPO), "QDRANT_PATH": str(tmp_path / "qdrant")}
    command = [sys.executable, "-m", "ingest", "--source", str(book)]
    subprocess.run(command, env=env, check=True, capture_output=True)
    rerun = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    assert "10/11 documents, 0 chunks upserted" in rerun.stderr
