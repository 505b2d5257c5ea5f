"""`python -m ingest` while the app serves its embedded store (which one process alone may open): the command hands
the work to the app, which keeps answering; each answer comes from the old book or the new one, never half of
each; afterwards a page added to the book is answered and cited, with no restart."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from harness.app import SAMPLE_DOCS, App, answer_citing, http, ingest_sample, wait_until
from tests.conftest import REPO

pytestmark = pytest.mark.slow
ZMP = "04-humanoid-control/02-balance-and-walking.md"
OLD = "The **zero moment point** (ZMP) is the"
NEW = "The **zero moment point** (ZMP), the point where the ground's push has no tipping moment, is the"
LAB = "05-labs/01-trampoline-lab.md"
PAGE = (
    "# Trampoline Lab\n\n## The lab trampoline\n\nThe lab trampoline has a spring constant of 950 newtons per metre.\n"
)
QUESTION = "What is the lab trampoline's spring constant?"
WAIT = 60


class Asking(threading.Thread):
    """Asks about the zero moment point again and again until stopped, keeping each reply and when it came."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.stopped = url, threading.Event()
        self.replies: list[tuple[float, int, dict]] = []

    def run(self) -> None:
        while not self.stopped.is_set():
            status, body = http("POST", self.url + "/api/v1/chat", {"content": "What is the zero moment point?"})
            self.replies.append((time.monotonic(), status, body))


def test_an_ingest_run_while_the_app_serves_is_handed_to_it(tmp_path):
    docs = shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")
    ingest_sample(tmp_path / "qdrant", docs)
    app = App(tmp_path)
    asking = Asking(app.url)
    try:
        page = docs / ZMP
        page.write_text(page.read_text().replace(OLD, NEW))
        (docs / "05-labs").mkdir()
        (docs / LAB).write_text(PAGE)
        asking.start()
        started = time.monotonic()
        # another chunk size: every page is embedded again, so the app answers while the ingest runs
        command = [sys.executable, "-m", "ingest", "--source", str(docs), "--base-url", "https://book.example/docs"]
        done = subprocess.run(
            [*command, "--chunk-size", "300"], cwd=REPO, env=app.env | {"PYTHONPATH": str(REPO)}, capture_output=True
        )
        ended = time.monotonic()
        asking.stopped.set()
        asking.join(timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        said = done.stderr.decode()
        assert "keeps answering" in said and "10/12 documents" in said  # the app's progress, as the command's
        assert "documents: 12 seen, 1 new, 11 changed" in done.stdout.decode()
        during = [(status, body) for at, status, body in asking.replies if started < at < ended]
        assert during and all(status == 200 for status, _ in during)  # it kept answering
        for _, body in during:  # from one book: the edited passage as it was, or as it is, never both
            texts = " ".join(s["text"] for s in body["sources"])
            assert (OLD in texts) != (NEW in texts), texts
        body = wait_until(lambda: answer_citing(app.url, QUESTION, LAB), WAIT, "an answer citing the new page")
        assert "950" in body["answer"]
    finally:
        asking.stopped.set()
        app.stop()
    assert not (tmp_path / "data" / "ingest.json").exists() and os.path.isdir(tmp_path / "qdrant")


def test_an_author_s_saved_page_reaches_the_running_tutor(tmp_path):
    """`python -m ingest --watch` beside the running app: a page saved in the docs is answered from a few seconds
    later, with no restart and no command run by hand."""
    docs = shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")
    ingest_sample(tmp_path / "qdrant", docs)
    app = App(tmp_path)
    command = [
        sys.executable,
        "-m",
        "ingest",
        "--watch",
        "--source",
        str(docs),
        "--base-url",
        "https://book.example/docs",
    ]
    watching = subprocess.Popen(
        command,
        cwd=REPO,
        env=app.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert watching.stderr is not None
        for line in watching.stderr:  # the first ingest, handed to the app, is done
            if line.startswith("Watching"):
                break
        (docs / "05-labs").mkdir()
        (docs / LAB).write_text(PAGE)

        def cited() -> dict | None:
            assert watching.poll() is None, "ingest --watch stopped"
            return answer_citing(app.url, QUESTION, LAB)

        wait_until(cited, WAIT, "an answer citing the saved page")
    finally:
        os.killpg(watching.pid, signal.SIGINT)
        watching.wait(timeout=30)
        app.stop()
    assert watching.returncode == 0
