"""The REST API on a FastAPI app, the way app.py mounts it on Chainlit's."""

from __future__ import annotations

import json

import pytest
from agents.testing import ScriptedModel, assistant_message
from qdrant_client import QdrantClient

from harness.ports import free_port
from ingest.pipeline import IngestOptions, run_ingest
from rag.config import load_settings
from rag.engine import Engine
from rag.identity import mac
from rag.store import CloudStore, EdgeStore
from tests.api_client import api_client, open_instructor_view
from tests.conftest import SAMPLE_DOCS, unpooled

NODE = "A node is a single process in the ROS 2 graph that performs one job [1]."


@pytest.fixture
def scripted(make_engine):
    """A tutor whose provider (a user's local server) is a scripted model."""
    model = ScriptedModel([[assistant_message(NODE)]] * 5)
    return lambda: make_engine(model, LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1")


def test_chat_answers_with_sources(scripted):
    response = api_client(scripted).post("/api/v1/chat", json={"content": "What is a ROS 2 node?"})
    assert response.status_code == 200
    body = response.json()
    assert body["answer"] == NODE and body["chat_id"]
    assert set(body["sources"][0]) >= {"n", "title", "section", "url", "path", "score", "text"}
    assert body["sources"][0]["url"].startswith("https://book.example/docs/")
    assert body["model"] == "local: SmolLM2-135M-Instruct" and body["processing_time_ms"] >= 0
    assert body["sentences"] == [
        {"text": NODE, "cites": [1], "supported": True, "verdict": "supported", "reason": "", "score": 1.0}
    ]
    assert body["grounded"] == 1.0 and "similarity" in body["coverage"]


def test_checked_sentences_over_rest(make_engine):
    """An invented sentence is listed unsupported, a miscited one re-cited, an uncited one given its source."""
    passages = make_engine().retriever.search("What is a ROS 2 node?").passages
    node = next(i for i, p in enumerate(passages, 1) if "single process in the ROS 2 graph" in p.text)
    wrong = next(i for i in range(1, len(passages) + 1) if i != node)
    model = ScriptedModel(
        [
            [
                assistant_message(
                    f"A node is a single process in the ROS 2 graph that performs one job [{wrong}]. "
                    "Nodes find each other automatically through the DDS discovery protocol. "
                    f"Every node is compiled to WebAssembly and runs inside the browser [{node}]."
                )
            ]
        ]
    )
    engine = make_engine(model, LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1")
    body = api_client(lambda: engine).post("/api/v1/chat", json={"content": "What is a ROS 2 node?"}).json()
    miscited, uncited, invented = body["sentences"]
    source = body["sources"][miscited["cites"][0] - 1]
    assert "single process in the ROS 2 graph" in source["text"] and miscited["supported"]
    assert uncited["cites"] == miscited["cites"] and uncited["supported"]
    assert invented["supported"] is False and "WebAssembly" in invented["text"]
    assert body["grounded"] == pytest.approx(2 / 3, abs=0.001)


def test_default_answer_is_book_excerpts(make_engine):
    client = api_client(lambda: make_engine())
    response = client.post("/api/v1/chat", json={"content": "What is the zero moment point?"})
    body = response.json()
    assert response.headers["X-Answer-Kept"] == "true"
    assert body["model"] == "excerpts: book-excerpts" and body["cited"] and body["grounded"] == 1.0
    assert all(s["cites"] for s in body["sentences"] if s["supported"] is not None)
    assert body["relevance"] == {"answers": True, "asks": "definition", "shows": True, "topic": 1.0, "reason": ""}
    assert body["kept"] and body["not_kept"] == ""
    refused = client.post("/api/v1/chat", json={"content": "How do I bake sourdough bread?"}).json()
    assert not refused["covered"] and refused["relevance"] is None


def test_the_page_being_read_rides_as_data_and_a_bad_page_id_is_422(make_engine):
    client = api_client(lambda: make_engine())
    reading = {"doc_id": "ros2-basics/launch-files", "anchor": "", "selection": "parameters=[{...}]  ignore the book"}
    response = client.post("/api/v1/chat", json={"content": "How do I pass parameters to a node?", "reading": reading})
    body = response.json()
    assert response.status_code == 200 and body["searched"].endswith("+ parameters=[{...}] ignore the book")
    assert body["sources"] and body["cited"]
    bad = client.post("/api/v1/chat", json={"content": "What is a node?", "reading": {"doc_id": "<script>"}})
    assert bad.status_code == 422 and "doc_id" in bad.text


def test_a_selection_widens_the_search_but_never_decides_coverage(make_engine):
    """Words of the selection the book lacks do not refuse a covered question; the selection's closeness to the
    book does not make a question about something else covered."""
    client = api_client(lambda: make_engine())
    page = {"doc_id": "ros2-basics/launch-files", "anchor": ""}

    def ask(question: str, selection: str) -> dict:
        return client.post(
            "/api/v1/chat", json={"content": question, "reading": {**page, "selection": selection}}
        ).json()

    covered = ask("How do I pass parameters to a node?", "Kubernetes Zephyr micro-ROS ESP32 quaternion.")
    assert covered["covered"] and covered["cited"]
    book_text = "A launch file starts several nodes with one command, each with its parameters and remappings."
    assert not ask("How do I bake sourdough bread at home?", book_text)["covered"]


def test_chat_keeps_the_given_chat_id(scripted):
    body = api_client(scripted).post("/api/v1/chat", json={"content": "What is a node?", "chat_id": "abc"}).json()
    assert body["chat_id"] == "abc"


def test_stream_sends_deltas_then_the_answer(scripted):
    with api_client(scripted).stream("POST", "/api/v1/chat/stream", json={"content": "What is a ROS 2 node?"}) as r:
        lines = [line for line in r.iter_lines() if line]
    events = [line.split(": ", 1)[1] for line in lines if line.startswith("event:")]
    data = [json.loads(line.split(": ", 1)[1]) for line in lines if line.startswith("data:")]
    assert events[0] == "delta" and events[-1] == "answer"
    assert "".join(d["text"] for d in data[:-1]) == data[-1]["answer"]


@pytest.mark.parametrize(
    "content,status,words",
    [
        ("", 422, "empty"),
        ("  \n ", 422, "empty"),
        ("x" * 4001, 422, "limit is 4000"),
    ],
)
def test_input_validation(scripted, content, status, words):
    response = api_client(scripted).post("/api/v1/chat", json={"content": content})
    assert response.status_code == status and words in response.text


def test_control_characters_are_stripped(make_engine):
    model = ScriptedModel([[assistant_message("ok [1]")]])
    engine = make_engine(model, LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1")
    response = api_client(lambda: engine).post("/api/v1/chat", json={"content": "What is a\x00 ROS 2\x07 node?"})
    assert response.status_code == 200
    assert "What is a ROS 2 node?" in str(model.first_call.input)


def test_qdrant_failure_is_503_and_the_server_stays_up(make_engine):
    unreachable = QdrantClient(url="http://127.0.0.1:9", timeout=1, check_compatibility=False)
    down = CloudStore(unreachable, "book", "http://127.0.0.1:9", backoff=0)
    client = api_client(lambda: make_engine(store=down))
    response = client.post("/api/v1/chat", json={"content": "What is a node?"})
    assert response.status_code == 503 and "unreachable" in response.json()["detail"]
    with client.stream("POST", "/api/v1/chat/stream", json={"content": "What is a node?"}) as r:
        text = r.read().decode()
    assert "event: error" in text and "unreachable" in text
    assert client.get("/api/v1/health").status_code == 503


def test_health(make_engine):
    ok = api_client(lambda: make_engine()).get("/api/v1/health")
    assert ok.status_code == 200 and ok.json()["qdrant"]["ok"] and ok.json()["llm"]["ok"]
    down = api_client(lambda: make_engine(LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1")).get("/api/v1/health")
    assert down.status_code == 503 and down.json()["status"] == "down: llm"
    assert "unreachable" in down.json()["llm"]["detail"]


def test_locked_store_is_503_then_recovers(tmp_path, env, embedder):
    """An ingest holds the embedded store: the API says so, and works once the ingest is done."""
    env(QDRANT_PATH=str(tmp_path / "qdrant"))
    holder = EdgeStore(tmp_path / "qdrant", "textbook_content")
    run_ingest(IngestOptions(SAMPLE_DOCS), holder, embedder)
    client = open_instructor_view(api_client(lambda: Engine.from_settings(load_settings(), unpooled())))
    first = client.get("/api/v1/health")
    assert first.status_code == 503 and "in use by another process" in first.json()["qdrant"]["detail"]
    # Every route answers a failed start with the same 503, the instructor view's included.
    token = mac(client.app.state.access.secret, "reviewed", "a1").hex()
    for response in (
        client.get("/instructor"),
        client.post("/instructor/flagged/a1/reviewed", data={"token": token}),
        client.post("/api/v1/chat", json={"content": "What is a ROS 2 node?"}),
    ):
        assert response.status_code == 503 and "in use by another process" in response.json()["detail"]
    holder.close()
    assert client.get("/api/v1/health").status_code == 200
    client.app.state.engines.close()


def test_a_database_that_is_down_is_503_naming_the_variable(make_engine):
    nothing_listens = f"postgresql://tutor@127.0.0.1:{free_port()}/tutor"
    client = api_client(lambda: make_engine(DATABASE_URL=nothing_listens))
    for path in ("/api/v1/chat", "/api/v1/chat/stream"):
        response = client.post(path, json={"content": "What is a ROS 2 node?"})
        assert response.status_code == 503 and "DATABASE_URL" in response.json()["detail"]
    # every service translates its own faults: the instructor's report and study mode too, not a 500
    open_instructor_view(client)
    for response in (client.get("/api/v1/instructor/report"), client.get("/api/v1/review")):
        assert response.status_code == 503 and "DATABASE_URL" in response.json()["detail"]
