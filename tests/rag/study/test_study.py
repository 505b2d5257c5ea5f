"""Study mode through the engine, on the sample book: quizzes and what they are on, grading, follow-ups, the
review schedule with a clock the test controls, a chat's quiz, and hints before answers."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from ingest.pipeline import IngestOptions, run_ingest
from rag.answer.result import Answer
from rag.engine import Engine
from rag.search.passage import Reading, SearchResult
from rag.store import EdgeStore
from rag.study.facts import clean
from rag.study.service import QuizError, topic_of
from tests.conftest import SAMPLE_DOCS, build_engine

NODES = "01-ros2-basics/01-nodes-and-topics.md"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine(make_engine, tmp_path, env) -> Engine:
    env(DATA_DIR=str(tmp_path / "data"))
    engine = make_engine()
    engine.study.clock = Clock()
    return engine


def run(engine: Engine, work):
    async def scenario():
        try:
            return await work
        finally:
            await engine.database.close()

    return asyncio.run(scenario())


def test_a_quiz_is_on_the_page_named_by_path_url_or_id(engine):
    by_path = run(engine, engine.study.quiz("ana", 5, section=NODES))
    assert 3 <= len(by_path) <= 5 and by_path[0].kind == "free"
    assert {item.section for item in by_path} == {NODES}
    url = run(
        engine,
        engine.study.quiz("bo", 2, section="https://book.example/docs/ros2-basics/nodes-and-topics#what-is-a-topic"),
    )
    by_id = run(engine, engine.study.quiz("cy", 2, section="ros2-basics/nodes-and-topics"))
    assert {i.section for i in url + by_id} == {NODES}
    for item in by_path:  # every answer key is its passage's sentence (or a row of its table), cited
        assert item.sentence in clean(item.passage.text) or "|" in item.passage.text


def test_a_quiz_on_a_topic_a_chapter_or_the_page_being_read(engine):
    topic = run(engine, engine.study.quiz("ana", 3, topic="the zero moment point"))
    assert {i.section for i in topic} == {"04-humanoid-control/02-balance-and-walking.md"}
    chapter = run(engine, engine.study.quiz("bo", 8, topic="Module 3: Perception"))
    assert {i.section.split("/")[0] for i in chapter} == {"03-perception"}
    page = run(engine, engine.study.quiz("cy", 3, reading=Reading("simulation/gazebo-simulation")))
    assert {i.section for i in page} == {"02-simulation/02-gazebo-simulation.md"}


def test_nothing_to_quiz_on_says_why(engine):
    with pytest.raises(QuizError, match="No page of the book"):
        run(engine, engine.study.quiz("ana", 5, section="no/such/page.md"))
    with pytest.raises(QuizError, match="does not cover"):
        run(engine, engine.study.quiz("ana", 5, topic="the best sourdough recipe"))
    with pytest.raises(QuizError, match="Say what to quiz you on"):
        run(engine, engine.study.quiz("ana", 5))
    assert topic_of("Quiz me on ROS 2 topics!") == "ROS 2 topics" and topic_of("quiz me") == ""


def test_a_quiz_on_a_chat_is_on_its_latest_question(engine):
    async def scenario():
        await engine.answers.answer("What is the zero moment point?", "chat-1", owner="ana")
        return await engine.study.quiz("ana", 3, chat_id="chat-1")

    items = run(engine, scenario())
    assert {i.section for i in items} == {"04-humanoid-control/02-balance-and-walking.md"}


def test_a_wrong_answer_shows_the_sentence_brings_a_follow_up_and_comes_back_for_review(engine):
    clock = engine.study.clock

    async def scenario():
        items = await engine.study.quiz("ana", 3, section=NODES)
        fill = next(i for i in items if i.kind != "free")
        wrong = await engine.study.answer("ana", fill.id, "a database")
        right = await engine.study.answer("ana", items[0].id, items[0].sentence)  # the free one, word for word
        due_now = await engine.study.due("ana")
        clock.now += timedelta(minutes=2)
        due_later = await engine.study.due("ana")
        clock.now += timedelta(minutes=10)
        due_after = await engine.study.due("ana")
        theirs = await engine.study.due("bo")
        return fill, wrong, right, due_now, due_later, due_after, theirs

    fill, wrong, right, due_now, due_later, due_after, theirs = run(engine, scenario())
    assert not wrong.grade.correct and fill.sentence in wrong.grade.feedback and "[1]" in wrong.grade.feedback
    assert wrong.follow_up is not None and wrong.follow_up.section == NODES and wrong.follow_up.key != fill.key
    assert wrong.due - wrong.answered == timedelta(minutes=1)  # a miss comes back within minutes (FSRS)
    assert right.grade.correct and right.follow_up is None and right.due - right.answered == timedelta(minutes=10)
    assert due_now == [] and [i.id for i in due_later] == [fill.id]
    assert {i.id for i in due_after} == {fill.id, right.item.id} and theirs == []


def test_a_chat_s_quiz_asks_one_item_after_another(engine):
    async def scenario():
        items = await engine.study.quiz("ana", 2, section=NODES, chat_id="quiz-chat")
        first = await engine.study.begin("quiz-chat", "ana", items)
        graded, second = await engine.study.respond("quiz-chat", "ana", "no idea")
        current = await engine.study.current("quiz-chat", "ana")
        await engine.study.end("quiz-chat", "ana")
        return items, first, graded, second, current, await engine.study.current("quiz-chat", "ana")

    items, first, graded, second, current, after_end = run(engine, scenario())
    assert first.id == items[0].id and not graded.grade.correct
    assert second is not None and second.id == graded.follow_up.id == current.id  # the follow-up comes next
    assert after_end is None


async def collect(events) -> list:
    return [event async for event in events]


def test_hints_name_the_section_first_and_never_the_sentence_that_answers(engine):
    question = "What is the zero moment point?"

    async def scenario():
        first = await collect(engine.hints.stream(question, "hints-1", owner="ana"))
        attempt = await collect(engine.hints.stream("something about the feet", "hints-1", owner="ana"))
        second = await collect(engine.hints.more_help("hints-1", owner="ana"))
        blank = await collect(engine.hints.stream("moment", "hints-1", owner="ana"))
        full = await collect(engine.hints.more_help("hints-1", owner="ana"))
        over = await collect(engine.hints.more_help("hints-1", owner="ana"))
        answer = await engine.answers.answer(question, "plain", owner="ana")
        return first, attempt, second, blank, full, over, answer

    first, attempt, second, blank, full, over, answer = run(engine, scenario())
    answering = answer.text.split(" [1]")[0]  # the sentence a plain answer leads with
    search, hint = first
    assert isinstance(search, SearchResult) and isinstance(hint, Answer)
    assert answering not in hint.text and "zero moment point" not in hint.text.split("**")[0]
    assert hint.text.startswith("The answer is in **Balance and Walking") and "[1]" in hint.text
    assert "horizontal moments of gravity and inertia cancel" in hint.sources[0].passage.text  # the section cited
    [feedback] = attempt  # an attempt: no search
    assert feedback.text.startswith("✗ Not quite") and "More help" in feedback.text
    assert hint.offers == feedback.offers == ("more_help",)  # open hints offer more
    [cloze] = second
    shown = cloze.text.split("“", 1)[1].split("”", 1)[0]
    assert "_____" in shown and "zero moment point" in shown.lower()  # the asked term stays: the blank is news
    assert blank[0].text.startswith("✗ Not quite")  # "moment" is not the held-back term
    assert isinstance(full[0], SearchResult) and full[-1].text == answer.text  # the last step: the full answer
    assert over == []  # no question open any more


def test_a_right_attempt_ends_the_hints_and_a_question_the_book_lacks_is_refused(engine):
    async def scenario():
        await collect(engine.hints.stream("What is a ROS 2 topic?", "hints-2", owner="ana"))
        await collect(engine.hints.more_help("hints-2", owner="ana"))
        state = await engine.study.records.chat("hints-2")
        right = await collect(engine.hints.stream(state.hints.key, "hints-2", owner="ana"))
        after = await engine.study.records.chat("hints-2")
        refused = await collect(engine.hints.stream("What is the best sourdough recipe?", "hints-3", owner="ana"))
        return right, after, refused

    right, after, refused = run(engine, scenario())
    assert right[0].text.startswith("✓") and after.hints is None
    assert right[0].offers == ()  # no More help after a right answer: the hints are over
    assert not refused[-1].covered and "does not cover" in refused[-1].text


def test_an_item_whose_sentence_the_book_dropped_stops_coming_back(tmp_path, embedder, env):
    """The page is edited after a quiz: the item on a sentence the book no longer holds is retired, and one on
    the page's new text takes its place; the item on an unchanged sentence still comes back."""
    docs = shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")
    store = EdgeStore(tmp_path / "qdrant", "book")
    run_ingest(IngestOptions(docs), store, embedder)
    env(DATA_DIR=str(tmp_path / "data"))
    engine = build_engine(store, embedder)
    clock = engine.study.clock = Clock()
    engine.retriever.index.follow_seconds = 0  # read the book's version at every use

    async def scenario():
        items = await engine.study.quiz("ana", 4, section=NODES)
        for item in items:
            await engine.study.answer("ana", item.id, "a database")  # wrong: each comes back in a minute
        page = docs / NODES
        page.write_text(page.read_text().replace(items[0].sentence.split(" ")[-1].rstrip("."), "zzz-removed"))
        await asyncio.to_thread(run_ingest, IngestOptions(docs), store, embedder)
        clock.now += timedelta(minutes=2)
        return items, await engine.study.due("ana"), await engine.study.due("ana")

    items, due, again = run(engine, scenario())
    assert items[0].id not in {i.id for i in due} | {i.id for i in again}
    assert {i.id for i in items[1:]} <= {i.id for i in due}  # the others still come back
    rebuilt = [i for i in due if i.id not in {i.id for i in items}]
    assert len(rebuilt) == 1 and rebuilt[0].section == NODES
    new_text = clean((docs / NODES).read_text())
    assert rebuilt[0].sentence in new_text and "zzz-removed" in new_text
    assert {i.id for i in due} == {i.id for i in again}  # the new item is due once, not rebuilt again
    store.close()
