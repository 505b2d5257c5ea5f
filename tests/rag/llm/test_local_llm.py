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

from rag.answer.agent import NOT_COVERED
from rag.answer.result import Answer
from rag.config import load_settings
from rag.engine import Engine
from rag.errors import TutorError
from rag.health import check_llm
from rag.llm.bundled import LocalLLMServer
from rag.llm.providers import provider
from rag.search.passage import SearchResult
from rag.text.citations import MARKER
from tests.api_client import api_client
from tests.conftest import REPO, build_engine, crash_during

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(sample_store, embedder):
    engine = build_engine(sample_store, embedder, pooled=True)
    yield engine
    engine.local_server.stop()


def stream(engine: Engine, question: str, chat_id: str):
    async def run():
        return [event async for event in await engine.answers.ask(question, chat_id, provider_name="bundled")]

    return asyncio.run(run())


def test_off_topic_is_not_covered_without_starting_the_model(engine):
    events = stream(engine, "Who won the football world cup in 2018?", "e2e-off")
    answer = events[-1]
    assert not answer.covered and answer.text == NOT_COVERED and answer.sources == []
    assert engine.local_server.process is None  # the LLM was never needed


def test_bundled_model_streams_an_answer_with_sources(engine):
    events = stream(engine, "What is a ROS 2 node?", "e2e-on")
    assert isinstance(events[0], SearchResult) and events[0].covered
    deltas, answer = [e for e in events if isinstance(e, str)], events[-1]
    assert isinstance(answer, Answer) and answer.covered
    assert len(deltas) > 5 and answer.text.strip()
    # The final text is the streamed one with its citations checked: only markers may differ.
    assert _words(MARKER.sub("", "".join(deltas))) == _words(MARKER.sub("", answer.text))
    assert answer.sources and answer.model == "bundled: SmolLM2-135M-Instruct"
    assert all(int(n) <= len(answer.sources) for n in re.findall(r"\[(\d+)\]", answer.text))
    assert answer.sentences and answer.grounded is not None  # the small model's sentences are checked too
    assert engine.local_server.process.poll() is None


def test_a_server_that_crashes_during_an_answer_is_reported_as_a_crash(engine):
    """The failure of a llama.cpp built for another CPU: the server dies at the first token. The chat (which
    shows a TutorError's text) says so, with the signal, the log and the fix, and never "unreachable"."""
    engine.local_server.start()
    with pytest.raises(TutorError) as info:
        crash_during(engine.local_server.process.pid, lambda: stream(engine, "What is a ROS 2 node?", "e2e-crash"))
    message = str(info.value)
    assert info.value.kind == "llm" and "crashed during an answer" in message and "SIGSEGV" in message
    assert "make bundled" in message and "last lines" in message and "unreachable" not in message
    assert isinstance(stream(engine, "What is a ROS 2 node?", "e2e-after-crash")[-1], Answer)  # started again


def test_rest_answers_503_with_the_crash(make_engine):
    engine = make_engine(LLM_PROVIDER="bundled")
    try:
        client = api_client(lambda: engine)
        engine.local_server.start()
        response = crash_during(
            engine.local_server.process.pid, lambda: client.post("/api/v1/chat", json={"content": "What is a node?"})
        )
        assert response.status_code == 503
        assert "crashed during an answer" in response.json()["detail"] and "SIGSEGV" in response.json()["detail"]
        health = client.get("/api/v1/health").json()  # it starts the server again and has it generate a token
        assert health["llm"]["ok"] and "generated a token" in health["llm"]["detail"]
    finally:
        engine.local_server.stop()


def test_the_check_generates_a_token_and_reports_a_crash():
    choice = provider(load_settings(), "bundled")
    check = check_llm(choice)
    assert check.status == "OK" and "generated a token" in check.detail
    server = LocalLLMServer(choice.model)
    try:
        server.start()
        check = crash_during(server.process.pid, lambda: check_llm(choice, server=server))
    finally:
        server.stop()
    assert check.status == "FAIL" and "crashed" in check.detail and "SIGSEGV" in check.detail


def test_server_stops_with_the_tutor(engine):
    engine.local_server.start()
    process = engine.local_server.process
    engine.local_server.stop()
    assert process.poll() is not None


def test_server_dies_with_a_killed_app(tmp_path):
    """Even a SIGKILLed app, which runs no shutdown code, leaves no model server behind."""
    script = (
        "import time; from rag.llm.bundled import LocalLLMServer; s = LocalLLMServer('m'); s.start(); "
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
