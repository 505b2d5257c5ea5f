"""The REST API and the app given what no client should send, or with a service down: a clear status, no
echoed input, no secret or local path in a reply."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from harness.fake_servers import FakeOpenAI
from ingest.pipeline import IngestOptions, run_ingest
from rag.config import load_settings, mask_url
from rag.engine import Engine
from rag.store import CollectionSpec, EdgeStore
from tests.api_client import api_client, open_instructor_view
from tests.conftest import SAMPLE_DOCS, unpooled


@pytest.fixture
def client(make_engine):
    return api_client(lambda: make_engine())


@pytest.mark.parametrize("field", ["content", "chat_id"])
@pytest.mark.parametrize("path", ["/api/v1/chat", "/api/v1/chat/stream"])
def test_lone_surrogates_are_422(client, field, path):
    body = {"content": "What is a node?", field: "What is a \ud800 node?"}
    raw = json.dumps(body)  # ensure_ascii: the surrogate travels as the escape \ud800
    response = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "ud800" not in response.text


def test_big_bodies_are_413_and_inputs_are_never_echoed(client):
    big = client.post("/api/v1/chat", json={"content": "x" * 100_000})
    assert big.status_code == 413 and len(big.text) < 200
    long = client.post("/api/v1/chat", json={"content": "y" * 4001 + "SECRET-MARKER"})
    assert long.status_code == 422 and "SECRET-MARKER" not in long.text and "limit is 4000" in long.text


def test_unknown_paths_and_methods_are_json_404_and_405(client):
    wrong_method = client.get("/api/v1/chat")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    assert wrong_method.json() == {"detail": "Method not allowed"}
    missing = client.get("/api/v1/nothing/here")
    assert missing.status_code == 404 and missing.json()["detail"].startswith("No such endpoint")
    assert client.get("/elsewhere").json() == {"page": "elsewhere"}  # the chat page is still served


def test_credentials_in_urls_are_masked_and_paths_hidden(make_engine, embedder, env, tmp_path):
    assert (
        mask_url("http://admin:hunter2PASS@host:8/v1?api_key=abc&x=1") == "http://admin:****@host:8/v1?api_key=****&x=1"
    )
    env(LOCAL_LLM_BASE_URL="http://admin:hunter2PASS@127.0.0.1:9/v1")
    health = api_client(lambda: make_engine()).get("/api/v1/health")
    assert health.status_code == 503 and "hunter2PASS" not in health.text and "admin:****@" in health.text
    holder = EdgeStore(tmp_path / "locked", "textbook_content")
    holder.ensure_collection(CollectionSpec(embedder.model_name, embedder.dim))
    env(QDRANT_PATH=str(tmp_path / "locked"))
    locked = api_client(lambda: Engine.from_settings(load_settings(), unpooled())).post(
        "/api/v1/chat", json={"content": "What is ROS?"}
    )
    assert locked.status_code == 503 and "in use" in locked.text and str(tmp_path) not in locked.text
    holder.close()


def test_health_reports_an_empty_or_removed_collection(tmp_path, embedder, env, make_engine):
    env(QDRANT_PATH=str(tmp_path / "q"))
    empty = api_client(lambda: Engine.from_settings(load_settings(), unpooled())).get("/api/v1/health")
    assert empty.status_code == 503 and "python -m ingest" in empty.json()["qdrant"]["detail"]
    store = EdgeStore(tmp_path / "q", "textbook_content")
    run_ingest(IngestOptions(SAMPLE_DOCS), store, embedder)
    client = api_client(lambda: make_engine(store=store))
    assert client.get("/api/v1/health").status_code == 200
    shutil.rmtree(tmp_path / "q")
    removed = client.get("/api/v1/health")
    assert removed.status_code == 503 and "removed while in use" in removed.json()["qdrant"]["detail"]


def test_a_hanging_model_does_not_hang_health(make_engine, env):
    server = FakeOpenAI(["hang"], hang_models=True)
    env(LOCAL_LLM_BASE_URL=server.base_url, LLM_TIMEOUT="60")
    try:
        started = time.monotonic()
        response = api_client(lambda: make_engine()).get("/api/v1/health")
        assert response.status_code == 503 and time.monotonic() - started < 10
        assert "did not answer in time" in response.json()["llm"]["detail"]
    finally:
        server.close()


@pytest.mark.parametrize(
    "request_args",
    [
        {"url": "/api/v1/health", "headers": {"cookie": "tutor_visitor=abc.\xe9\xe9".encode("latin-1")}},
        {"url": "/api/v1/files/u/e/x?expires=9999999999&signature=%C3%A9%C3%A9"},
    ],
    ids=["visitor-cookie", "file-signature"],
)
def test_one_non_ascii_byte_is_no_500(client, request_args):
    response = client.get(request_args["url"], headers=request_args.get("headers"))
    assert response.status_code in (200, 403)  # a forged cookie is no cookie; a forged signature is refused


def test_a_non_ascii_bearer_token_is_no_token(make_engine, env, tmp_path):
    env(USERS_FILE=str(tmp_path / "users.json"), CHAINLIT_AUTH_SECRET="s" * 48, API_TOKEN="t" * 40)
    (tmp_path / "users.json").write_text('{"users": {}}')
    response = api_client(lambda: make_engine()).post(
        "/api/v1/chat", json={"content": "What is a node?"}, headers={"authorization": "Bearer \xe9t".encode("latin-1")}
    )
    assert response.status_code == 401


def test_the_instructor_view_cannot_be_framed_and_nothing_is_sniffed(client):
    page, chat = open_instructor_view(client).get("/instructor"), client.get("/api/v1/health")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    for response in (page, chat):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    assert "x-frame-options" not in chat.headers  # the chat may be embedded by the book's site


def test_a_post_with_no_body_is_a_422(client):
    assert client.post("/api/v1/chat").status_code == 422


def test_the_book_serves_no_dotfile_and_only_its_own_site_may_frame_it(make_engine, env, tmp_path):
    site = tmp_path / "build"
    (site / ".git").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>Book</title>")
    (site / ".env").write_text("OPENAI_API_KEY=sk-secret")
    (site / ".git" / "config").write_text("[remote] url = https://token@git.example/x")
    env(BOOK_DIR=str(site))
    client = api_client(lambda: make_engine())
    page = client.get("/book/")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "SAMEORIGIN"
    assert page.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert page.headers["x-content-type-options"] == "nosniff"
    for dotfile in ("/book/.env", "/book/.git/config", "/book/sub/../.env"):
        found = client.get(dotfile)
        assert found.status_code == 404 and "secret" not in found.text and "token" not in found.text
