"""The tutor with `agents.testing` scripted models on the real sample-book store."""

from __future__ import annotations

import asyncio

import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

from rag.agent import NOT_COVERED
from rag.config import load_settings
from rag.retrieval import SearchResult
from rag.tutor import EMPTY_ANSWER, SMALL_MODEL_PASSAGES, Answer, Tutor


def message(*parts: str) -> ResponseOutputMessage:
    """An assistant message in several content parts: each part streams as its own delta."""
    return ResponseOutputMessage(id="m", type="message", role="assistant", status="completed", content=[
        ResponseOutputText(text=p, type="output_text", annotations=[], logprobs=[]) for p in parts])


def make_tutor(sample_store, embedder, model: ScriptedModel, monkeypatch, **env) -> Tutor:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Tutor(load_settings(), sample_store, embedder, build=lambda choice, url, timeout: model)


def collect(tutor: Tutor, question: str, chat_id: str = "chat", provider=None):
    async def run():
        return [event async for event in tutor.answer_stream(question, chat_id, provider)]

    events = asyncio.run(run())
    assert isinstance(events[0], SearchResult) and isinstance(events[-1], Answer)
    return events[0], [e for e in events if isinstance(e, str)], events[-1]


def test_deltas_stream_and_citations_are_renumbered(sample_store, embedder, monkeypatch):
    model = ScriptedModel([[message("A topic is a named channel [3]. ", "Nodes publish to it [1, 3]. ",
                                    "Invented [12].")]])
    _, deltas, answer = collect(make_tutor(sample_store, embedder, model, monkeypatch), "What is a ROS 2 topic?")
    assert len(deltas) >= 3
    assert "".join(deltas) == answer.text == "A topic is a named channel [1]. Nodes publish to it [2][1]. Invented."
    assert [s.n for s in answer.sources] == [1, 2] and answer.cited
    assert answer.sources[0].passage == answer.passages[2] and answer.sources[1].passage == answer.passages[0]
    assert answer.model == "local: SmolLM2-135M-Instruct" and answer.processing_time_ms > 0


def test_passages_reach_the_model_numbered_with_titles(sample_store, embedder, monkeypatch):
    model = ScriptedModel([[assistant_message("Launch files start nodes [1].")]])
    search, _, _ = collect(make_tutor(sample_store, embedder, model, monkeypatch), "How do launch files work?")
    instructions = model.first_call.system_instructions
    given = search.passages[:SMALL_MODEL_PASSAGES]  # the bundled small model reads only the best few
    for n, passage in enumerate(given, 1):
        assert f"[{n}] {passage.breadcrumb}\n{passage.text}" in instructions
    assert f"[{len(given) + 1}] " not in instructions
    assert "ONLY the numbered passages" in instructions and "does not cover" in instructions
    assert model.first_call.tools == []  # the small local model gets no tools


def test_uncited_answer_lists_sources_as_retrieved(sample_store, embedder, monkeypatch):
    model = ScriptedModel([[assistant_message("Launch files start many nodes at once.")]])
    search, _, answer = collect(make_tutor(sample_store, embedder, model, monkeypatch), "What is a launch file?")
    assert not answer.cited and [s.passage for s in answer.sources] == search.passages[:SMALL_MODEL_PASSAGES]


def test_empty_model_output_still_answers(sample_store, embedder, monkeypatch):
    model = ScriptedModel([[assistant_message("")]])
    _, deltas, answer = collect(make_tutor(sample_store, embedder, model, monkeypatch), "What is a launch file?")
    assert answer.text == EMPTY_ANSWER == "".join(deltas) and answer.sources and not answer.cited


def test_not_covered_never_calls_the_model(sample_store, embedder, monkeypatch):
    model = ScriptedModel([])  # any call would fail
    search, deltas, answer = collect(make_tutor(sample_store, embedder, model, monkeypatch),
                                     "How do I bake sourdough bread?")
    assert not search.covered and not answer.covered and answer.sources == []
    assert deltas == [NOT_COVERED] and model.calls == ()


def test_tool_results_join_the_numbering_and_arguments_never_leak(sample_store, embedder, monkeypatch):
    model = ScriptedModel([
        [function_call("search_textbook", {"query": "zero moment point balance"}, call_id="call-1")],
        [message("Topics carry data [1]. ", "The ZMP keeps balance [6].")],
    ])
    tutor = make_tutor(sample_store, embedder, model, monkeypatch, GEMINI_API_KEY="g-key")
    search, deltas, answer = collect(tutor, "What is a ROS 2 topic?")
    text = "".join(deltas)
    assert "zero moment point balance" not in text and "query" not in text and "{" not in text
    assert len(answer.passages) > len(search.passages)  # the tool's passages joined the list
    assert answer.text == "Topics carry data [1]. The ZMP keeps balance [2]."
    assert "zero moment point" in answer.sources[1].passage.text.lower()
    assert [t.name for t in model.first_call.tools] == ["search_textbook"]
    assert answer.model.startswith("gemini")


def test_follow_up_searches_with_the_previous_question(sample_store, embedder, monkeypatch):
    model = ScriptedModel([[assistant_message("Nodes are processes [1].")], [assistant_message("Use ros2 launch [1].")]])
    tutor = make_tutor(sample_store, embedder, model, monkeypatch)
    collect(tutor, "What is a ROS 2 node?", "chat-f")
    search, _, _ = collect(tutor, "and how do I launch it?", "chat-f")
    assert search.query == "and how do I launch it? + What is a ROS 2 node?"
    assert search.passages[0].title == "Launch Files"
    second_input = str(model.last_call.input)
    assert "What is a ROS 2 node?" in second_input and "Nodes are processes" in second_input  # chat memory


def test_two_concurrent_chats_keep_their_own_history_and_sources(sample_store, embedder, monkeypatch):
    def echo(call):
        return [assistant_message(f"seen: {call.input!s} [1]")]

    model = ScriptedModel([ModelStep.respond(echo)] * 4)
    tutor = make_tutor(sample_store, embedder, model, monkeypatch)

    async def chat(chat_id: str, first: str, second: str) -> Answer:
        await tutor.answer(first, chat_id)
        return await tutor.answer(second, chat_id)

    async def both():
        return await asyncio.gather(
            chat("a", "What is a ROS 2 topic?", "How do services differ from topics?"),
            chat("b", "What is the zero moment point?", "How does a linear inverted pendulum help walking?"))

    a, b = asyncio.run(both())
    assert "What is a ROS 2 topic?" in a.text and "zero moment point" not in a.text
    assert "What is the zero moment point?" in b.text and "ROS 2 topic" not in b.text
    assert a.sources[0].passage.title != b.sources[0].passage.title


@pytest.mark.parametrize("bad", ["", "   \n\t", "\x00\x01"])
def test_empty_question_is_refused(sample_store, embedder, monkeypatch, bad):
    tutor = make_tutor(sample_store, embedder, ScriptedModel([]), monkeypatch)
    with pytest.raises(ValueError, match="empty"):
        asyncio.run(tutor.answer(bad, "c"))
