"""How fast an edit to the book reaches the running tutor, and what following the book's version costs a question.

- a plain re-ingest handed to the running app (embedded store): from running `python -m ingest` to the first
  answer that cites the page it added;
- `python -m ingest --watch`: from saving a new page to the first answer that cites it;
- the version check: `BookIndex.book` as every question reads it, with the check due (`follow_seconds=0`, the
  store asked each time) and between checks (the default, asked every 2 s), on the embedded store and over HTTP
  to the Qdrant stand-in server.

Run: `python -m bench.book_changes`.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.app import SAMPLE_DOCS, App, answer_citing, ingest_sample, wait_until
from harness.qdrant_server import QdrantServer
from ingest.pipeline import IngestOptions, run_ingest
from rag.search.book import BookIndex
from rag.search.embeddings import Embedder
from rag.store import EdgeStore, Store
from rag.store.cloud import CloudStore

REPO = Path(__file__).resolve().parent.parent
PAGES = {
    "trampoline": "# Trampoline lab\n\n## The trampoline\n\nThe lab trampoline has a spring constant of 950 N/m.\n",
    "treadmill": "# Treadmill lab\n\n## The treadmill\n\nThe lab treadmill runs its belt at up to 3 m/s.\n",
}
QUESTIONS = {
    "trampoline": "What is the spring constant of the lab trampoline?",
    "treadmill": "How fast can the lab treadmill run its belt?",
}


def until_cited(app: App, path: str, question: str, wait: float = 120) -> float:
    """When (monotonic) an answer first cites `path`."""
    wait_until(lambda: answer_citing(app.url, question, path), wait, f"an answer citing {path}")
    return time.monotonic()


def add_page(docs: Path, name: str) -> tuple[str, str]:
    (docs / "labs").mkdir(exist_ok=True)
    (docs / "labs" / f"{name}.md").write_text(PAGES[name])
    return f"labs/{name}.md", QUESTIONS[name]


def edits(folder: Path) -> None:
    docs = shutil.copytree(SAMPLE_DOCS, folder / "docs")
    ingest_sample(folder / "qdrant", docs)
    app = App(folder)
    try:
        path, question = add_page(docs, "trampoline")
        started = time.monotonic()
        command = [sys.executable, "-m", "ingest", "--source", str(docs), "--base-url", "https://book.example/docs"]
        subprocess.run(command, cwd=REPO, env=app.env, check=True, capture_output=True)
        done = time.monotonic()
        print(
            f"re-ingest handed to the app: command {done - started:.1f} s, first cited answer after "
            f"{until_cited(app, path, question) - started:.1f} s"
        )
        said = folder / "watch.log"  # a file, not a pipe nobody reads once it is watching
        with said.open("w") as out:
            watching = subprocess.Popen([*command, "--watch"], cwd=REPO, env=app.env, stdout=out, stderr=out)
        wait_until(lambda: "Watching" in said.read_text() or None, 120, "ingest --watch watching")
        path, question = add_page(docs, "treadmill")
        saved = time.monotonic()
        print(f"--watch: saved page to first cited answer {until_cited(app, path, question) - saved:.1f} s")
        watching.terminate()
        watching.wait(timeout=30)
    finally:
        app.stop()


def per_question(store: Store, label: str, runs: int = 200) -> None:
    for follow in (0.0, 2.0):
        index = BookIndex(store, follow_seconds=follow)
        index.book  # noqa: B018 - the first read of the book
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            index.book  # noqa: B018 - what each question reads
            times.append((time.perf_counter() - started) * 1e6)
        print(
            f"{label}, version asked {'every time' if follow == 0 else 'every 2 s'}: "
            f"median {statistics.median(times):.0f} µs per question"
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        edits(Path(folder))
    embedder = Embedder()
    with tempfile.TemporaryDirectory() as folder:
        edge = EdgeStore(Path(folder), "book")
        run_ingest(IngestOptions(SAMPLE_DOCS), edge, embedder)
        per_question(edge, "embedded store")
        edge.close()
    server = QdrantServer()
    try:
        cloud = CloudStore.connect(server.url, None, "book", 10)
        run_ingest(IngestOptions(SAMPLE_DOCS), cloud, embedder)
        per_question(cloud, "Qdrant server (HTTP, loopback)")
    finally:
        server.close()


if __name__ == "__main__":
    main()
