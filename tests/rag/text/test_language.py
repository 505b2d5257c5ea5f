"""A question in another language than the book's: told apart from English (technical terms and names
included), answered from its English terms with no model, answered in its language by a model, and never a
coverage gap."""

from __future__ import annotations

import asyncio

import pytest
from agents.testing import ScriptedModel, assistant_message

from rag.report.service import build_report
from rag.report.shown import Period
from rag.text.language import QuestionLanguage
from rag.text.lexical import TermStats
from tests.conftest import SAMPLE_DOCS
from tests.rag.test_tutor import collect


@pytest.fixture(scope="module")
def book() -> TermStats:
    return TermStats.build(p.read_text() for p in SAMPLE_DOCS.rglob("*.md*"))


@pytest.mark.parametrize(
    ("question", "language", "terms"),
    [
        ("¿Qué es un nodo en ROS 2?", "Spanish", ("ROS", "2")),
        ("Was ist ein Knoten in ROS 2?", "German", ("ROS", "2")),
        ("Comment lancer plusieurs nœuds avec un fichier launch ?", "French", ("launch",)),
        ("Как работает URDF?", "Russian", ("URDF",)),
        ("ROS 2 中的节点是什么？", "Chinese", ("ROS", "2")),
        ("¿Cómo funciona el punto de momento cero?", "Spanish", ()),
    ],
)
def test_a_question_in_another_language_is_told_with_the_book_s_terms_it_holds(book, question, language, terms):
    foreign = QuestionLanguage().foreign(question, book)
    assert foreign is not None and (foreign.language, foreign.terms) == (language, terms)


@pytest.mark.parametrize(
    "question",
    [
        "What is a ROS 2 topic?",
        "How do I use rclpy?",
        "URDF joint limits",
        "What is ZMP?",
        "How do I bake sourdough bread?",  # off the book, yet English
        "What is the Kalibr toolbox used for?",
        "nodo",  # one word: a name or a typo as often as another language
    ],
)
def test_english_with_technical_terms_and_names_is_english(book, question):
    assert QuestionLanguage().foreign(question, book) is None


def test_with_no_model_a_question_in_spanish_is_answered_from_its_english_terms_and_is_no_gap(make_engine):
    engine = make_engine()
    search, _, answer = collect(engine, "¿Qué es un nodo en ROS 2?")
    assert search.query == "ROS 2" and answer.covered and answer.language == "Spanish"
    assert answer.text.startswith("🌐 _This question is in Spanish") and "**ROS**, **2**" in answer.text
    assert "ROS 2" in answer.sources[0].passage.text and answer.grounded == 1.0
    _, _, refused = collect(engine, "¿Cómo funciona el punto de momento cero?", chat_id="other")
    assert not refused.covered and refused.language == "Spanish" and "Ask it in English" in refused.text
    report = asyncio.run(_report(engine))
    asked = [q for gap in report.gaps for q in gap.examples]
    assert not any(q.startswith("¿") for q in asked)  # neither is a coverage gap


async def _report(engine):
    try:
        return await build_report(engine.database, Period.last(1), engine.retriever.nearest, engine.retriever.payloads)
    finally:
        await engine.database.close()


def test_a_model_is_told_to_answer_in_the_student_s_language(make_engine):
    model = ScriptedModel([[assistant_message("Un nodo es un proceso [1].")]])
    engine = make_engine(model, LOCAL_LLM_BASE_URL="http://127.0.0.1:9/v1")
    search, _, answer = collect(engine, "¿Qué es un nodo en ROS 2?", provider_name="local")
    instructions = model.first_call.system_instructions
    assert "write your answer in Spanish" in instructions and search.query == "ROS 2"
    assert answer.language == "Spanish" and answer.text.startswith("Un nodo")  # no note: the model translated
    assert model.first_call.input[-1]["content"] == "¿Qué es un nodo en ROS 2?"  # the student's own words
