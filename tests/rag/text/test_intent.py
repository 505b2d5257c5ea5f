"""What a question asks for (`rag.text.intent`): the head of what a "what is" question names, and definitions."""

from __future__ import annotations

import pytest

from rag.text.intent import asked_head, defines, section_weight
from rag.text.lexical import content_terms


@pytest.mark.parametrize(
    ("question", "head"),
    [
        ("What is a ROS 2 topic?", "topic"),
        ("What is a node in ROS 2?", "node"),
        ("what is ZMP when people talk about walking robots?", "zmp"),
        ("What does QoS stand for?", "qos"),
        ("What is the difference between a service and a topic?", None),  # a comparison: no definition asked
        ("How do I launch two nodes?", None),
    ],
)
def test_a_what_is_question_names_its_head(question, head):
    assert asked_head(question) == head


def test_only_a_definition_of_the_head_counts():
    question = "What is a ROS 2 topic?"
    terms, head = set(content_terms(question)), asked_head(question)
    assert defines("A **topic** is a named channel over which nodes exchange messages.", terms, head)
    assert not defines("ROS 2 (Robot Operating System 2) is a middleware.", terms, head)


def test_a_section_about_the_book_weighs_less_unless_asked_for():
    assert section_weight("What is a topic?", "Nodes and Topics › Summary") == 0.5
    assert section_weight("Summarise the nodes lesson", "Nodes and Topics › Summary") == 1.0
    assert section_weight("What is a topic?", "Nodes and Topics › What is a topic?") == 1.0
