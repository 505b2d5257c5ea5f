"""End to end with the bundled SmolLM2 server (llama-cpp-python) on the sample book."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.agent import NOT_COVERED
from rag.citations import MARKER
from rag.retrieval import SearchResult
from rag.tutor import Answer, Tutor
from tests.conftest import REPO, build_tutor

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tutor(sample_store, embedder):
    tutor = build_tutor(sample_store, embedder, pooled=True)
    yield tutor
    tutor.local_server.stop()


def stream(tutor: Tutor, question: str, chat_id: str):
    async def run():
        return [event async for event in tutor.answer_stream(question, chat_id, "bundled")]

    return asyncio.run(run())


def test_off_topic_is_not_covered_without_starting_the_model(tutor):
    events = stream(tutor, "Who won the football world cup in 2018?", "e2e-off")
    answer = events[-1]
    assert not answer.covered and answer.text == NOT_COVERED and answer.sources == []
    assert tutor.local_server.process is None  # the LLM was never needed


def test_bundled_model_streams_an_answer_with_sources(tutor):
    events = stream(tutor, "What is a ROS 2 node?", "e2e-on")
    assert isinstance(events[0], SearchResult) and events[0].covered
    deltas, answer = [e for e in events if isinstance(e, str)], events[-1]
    assert isinstance(answer, Answer) and answer.covered
    assert len(deltas) > 5 and answer.text.strip()
    # The final text is the streamed one with its citations checked: only markers may differ.
    assert _words(MARKER.sub("", "".join(deltas))) == _words(MARKER.sub("", answer.text))
    assert answer.sources and answer.model == "bundled: SmolLM2-135M-Instruct"
    assert all(int(n) <= len(answer.sources) for n in re.findall(r"\[(\d+)\]", answer.text))
    assert answer.sentences and answer.grounded is not None  # the small model's sentences are checked too
    assert tutor.local_server.process.poll() is None


def test_server_stops_with_the_tutor(tutor):
    tutor.local_server.start()
    process = tutor.local_server.process
    tutor.local_server.stop()
    assert process.poll() is not None


def test_server_dies_with_a_killed_app(tmp_path):
    """Even a SIGKILLed app, which runs no shutdown code, leaves no model server behind."""
    script = (
        "import time; from rag.local_llm import LocalLLMServer; s = LocalLLMServer('m'); s.start(); "
        "print(s.process.pid, flush=True); time.sleep(60)"
    )
    app = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    server_pid = int(app.stdout.readline())
    app.kill()
    app.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(server_pid):
        time.sleep(0.2)
    assert not _alive(server_pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state != "Z"  # a zombie has exited; its parent (init) reaps it


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text)
