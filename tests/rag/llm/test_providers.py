"""Provider selection, and provider errors against a local server that answers like the API."""

from __future__ import annotations

import asyncio
import importlib.util
import time

import pytest

from harness.fake_servers import FakeOpenAI
from rag.config import CHAINLIT_FAKE_OPENAI_KEY, ConfigError, load_settings
from rag.errors import TutorError
from rag.llm.providers import by_label, choose_provider, configured_providers, provider

REAL_KEY = "-".join(["sk", "real", "0123456789abcdef"])


@pytest.mark.parametrize(
    "variables,expected",
    [
        ({}, "excerpts"),
        ({"OPENAI_API_KEY": REAL_KEY}, "openai"),
        ({"GEMINI_API_KEY": "g-key"}, "gemini"),
        ({"GEMINI_API_KEY": "g-key", "OPENAI_API_KEY": REAL_KEY}, "gemini"),
        ({"OPENAI_API_KEY": CHAINLIT_FAKE_OPENAI_KEY, "CI": "true"}, "excerpts"),
        ({"LLM_PROVIDER": "bundled", "OPENAI_API_KEY": REAL_KEY}, "bundled"),
        ({"LLM_PROVIDER": "excerpts", "GEMINI_API_KEY": "g-key"}, "excerpts"),
        ({"LLM_PROVIDER": "openai", "OPENAI_API_KEY": REAL_KEY, "GEMINI_API_KEY": "g"}, "openai"),
        ({"LOCAL_LLM_BASE_URL": "http://localhost:11434/v1"}, "local"),
    ],
)
def test_provider_selection(env, variables, expected):
    env(**variables)
    settings = load_settings()
    assert choose_provider(settings).name == expected
    assert configured_providers(settings)[-2:] == ["excerpts", "bundled"]


def test_bundled_vs_configured_local_server(env):
    bundled = provider(load_settings(), "bundled")
    assert bundled.bundled and bundled.experimental and not bundled.tools and bundled.passage_budget == 3
    env(LOCAL_LLM_BASE_URL="http://localhost:11434/v1")
    choice = choose_provider(load_settings())
    assert choice.name == "local" and not choice.bundled and choice.base_url == "http://localhost:11434/v1"
    assert choice.tools and choice.passage_budget is None  # a user's own server is not held to the 135M limits


def test_fake_key_is_not_offered_as_a_provider(env):
    env(OPENAI_API_KEY=CHAINLIT_FAKE_OPENAI_KEY)
    assert configured_providers(load_settings()) == ["excerpts", "bundled"]


def test_local_without_a_server_url_names_the_variable(env):
    env(LLM_PROVIDER="local")
    with pytest.raises(ConfigError, match="LOCAL_LLM_BASE_URL") as info:
        load_settings()
    assert "LLM_PROVIDER=excerpts" in str(info.value) and "LLM_PROVIDER=bundled" in str(info.value)


def test_profiles_are_found_by_their_label(env):
    env(GEMINI_API_KEY="g-key")
    settings = load_settings()
    labels = [provider(settings, name).label for name in configured_providers(settings)]
    assert labels == ["Gemini", "Book excerpts", "SmolLM2 (experimental)"]
    assert by_label(settings, "Book excerpts").name == "excerpts" and by_label(settings, "OpenAI") is None
    assert [provider(settings, n).tracing for n in ("openai", "gemini", "excerpts")] == [True, False, False]


QUESTION = "What is a ROS 2 topic?"


def test_gemini_answers_through_its_openai_compatible_endpoint(make_engine, servers):
    gemini = servers(FakeOpenAI, ["A topic is a named channel [1]."], "gemini-test")
    engine = make_engine(
        GEMINI_API_KEY="g-key",
        GEMINI_BASE_URL=gemini.base_url,
        MODEL_NAME="gemini-test",
    )
    answer = asyncio.run(engine.answers.answer(QUESTION, "c1"))
    assert answer.text == "A topic is a named channel [1]." and answer.model == "gemini: gemini-test"
    assert answer.cited and answer.sources[0].n == 1
    assert gemini.requests[0]["model"] == "gemini-test" and gemini.requests[0]["stream"] is True
    system = gemini.requests[0]["messages"][0]["content"]
    assert "[1] " in system and "Nodes and Topics" in system  # numbered passages with their titles
    assert any(t["function"]["name"] == "search_textbook" for t in gemini.requests[0]["tools"])


def test_rate_limit_is_retried(make_engine, servers):
    openai_server = servers(FakeOpenAI, [429, "Retried fine [1]."])
    engine = make_engine(
        OPENAI_API_KEY=REAL_KEY,
        OPENAI_BASE_URL=openai_server.base_url,
        OPENAI_MODEL="fake-model",
    )
    answer = asyncio.run(engine.answers.answer(QUESTION, "c1"))
    assert answer.text == "Retried fine [1]." and len(openai_server.requests) == 2


@pytest.mark.parametrize(
    "status,words",
    [(401, "rejected the API key: check GEMINI_API_KEY"), (429, "rate limit or quota"), (500, "HTTP 500")],
)
def test_gemini_errors_say_what_failed(make_engine, servers, status, words):
    gemini = servers(FakeOpenAI, [status])
    engine = make_engine(GEMINI_API_KEY="g-key", GEMINI_BASE_URL=gemini.base_url)
    with pytest.raises(TutorError) as info:
        asyncio.run(engine.answers.answer(QUESTION, "c1"))
    assert info.value.kind == "llm" and words in str(info.value)
    assert len(gemini.requests) == (1 if status == 401 else 4)  # 429/5xx: the first try and 3 retries


def test_hanging_provider_times_out(make_engine, servers):
    gemini = servers(FakeOpenAI, ["hang"])
    engine = make_engine(GEMINI_API_KEY="g-key", GEMINI_BASE_URL=gemini.base_url, LLM_TIMEOUT="0.5")
    started = time.monotonic()
    with pytest.raises(TutorError, match="did not start answering within LLM_TIMEOUT"):
        asyncio.run(engine.answers.answer(QUESTION, "c1"))
    assert time.monotonic() - started < 3  # LLM_TIMEOUT bounds the whole wait, retries included


def test_gemini_failure_falls_back_to_openai(make_engine, servers):
    gemini, openai_server = servers(FakeOpenAI, [401]), servers(FakeOpenAI, ["From OpenAI [1]."])
    engine = make_engine(
        GEMINI_API_KEY="bad",
        GEMINI_BASE_URL=gemini.base_url,
        OPENAI_API_KEY=REAL_KEY,
        OPENAI_BASE_URL=openai_server.base_url,
        OPENAI_MODEL="fake-model",
    )
    answer = asyncio.run(engine.answers.answer(QUESTION, "c1"))
    assert answer.text == "From OpenAI [1]." and answer.model == "openai: fake-model"
    assert len(gemini.requests) == 1 and len(openai_server.requests) == 1


def test_picking_the_bundled_model_before_it_is_installed_says_how_to_install_it(make_engine, monkeypatch):
    """`make run` does not build llama.cpp: a student who picks SmolLM2 first is told the one command."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a))
    engine = make_engine()
    with pytest.raises(TutorError) as info:
        asyncio.run(engine.answers.answer("What is a ROS 2 node?", "not-installed", provider_name="bundled"))
    assert info.value.kind == "llm" and "is not installed" in str(info.value) and "make bundled" in str(info.value)
    assert engine.local_server.process is None
