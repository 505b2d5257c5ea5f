"""Provider selection, and provider errors against a local server that answers like the API."""

from __future__ import annotations

import asyncio
import time

import pytest

from rag.config import CHAINLIT_FAKE_OPENAI_KEY, ConfigError, load_settings
from rag.providers import by_label, choose_provider, configured_providers, provider
from rag.tutor import Tutor, TutorError
from tests.fake_openai import FakeOpenAI

REAL_KEY = "-".join(["sk", "real", "0123456789abcdef"])


@pytest.mark.parametrize(
    "env,expected",
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
def test_provider_selection(monkeypatch, env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert choose_provider(settings).name == expected
    assert configured_providers(settings)[-2:] == ["excerpts", "bundled"]


def test_bundled_vs_configured_local_server(monkeypatch):
    bundled = provider(load_settings(), "bundled")
    assert bundled.bundled and bundled.experimental and not bundled.tools and bundled.passage_budget == 3
    monkeypatch.setenv("LOCAL_LLM_BASE_URL", "http://localhost:11434/v1")
    choice = choose_provider(load_settings())
    assert choice.name == "local" and not choice.bundled and choice.base_url == "http://localhost:11434/v1"
    assert choice.tools and choice.passage_budget is None  # a user's own server is not held to the 135M limits


def test_fake_key_is_not_offered_as_a_provider(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", CHAINLIT_FAKE_OPENAI_KEY)
    assert configured_providers(load_settings()) == ["excerpts", "bundled"]


def test_local_without_a_server_url_names_the_variable(monkeypatch):
    monkeypatch.setenv("LLM_PROVIDER", "local")
    with pytest.raises(ConfigError, match="LOCAL_LLM_BASE_URL") as info:
        load_settings()
    assert "LLM_PROVIDER=excerpts" in str(info.value) and "LLM_PROVIDER=bundled" in str(info.value)


def test_profiles_are_found_by_their_label(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "g-key")
    settings = load_settings()
    labels = [provider(settings, name).label for name in configured_providers(settings)]
    assert labels == ["Gemini", "Book excerpts", "SmolLM2 (experimental)"]
    assert by_label(settings, "Book excerpts").name == "excerpts" and by_label(settings, "OpenAI") is None
    assert [provider(settings, n).tracing for n in ("openai", "gemini", "excerpts")] == [True, False, False]


@pytest.fixture
def servers():
    started = []

    def start(script, model="fake-model") -> FakeOpenAI:
        started.append(FakeOpenAI(script, model))
        return started[-1]

    yield start
    for server in started:
        server.close()


def tutor_for(monkeypatch, sample_store, embedder, **env) -> Tutor:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Tutor(load_settings(), sample_store, embedder)


QUESTION = "What is a ROS 2 topic?"


def test_gemini_answers_through_its_openai_compatible_endpoint(monkeypatch, sample_store, embedder, servers):
    gemini = servers(["A topic is a named channel [1]."], "gemini-test")
    tutor = tutor_for(
        monkeypatch,
        sample_store,
        embedder,
        GEMINI_API_KEY="g-key",
        GEMINI_BASE_URL=gemini.base_url,
        MODEL_NAME="gemini-test",
    )
    answer = asyncio.run(tutor.answer(QUESTION, "c1"))
    assert answer.text == "A topic is a named channel [1]." and answer.model == "gemini: gemini-test"
    assert answer.cited and answer.sources[0].n == 1
    assert gemini.requests[0]["model"] == "gemini-test" and gemini.requests[0]["stream"] is True
    system = gemini.requests[0]["messages"][0]["content"]
    assert "[1] " in system and "Nodes and Topics" in system  # numbered passages with their titles
    assert any(t["function"]["name"] == "search_textbook" for t in gemini.requests[0]["tools"])


def test_rate_limit_is_retried(monkeypatch, sample_store, embedder, servers):
    openai_server = servers([429, "Retried fine [1]."])
    tutor = tutor_for(
        monkeypatch,
        sample_store,
        embedder,
        OPENAI_API_KEY=REAL_KEY,
        OPENAI_BASE_URL=openai_server.base_url,
        OPENAI_MODEL="fake-model",
    )
    answer = asyncio.run(tutor.answer(QUESTION, "c1"))
    assert answer.text == "Retried fine [1]." and len(openai_server.requests) == 2


@pytest.mark.parametrize(
    "status,words",
    [(401, "rejected the API key: check GEMINI_API_KEY"), (429, "rate limit or quota"), (500, "HTTP 500")],
)
def test_gemini_errors_say_what_failed(monkeypatch, sample_store, embedder, servers, status, words):
    gemini = servers([status])
    tutor = tutor_for(monkeypatch, sample_store, embedder, GEMINI_API_KEY="g-key", GEMINI_BASE_URL=gemini.base_url)
    with pytest.raises(TutorError) as info:
        asyncio.run(tutor.answer(QUESTION, "c1"))
    assert info.value.kind == "llm" and words in str(info.value)
    assert len(gemini.requests) == (1 if status == 401 else 4)  # 429/5xx: the first try and 3 retries


def test_hanging_provider_times_out(monkeypatch, sample_store, embedder, servers):
    gemini = servers(["hang"])
    tutor = tutor_for(
        monkeypatch, sample_store, embedder, GEMINI_API_KEY="g-key", GEMINI_BASE_URL=gemini.base_url, LLM_TIMEOUT="0.5"
    )
    started = time.monotonic()
    with pytest.raises(TutorError, match="did not start answering within LLM_TIMEOUT"):
        asyncio.run(tutor.answer(QUESTION, "c1"))
    assert time.monotonic() - started < 3  # LLM_TIMEOUT bounds the whole wait, retries included


def test_gemini_failure_falls_back_to_openai(monkeypatch, sample_store, embedder, servers):
    gemini, openai_server = servers([401]), servers(["From OpenAI [1]."])
    tutor = tutor_for(
        monkeypatch,
        sample_store,
        embedder,
        GEMINI_API_KEY="bad",
        GEMINI_BASE_URL=gemini.base_url,
        OPENAI_API_KEY=REAL_KEY,
        OPENAI_BASE_URL=openai_server.base_url,
        OPENAI_MODEL="fake-model",
    )
    answer = asyncio.run(tutor.answer(QUESTION, "c1"))
    assert answer.text == "From OpenAI [1]." and answer.model == "openai: fake-model"
    assert len(gemini.requests) == 1 and len(openai_server.requests) == 1
