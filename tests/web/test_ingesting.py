"""`POST /api/v1/ingest`, where `python -m ingest` hands its work to the app holding the embedded store: only a
caller on this machine with the app's token, one ingest at a time, its progress streamed page by page before
the report the command prints."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from ingest.handoff import PATH, HandoffError, follow_progress
from ingest.pipeline import IngestOptions, run_ingest
from rag.store import EdgeStore
from tests.api_client import api_client
from tests.conftest import SAMPLE_DOCS, build_engine

BOOK = {"source": str(SAMPLE_DOCS), "base_url": "https://book.example/docs", "chunk_size": 300}
SIZES = {"chunk_overlap": 40, "batch_size": 64}


@pytest.fixture
def client(tmp_path, embedder, env):
    env(DATA_DIR=str(tmp_path / "data"))
    store = EdgeStore(tmp_path / "qdrant", "book")
    run_ingest(IngestOptions(SAMPLE_DOCS, base_url="https://book.example/docs"), store, embedder)
    engine = build_engine(store, embedder)
    with api_client(lambda: engine) as client:
        yield client
    store.close()


def token(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.app.state.handoff.token}"}  # type: ignore[attr-defined]


def test_only_a_caller_on_this_machine_with_the_token_may_ingest(client):
    assert client.post(PATH, json=BOOK | SIZES).status_code == 403
    assert client.post(PATH, json=BOOK | SIZES, headers={"Authorization": "Bearer guessed"}).status_code == 403
    remote = TestClient(client.app, client=("203.0.113.9", 50000))
    assert remote.post(PATH, json=BOOK | SIZES, headers=token(client)).status_code == 403
    missing = client.post(PATH, json=BOOK | SIZES | {"source": "/no/such/docs"}, headers=token(client))
    assert missing.status_code == 422 and "/no/such/docs" in missing.json()["detail"]


def test_the_ingest_streams_each_page_then_the_report(client):
    with client.stream("POST", PATH, json=BOOK | SIZES, headers=token(client)) as response:
        assert response.status_code == 200
        lines = [json.loads(line) for line in response.iter_lines()]
    *progress, report = lines
    assert progress == [{"done": n, "total": 11} for n in range(1, 12)]
    assert report["failed"] == [] and "documents: 11 seen, 0 new, 11 changed" in report["summary"]


def test_one_ingest_at_a_time_and_a_refusal_says_why(client):
    handoff = client.app.state.handoff
    with handoff._running:  # another ingest holds the app
        busy = client.post(PATH, json=BOOK | SIZES, headers=token(client))
    assert busy.status_code == 409 and "Another ingest is running" in busy.json()["detail"]
    recreate = client.post(PATH, json=BOOK | SIZES | {"recreate": True}, headers=token(client))
    *_, last = [json.loads(line) for line in recreate.text.splitlines()]
    assert "--recreate drops the collection" in last["error"]
    with pytest.raises(HandoffError, match="stopped before the ingest was done"):
        follow_progress(iter(['{"done": 1, "total": 12}']))  # the app went away mid-ingest
