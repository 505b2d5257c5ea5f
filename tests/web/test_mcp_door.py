"""/mcp on the app as `mount_api` builds it (its lifespan runs the MCP session manager): REST's rules before any
MCP message is read, and fuzzed tool calls that always get an answer in the protocol, never a server error."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api_client import api_client
from tests.conftest import build_engine

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
TOOLS = ["search_book", "read_passage", "ask_tutor", "quiz", "answer_quiz", "no_such_tool"]
ARGUMENTS = st.dictionaries(
    st.sampled_from(["question", "id", "chat_id", "profile", "page", "topic", "n", "item_id", "response", "x"]),
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.text(max_size=300), st.lists(st.integers())),
    max_size=4,
)


@pytest.fixture(scope="module")
def client(sample_store, embedder, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:  # no rate limit: the fuzzing asks many times a second
        patch.setenv("DATA_DIR", str(tmp_path_factory.mktemp("mcp")))
        patch.setenv("RATE_LIMIT_PER_MINUTE", "0")
        patch.setenv("RATE_LIMIT_PER_ADDRESS", "0")
        engine = build_engine(sample_store, embedder)
        with api_client(lambda: engine) as client:  # runs the app's lifespan, and with it the MCP sessions
            yield client


def call(client, name: str, arguments: dict) -> tuple[int, dict | None]:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    response = client.post("/mcp", json=message, headers=HEADERS)
    return response.status_code, response.json() if response.status_code == 200 else None


def test_a_tool_call_answers_with_the_book(client):
    status, body = call(client, "search_book", {"question": "What is the zero moment point?"})
    assert status == 200 and not body["result"]["isError"]
    assert "zero moment point" in body["result"]["structuredContent"]["passages"][0]["text"].lower()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(TOOLS), arguments=ARGUMENTS)
def test_any_tool_call_gets_a_protocol_answer(client, name, arguments):
    status, body = call(client, name, arguments)
    assert status == 200, (name, arguments)
    assert body["jsonrpc"] == "2.0" and ("result" in body or "error" in body)
    if "result" in body and body["result"]["isError"]:
        said = body["result"]["content"][0]["text"]
        assert "Traceback" not in said and "/work/" not in said and "/root/" not in said


def test_rest_s_rules_come_first(client):
    other_site = client.post("/mcp", json={}, headers={**HEADERS, "Origin": "https://evil.example"})
    assert other_site.status_code == 403 and "ALLOWED_ORIGINS" in other_site.json()["detail"]
    assert client.post("/mcp", content=b"[" * 100_000, headers=HEADERS).status_code == 413
    not_json = client.post("/mcp", content=b"{not json", headers=HEADERS)
    assert not_json.status_code == 400 and json.loads(not_json.text)["error"]["code"] == -32700


def test_the_tools_keep_rest_s_rate_limit(sample_store, embedder, env, tmp_path):
    env(DATA_DIR=str(tmp_path), RATE_LIMIT_PER_MINUTE="1")
    engine = build_engine(sample_store, embedder)
    with api_client(lambda: engine) as limited:
        first = call(limited, "search_book", {"question": "What is a ROS 2 topic?"})
        second = call(limited, "ask_tutor", {"question": "What is a ROS 2 topic?"})
    assert first[0] == 200 and not first[1]["result"]["isError"]
    assert second[1]["result"]["isError"] and "Too many questions" in second[1]["result"]["content"][0]["text"]
