"""`python -m ingest` while the app serves an embedded store, which one process alone may open: the command hands
its options to the running app, which ingests with its open store and its loaded model, its writes landing
together (`ingest.staging`). The app streams its progress as it goes, one JSON line per page, then the same
report the command prints when it runs alone; the command shows them as it would its own.

The app writes its loopback URL and a fresh token to `DATA_DIR/ingest.json`, readable by its owner only, so only
someone on this machine who may read the app's data can hand it work; the file goes when the app stops."""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import httpx

from ingest.pipeline import IngestOptions, IngestReport, PagesShown, Progress, run_ingest
from ingest.staging import StagedStore
from rag.config import write_private
from rag.search.embeddings import Embedder
from rag.store import Store

HANDOFF_FILE = "ingest.json"
PATH = "/api/v1/ingest"
TIMEOUT = 3600.0  # a whole book embedded on a small machine


BUSY = "Another ingest is running in the app: wait for it to finish, then run this one again."


class Busy(RuntimeError):
    """Another handed-off ingest is running in this app."""


class Handoff:
    """The app's side: its token, the file that tells the command where the app is, and one ingest at a time."""

    def __init__(self, data_dir: Path):
        self.file = data_dir / HANDOFF_FILE
        self.token = secrets.token_urlsafe(32)
        self._running = threading.Lock()

    def announce(self, url: str) -> None:
        """Where the command finds this app: written for the owner alone, then moved into place."""
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_name(f".{self.file.name}.tmp")
        write_private(tmp, json.dumps({"url": url, "token": self.token}).encode())
        os.replace(tmp, self.file)

    def withdraw(self) -> None:
        self.file.unlink(missing_ok=True)

    def admits(self, token: str) -> bool:
        return secrets.compare_digest(token.encode(), self.token.encode())

    def busy(self) -> bool:
        return self._running.locked()

    def run(self, opts: IngestOptions, store: Store, embedder: Embedder, progress: Progress) -> IngestReport:
        """Ingest with the app's store: parsed and embedded while the app answers from the old book, written at
        once (`StagedStore`). `Busy` when another runs."""
        if not self._running.acquire(blocking=False):
            raise Busy(BUSY)
        try:
            staged = StagedStore(store)
            report = run_ingest(opts, staged, embedder, progress)
            staged.commit()
            return report
        finally:
            self._running.release()


def hand_to_app(data_dir: Path, opts: IngestOptions) -> tuple[list[tuple[str, str]], str] | None:
    """The report (failed pages, summary) of the ingest the running app did for these options; None when no app
    announced itself in `data_dir`. Raises `HandoffError` when the app refused or could not be reached."""
    try:
        door = json.loads((data_dir / HANDOFF_FILE).read_text())
    except FileNotFoundError:
        return None
    body = asdict(opts) | {"source": str(opts.source.resolve()), "exclude": list(opts.exclude)}
    headers = {"Authorization": f"Bearer {door['token']}"}
    try:
        with httpx.stream("POST", door["url"] + PATH, json=body, headers=headers, timeout=TIMEOUT) as response:
            if response.status_code != 200:
                response.read()
                raise HandoffError(f"the app refused the ingest ({response.status_code}): {_detail(response)}")
            result = follow_progress(response.iter_lines())
    except httpx.HTTPError as exc:
        raise HandoffError(f"the app at {door['url']} did not answer ({exc}); is it still running?") from exc
    if "error" in result:
        raise HandoffError(f"the app could not ingest: {result['error']}")
    return [(path, reason) for path, reason in result["failed"]], result["summary"]


def follow_progress(lines: Iterator[str]) -> dict:
    """The app's progress lines shown as the command shows its own (a bar on a terminal, a log line every ten
    pages elsewhere); returns the last line, the report or the error."""
    with PagesShown() as shown:
        for line in lines:
            event = json.loads(line)
            if "done" not in event:
                return event
            shown(event["done"], event["total"])
    raise HandoffError("the app stopped before the ingest was done; see its log")


class HandoffError(RuntimeError):
    """The running app refused the ingest or could not be reached: the message says which."""


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text
