"""`chainlit run app.py` as a child process, for the browser tests and the benchmarks, and the sample book
ingested the way a maintainer does it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from harness.ports import free_port

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = REPO / "samples" / "textbook" / "docs"
T = TypeVar("T")


def ingest_sample(
    folder: Path | None, source: Path = SAMPLE_DOCS, base_url: str = "https://book.example/docs", **env: str
) -> None:
    """`python -m ingest` of the sample book (or `source`) into an embedded store at `folder`, or (None) the
    Qdrant server that `env`'s QDRANT_CLUSTER_ENDPOINT names; `base_url` is where the book is published ("/book"
    for the one the app serves)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **({"QDRANT_PATH": str(folder)} if folder else {}), **env}
    subprocess.run(
        [sys.executable, "-m", "ingest", "--source", str(source), "--base-url", base_url],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )


def http(method: str, url: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def answer_citing(url: str, question: str, path: str) -> dict | None:
    """The tutor's REST answer to `question` when it cites the page at `path`; None while it does not."""
    status, body = http("POST", url + "/api/v1/chat", {"content": question})
    assert status == 200, body
    return body if any(source["path"] == path for source in body["sources"]) else None


def wait_until(state: Callable[[], T | None], wait: float, what: str) -> T:
    """`state`'s first value that is not None, asked again and again (a state the app shows, not a time);
    AssertionError naming `what` after `wait` seconds."""
    deadline = time.monotonic() + wait
    while (found := state()) is None:
        assert time.monotonic() < deadline, f"not within {wait:.0f} s: {what}"
        time.sleep(0.2)
    return found


class App:
    """`chainlit run app.py` on a free port, as CI runs it (CI=true: chainlit sets a fake OpenAI key)."""

    def __init__(self, data: Path, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data / f"app-{self.port}.log"
        self.env = {
            **os.environ,
            "CI": "true",
            "HF_HUB_OFFLINE": "1",
            "QDRANT_PATH": str(data / "qdrant"),
            "DATA_DIR": str(data / "data"),
            **env,
        }
        for name in ("OPENAI_API_KEY", "GEMINI_API_KEY", "QDRANT_CLUSTER_ENDPOINT", "QDRANT_URL", "LLM_PROVIDER"):
            if name not in env:
                self.env.pop(name, None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chainlit", "run", "app.py", "--headless", "--port", str(self.port)],
            cwd=REPO,
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/", timeout=2)
                self._link = self._written_link()
                return
            except OSError:
                assert self.process.poll() is None, self.log.read_text()
                time.sleep(0.5)
        raise AssertionError(f"the app did not start:\n{self.log.read_text()}")

    def instructor_link(self) -> str:
        """The one-time link to the instructor view that the app wrote when it started (no login)."""
        assert self._link, self.log.read_text()
        return self._link

    def _written_link(self) -> str | None:
        """The link, read as the app starts (another app on the same DATA_DIR writes the file anew): its log
        (not a terminal) names the file, never the link."""
        found = re.search(r"Instructor view \(works once, for 15 minutes\): in (\S+)", self.log.read_text())
        assert "token=" not in self.log.read_text()
        return Path(found.group(1)).read_text().strip() if found else None

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=20)
