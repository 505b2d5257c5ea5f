"""The OpenAI-compatible endpoint, through the official `openai` client on the app as `mount_api` builds it: the
profiles as models, a cited answer whole and streamed, the conversation as the chat's memory, and every refusal
raised by the client as the OpenAI exception it knows."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from agents import Model
from agents.testing import ScriptedModel, assistant_message

from rag.identity import UsersFile, hash_password
from rag.users import main as users_main
from tests.api_client import api_client

QUESTION = "What is the zero moment point?"


def client_of(
    make_engine, api_key: str = "any key works without login", model: Model | None = None, **variables: str
) -> openai.OpenAI:
    engine = make_engine(model, **variables)
    http = api_client(lambda: engine)
    return openai.OpenAI(base_url=f"{http.base_url}/v1", api_key=api_key, http_client=http, max_retries=0)


def ask(client: openai.OpenAI, *messages: str, model: str = "excerpts", stream: bool = False):
    said: list[Any] = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": text} for i, text in enumerate(messages)
    ]
    return client.chat.completions.create(model=model, messages=said, stream=stream)


def test_models_and_a_cited_answer_whole_and_streamed(make_engine):
    client = client_of(make_engine)
    assert [m.id for m in client.models.list()][0] == "excerpts"  # and the bundled model where it is installed
    whole = ask(client, QUESTION)
    text = whole.choices[0].message.content
    assert "[1]" in text and "zero moment point" in text.lower() and "\n\nSources:\n- [1] [" in text
    sources = whole.model_extra["sources"]
    assert sources[0]["n"] == 1 and sources[0]["url"].startswith("https://book.example/docs/")
    chunks = list(ask(client, QUESTION, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == text  # the same answer, streamed as OpenAI streams it
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["sources"] == sources


def test_the_conversation_sent_is_the_chat_s_memory(make_engine):
    """The second turn carries the first as the client holds it (here edited: the memory is what is sent), and
    its follow-up ("it") is searched with the first question, as in the chat page."""
    model = ScriptedModel([[assistant_message("Nodes are processes [1].")], [assistant_message("Use launch [1].")]])
    client = client_of(make_engine, model=model, LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1")
    first = ask(client, "What is a ROS 2 node?", model="local")
    assert first.choices[0].message.content.startswith("Nodes are processes [1].")
    second = ask(
        client, "What is a ROS 2 node?", "A node is a process, edited.", "and how do I launch it?", model="local"
    )
    remembered = str(model.last_call.input)
    assert "What is a ROS 2 node?" in remembered and "A node is a process, edited." in remembered
    assert "Nodes are processes" not in remembered  # what the client sent, not what was stored
    assert second.model_extra["sources"][0]["title"] == "Launch Files"


def test_refusals_are_the_client_s_own_exceptions(make_engine):
    client = client_of(make_engine)
    with pytest.raises(openai.NotFoundError, match="GET /v1/models"):
        ask(client, QUESTION, model="gpt-4o")
    with pytest.raises(openai.BadRequestError, match="role `user`"):
        ask(client, QUESTION, "an answer")
    with pytest.raises(openai.BadRequestError, match="empty"):
        ask(client, "   ")
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="excerpts", input="x")


def test_the_rate_limit_is_rest_s_and_says_when_to_retry(make_engine):
    client = client_of(make_engine, RATE_LIMIT_PER_MINUTE="1")
    ask(client, QUESTION)
    with pytest.raises(openai.RateLimitError, match="Too many questions") as limited:
        ask(client, QUESTION)
    assert int(limited.value.response.headers["retry-after"]) > 0
    assert limited.value.body["code"] == "rate_limit_exceeded"


def test_with_login_a_user_s_api_token_is_the_key_and_their_role_s_profiles_the_models(
    make_engine, tmp_path, env, capsys, servers
):
    from harness.fake_servers import FakeOpenAI

    llm = servers(FakeOpenAI, ["The ZMP is where the ground pushes back [1]."], model="fake-llm")
    path = tmp_path / "users.json"
    UsersFile(path).save({"sam": {"password": hash_password("pw"), "role": "student"}, "ina": {"role": "instructor"}})
    variables = {"USERS_FILE": str(path), "CHAINLIT_AUTH_SECRET": "s" * 48, "STUDENT_PROFILES": "excerpts"}
    variables |= {"LOCAL_LLM_BASE_URL": llm.base_url, "LOCAL_LLM_MODEL": "fake-llm", "GROUNDING_JUDGE": "false"}
    keys = {}
    env(**variables)
    for name in ("sam", "ina"):
        assert users_main(["--file", str(path), "token", name]) == 0
        keys[name] = capsys.readouterr().out.strip().rsplit(" ", 1)[1]
    with pytest.raises(openai.AuthenticationError, match="Log in first"):
        client_of(make_engine, "not a token", **variables).models.list()
    student = client_of(make_engine, keys["sam"], **variables)
    assert [m.id for m in student.models.list()] == ["excerpts"]
    with pytest.raises(openai.PermissionDeniedError, match="not offered to you"):
        ask(student, QUESTION, model="local")
    instructor = client_of(make_engine, keys["ina"], **variables)
    assert "local" in [m.id for m in instructor.models.list()]
    assert "ground pushes back" in ask(instructor, QUESTION, model="local").choices[0].message.content
