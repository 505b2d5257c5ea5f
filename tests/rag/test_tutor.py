"""The tutor on the real sample-book store: the book-excerpts default, and `agents.testing` scripted models
standing in for an LLM provider."""

from __future__ import annotations

import asyncio

import pytest
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from openai.types.responses import ResponseOutputMessage, ResponseOutputText

from rag.answer.agent import NOT_COVERED
from rag.answer.result import Answer
from rag.config import load_settings
from rag.engine import Engine
from rag.llm.providers import provider
from rag.search.passage import SearchResult
from rag.text.lexical import content_terms
from rag.tutor import EMPTY_ANSWER
from web import display


def message(*parts: str) -> ResponseOutputMessage:
    """An assistant message in several content parts: each part streams as its own delta."""
    return ResponseOutputMessage(
        id="m",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(text=p, type="output_text", annotations=[], logprobs=[]) for p in parts],
    )


def collect(engine: Engine, question: str, chat_id: str = "chat", provider_name=None):
    async def run():
        return [event async for event in await engine.answers.ask(question, chat_id, provider_name=provider_name)]

    events = asyncio.run(run())
    assert isinstance(events[0], SearchResult) and isinstance(events[-1], Answer)
    return events[0], [e for e in events if isinstance(e, str)], events[-1]


def number_of(search: SearchResult, words: str) -> int:
    """The number the model sees for the passage holding `words`."""
    return next(i for i, p in enumerate(search.passages, 1) if words in p.text)


ZMP = "What is the zero moment point?"


# -- book excerpts: the offline default ------------------------------------------------------------------


def test_default_answer_is_cited_book_sentences(make_engine):
    search, deltas, answer = collect(make_engine(), "What is the zero moment point?")
    assert answer.model == "excerpts: book-excerpts" and answer.cited and answer.covered
    assert len(deltas) > 10 and "".join(deltas) == answer.text  # streamed word by word, nothing changed after
    assert 30 <= len(answer.text.split()) <= 200
    assert "point on the ground where the horizontal moments of gravity and inertia cancel" in answer.text
    assert answer.grounded == 1.0 and all(s.supported in (True, None) for s in answer.sentences)
    book = " ".join(content_terms(" ".join(p.text for p in search.passages)))
    for sentence in answer.sentences:  # every word of every sentence is the book's
        assert set(content_terms(sentence.text)) <= set(book.split()), sentence.text


def test_excerpts_are_the_default_only_without_keys(env):
    assert provider(load_settings(), "excerpts").kind == "excerpts"
    from rag.llm.providers import choose_provider

    assert choose_provider(load_settings()).name == "excerpts"
    env(LOCAL_LLM_BASE_URL="http://localhost:11434/v1")
    assert choose_provider(load_settings()).name == "local"


# -- a scripted LLM ------------------------------------------------------------------------------------


def test_deltas_stream_and_citations_are_renumbered(make_engine):
    search = make_engine().retriever.search(ZMP)
    n = number_of(search, "zero moment point")
    model = ScriptedModel(
        [
            [
                message(
                    "The zero moment point is the point on the ground where the horizontal ",
                    f"moments of gravity and inertia cancel [{n}, 99]. ",
                    "A gait is dynamically balanced when the ZMP stays inside the support polygon ",
                    f"[{n}].",
                )
            ]
        ]
    )
    _, deltas, answer = collect(make_engine(model, LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1"), ZMP, "chat", "local")
    assert len(deltas) >= 3
    assert (
        "".join(deltas)
        == answer.text
        == (
            "The zero moment point is the point on the ground where the horizontal moments of gravity and inertia "
            "cancel [1]. A gait is dynamically balanced when the ZMP stays inside the support polygon [1]."
        )
    )
    assert [s.n for s in answer.sources] == [1] and answer.sources[0].passage == search.passages[n - 1]
    assert answer.model == "local: SmolLM2-135M-Instruct" and answer.grounded == 1.0


def test_invented_miscited_and_uncited_sentences_are_checked(make_engine):
    search = make_engine().retriever.search("What is a ROS 2 node?")
    node = number_of(search, "single process in the ROS 2 graph")
    other = next(i for i, p in enumerate(search.passages, 1) if "single process" not in p.text)
    model = ScriptedModel(
        [
            [
                assistant_message(
                    f"A node is a single process in the ROS 2 graph that performs one job [{other}]. "
                    "Nodes find each other automatically through the DDS discovery protocol. "
                    f"Every node must be written in Rust and restarted hourly by the ROS master [{node}]."
                )
            ]
        ]
    )
    engine = make_engine(model, LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1")
    _, _, answer = collect(engine, "What is a ROS 2 node?", provider_name="local")
    first, second, third = answer.sentences
    assert first.verdict == "recited" and answer.sources[first.cites[0] - 1].passage == search.passages[node - 1]
    assert second.verdict == "cited" and second.cites == first.cites  # the uncited sentence got its source
    assert third.verdict == "unsupported" and third.supported is False
    assert answer.grounded == pytest.approx(2 / 3)


def test_passages_reach_the_model_numbered_with_titles(make_engine):
    model = ScriptedModel([[assistant_message("Launch files start nodes [1].")]])
    search, _, _ = collect(make_engine(model), "How do launch files work?", provider_name="bundled")
    instructions = model.first_call.system_instructions
    budget = provider(load_settings(), "bundled").passage_budget  # the bundled small model reads the best few
    given = search.passages[:budget]
    for n, passage in enumerate(given, 1):
        assert f"[{n}] {passage.breadcrumb}\n{passage.text}" in instructions
    assert f"[{len(given) + 1}] " not in instructions
    assert "ONLY the numbered passages" in instructions and "does not cover" in instructions
    assert model.first_call.tools == []  # the small bundled model gets no tools


def test_a_users_local_server_gets_tools_and_every_passage(make_engine):
    model = ScriptedModel([[assistant_message("Launch files start nodes [1].")]])
    engine = make_engine(model, LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1")
    search, _, answer = collect(engine, "How do launch files work?")
    assert answer.model.startswith("local: ")
    assert f"[{len(search.passages)}] " in model.first_call.system_instructions
    assert [t.name for t in model.first_call.tools] == ["search_textbook"]


def test_uncited_answer_gets_citations_from_the_check(make_engine):
    model = ScriptedModel([[assistant_message("A launch file starts several nodes at once.")]])
    _, _, answer = collect(make_engine(model), "What is a launch file?", provider_name="bundled")
    assert answer.cited and answer.sentences[0].verdict == "cited"
    assert "Launch" in answer.sources[0].passage.title


def test_unsupported_uncited_answer_lists_sources_as_retrieved(make_engine):
    model = ScriptedModel([[assistant_message("Bananas grow on trees in tropical climates everywhere.")]])
    search, _, answer = collect(make_engine(model), "What is a launch file?", provider_name="bundled")
    assert not answer.cited and [s.passage for s in answer.sources] == search.passages[:3]
    assert answer.sentences[0].verdict == "unsupported" and answer.grounded == 0.0


def test_empty_model_output_still_answers(make_engine):
    model = ScriptedModel([[assistant_message("")]])
    _, deltas, answer = collect(make_engine(model), "What is a launch file?", provider_name="bundled")
    assert answer.text == EMPTY_ANSWER == "".join(deltas) and answer.sources and not answer.cited


def test_not_covered_never_calls_the_model(make_engine):
    model = ScriptedModel([])  # any call would fail
    search, deltas, answer = collect(make_engine(model), "How do I bake sourdough bread?", provider_name="bundled")
    assert not search.covered and not answer.covered and answer.sources == []
    assert deltas == [NOT_COVERED] and model.calls == () and answer.coverage_reason


def test_tool_results_join_the_numbering_and_arguments_never_leak(make_engine):
    model = ScriptedModel(
        [
            [function_call("search_textbook", {"query": "zero moment point balance"}, call_id="call-1")],
            [
                message(
                    "Topics carry data [1]. ",
                    "The zero moment point is the point on the ground where the horizontal moments of gravity and "
                    "inertia cancel [6].",
                )
            ],
        ]
    )
    engine = make_engine(model, GEMINI_API_KEY="g-key")
    search, deltas, answer = collect(engine, "What is a ROS 2 topic?")
    text = "".join(deltas)
    assert "zero moment point balance" not in text and "query" not in text and "{" not in text
    assert len(answer.passages) > len(search.passages)  # the tool's passages joined the list
    assert "zero moment point" in answer.sources[-1].passage.text.lower()
    assert [t.name for t in model.first_call.tools] == ["search_textbook"]
    assert answer.model.startswith("gemini")


def test_follow_up_searches_with_the_previous_question(make_engine):
    model = ScriptedModel(
        [[assistant_message("Nodes are processes [1].")], [assistant_message("Use ros2 launch [1].")]]
    )
    engine = make_engine(model)
    collect(engine, "What is a ROS 2 node?", "chat-f", "bundled")
    search, _, _ = collect(engine, "and how do I launch it?", "chat-f", "bundled")
    assert search.query == "and how do I launch it? + What is a ROS 2 node?"
    assert search.passages[0].title == "Launch Files"
    second_input = str(model.last_call.input)
    assert "What is a ROS 2 node?" in second_input and "Nodes are processes" in second_input  # chat memory


def test_two_concurrent_chats_keep_their_own_history_and_sources(make_engine):
    def echo(call):
        return [assistant_message(f"seen: {call.input!s} [1]")]

    model = ScriptedModel([ModelStep.respond(echo)] * 4)
    engine = make_engine(model)

    async def chat(chat_id: str, first: str, second: str) -> Answer:
        await engine.answers.answer(first, chat_id, provider_name="bundled")
        return await engine.answers.answer(second, chat_id, provider_name="bundled")

    async def both():
        return await asyncio.gather(
            chat("a", "What is a ROS 2 topic?", "How do services differ from topics?"),
            chat("b", "What is the zero moment point?", "How does a linear inverted pendulum help walking?"),
        )

    a, b = asyncio.run(both())
    assert "What is a ROS 2 topic?" in a.text and "zero moment point" not in a.text
    assert "What is the zero moment point?" in b.text and "ROS 2 topic" not in b.text
    assert a.passages[0].title != b.passages[0].title


@pytest.mark.parametrize("bad", ["", "   \n\t", "\x00\x01"])
def test_empty_question_is_refused(make_engine, bad):
    engine = make_engine(ScriptedModel([]))
    with pytest.raises(ValueError, match="empty"):
        asyncio.run(engine.answers.answer(bad, "c"))


# -- the LLM judge for sentences the offline check cannot verify -------------------------------------------

PARAPHRASE = (
    "The final parameter of create_publisher sets how many messages wait in line when a subscriber falls behind "
    "the publisher"
)


def paraphrasing(call):
    """An answer that puts the sample book's queue-depth sentence in other words, citing its passage."""
    n = next(
        i for i, block in enumerate(call.system_instructions.split("<passage>\n")[1:], 1) if "queue depth" in block
    )
    return [assistant_message(f"{PARAPHRASE} [{n}].")]


def judging(reply: str, prompts: list[str]):
    def step(call):
        prompts.append(f"{call.system_instructions}\n{call.input}")
        return [assistant_message(reply)]

    return step


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"verdicts": [{"sentence": 1, "supported": true, "reason": "same as the passage"}]}', "supported"),
        (
            'Sure! {"verdicts": [{"sentence": 1, "supported": false, "reason": "the passage says queue depth"}]}',
            "unsupported",
        ),
        ("I think it is fine.", "unverified"),  # not JSON: the judge changes nothing
    ],
)
def test_an_llm_answer_s_unverified_sentences_go_to_that_model_as_a_judge_in_one_call(make_engine, reply, verdict):
    prompts: list[str] = []
    model = ScriptedModel([ModelStep.respond(paraphrasing), ModelStep.respond(judging(reply, prompts))])
    engine = make_engine(model, LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1")
    _, _, answer = collect(engine, "What does the last argument of create_publisher do?", provider_name="local")
    [sentence] = answer.sentences
    assert sentence.verdict == verdict and len(prompts) == 1
    assert "Sentence 1: " + PARAPHRASE in prompts[0] and "queue depth" in prompts[0]
    if verdict != "unverified":
        assert sentence.reason.startswith("judged by local: ")


def test_the_judge_is_off_by_setting(make_engine):
    model = ScriptedModel([ModelStep.respond(paraphrasing)])  # a second call (a judge) would find no step
    engine = make_engine(model, LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1", GROUNDING_JUDGE="false")
    _, _, answer = collect(engine, "What does the last argument of create_publisher do?", provider_name="local")
    assert [s.verdict for s in answer.sentences] == ["unverified"]


def test_a_judge_that_fails_leaves_the_sentences_not_verified(make_engine):
    from agents import AgentsException

    model = ScriptedModel([ModelStep.respond(paraphrasing), AgentsException("the judge's server went away")])
    engine = make_engine(model, LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1")
    _, _, answer = collect(engine, "What does the last argument of create_publisher do?", provider_name="local")
    assert [s.verdict for s in answer.sentences] == ["unverified"] and answer.text.startswith(PARAPHRASE)


def test_a_follow_up_s_excerpts_answer_the_follow_up_first(make_engine):
    """ "and how do I launch it?" after "What is a ROS 2 node?": both are searched, the follow-up leads."""
    engine = make_engine()
    collect(engine, "What is a ROS 2 node?", "follow")
    search, _, answer = collect(engine, "and how do I launch it?", "follow")
    assert search.query == "and how do I launch it? + What is a ROS 2 node?"
    assert "ros2 launch" in answer.text and answer.sources[0].passage.title == "Launch Files"


def test_a_question_that_names_its_own_topic_is_not_pulled_back_to_the_last_one(make_engine):
    """Asked right after a URDF question, "Why does my robot fall over when it walks?" is answered from balance
    and walking, as in a fresh chat: its "it" is its own robot."""
    engine = make_engine()
    collect(engine, "How are joints described in a URDF file?", "topic")
    search, _, answer = collect(engine, "Why does my robot fall over when it walks?", "topic")
    assert search.query == "Why does my robot fall over when it walks?"
    assert answer.sources[0].passage.doc_id == "humanoid-control/balance-and-walking"


@pytest.mark.parametrize(
    ("question", "answering"),
    [
        *(
            (message, words)
            for (_, message), words in zip(
                display.STARTERS,
                [
                    "A **topic** is a named channel over which nodes exchange messages",
                    "ros2 launch my_robot_bringup demo.launch.py",
                    "The **zero moment point** (ZMP) is the point on the ground",
                    "describes a robot as a tree of **links**",
                ],
                strict=True,
            )
        ),
        ("What is a node in ROS 2?", "A **node** is a single process in the ROS 2 graph"),
        ("How do I write a publisher in Python?", "self.publisher.publish(msg)"),
        pytest.param(
            "How do I make a ROS 2 node publish messages?",
            "self.publisher.publish(msg)",
            marks=pytest.mark.xfail(strict=True, reason="its section ranks 7th: the commands' table outranks it"),
        ),
    ],
)
def test_the_starters_and_basic_questions_get_the_book_s_answer(make_engine, question, answering):
    """Each answer (book excerpts, zero config) holds the sentence or the code of the book that answers it: the
    definition for "what is", the code for "how do I"."""
    _, _, answer = collect(make_engine(), question, "basic")
    assert answering in answer.text


def test_the_page_being_read_leads_the_search_the_answer_comes_from(make_engine):
    from rag.search.passage import Reading

    async def run():
        stream = await make_engine().answers.ask(
            "What is the difference between a service and a topic?",
            "reading",
            reading=Reading("ros2-basics/nodes-and-topics"),
        )
        return [event async for event in stream]

    events = asyncio.run(run())
    search, answer = events[0], events[-1]
    assert isinstance(search, SearchResult) and isinstance(answer, Answer)
    assert search.passages[0].doc_id == "ros2-basics/nodes-and-topics"
    assert answer.passages[0].doc_id == "ros2-basics/nodes-and-topics" and answer.cited  # what the answer was given
