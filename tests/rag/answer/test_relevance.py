"""Does the answer answer the question: the topic decides, what the question asks for is shown beside it."""

from __future__ import annotations

from rag.answer.relevance import MIN_TOPIC, relevance
from rag.text.lexical import TermStats

BOOK = TermStats.build(
    [
        "A topic is a named channel over which nodes exchange messages.",
        "A robot keeps its balance while walking by keeping the zero moment point inside the support polygon.",
        "A URDF file describes a robot's links and joints.",
        "Write a publisher in Python with create_publisher and publish a message every second.",
        "The robot falls when the zero moment point leaves the support polygon, because gravity tips it over.",
    ]
)


def test_an_answer_about_something_else_does_not_answer():
    """Made of the book's own sentences, so the checker passes it: only relevance sees it is off the point."""
    found = relevance("Why does my robot fall over when it walks?", "A URDF file describes a robot's links [1].", BOOK)
    assert not found.answers and found.topic < MIN_TOPIC
    assert found.asks == "why" and not found.shows
    assert found.reason.startswith("it holds") and found.reason.endswith("; no reason")


def test_the_answers_that_answer():
    on_point = relevance(
        "Why does my robot fall over when it walks?",
        "The robot falls when the zero moment point leaves the support polygon, because gravity tips it over [1].",
        BOOK,
    )
    assert on_point.answers and on_point.shows and on_point.reason == ""
    definition = relevance("What is a ROS 2 topic?", "A topic is a named channel over which nodes exchange messages.")
    assert definition.asks == "definition" and definition.shows and definition.answers
    how = relevance(
        "How do I write a publisher in Python?", "```python\nnode.create_publisher(String, 'chat', 10)\n```"
    )
    assert how.asks == "how" and how.shows


def test_what_the_question_asks_for_is_read_from_its_opening():
    """A question that asks "what is" later is not a request for a definition: only its topic decides."""
    found = relevance("My node runs, but what is wrong with the topic?", "A topic is a named channel [1].", BOOK)
    assert found.asks == "other" and found.shows
    missing = relevance("What is a topic?", "Nodes exchange messages over it [1].", BOOK)
    assert missing.asks == "definition" and not missing.shows


def test_words_the_book_never_uses_weigh_nothing():
    """Chat words ("ugh", "laptop") cannot make an answer off the point; "robot" in a robotics book weighs little."""
    found = relevance("ugh my laptop hates the publisher", "Write a publisher in Python with create_publisher.", BOOK)
    assert found.topic == 1.0
    assert relevance("robot balance", "The robot walks [1].", BOOK).topic < 0.5
