"""Quiz items from the book's own sentences, and their grading (`rag.study`), on passages written here."""

from __future__ import annotations

import pytest

from rag.answer.grounding import GroundingChecker
from rag.search.passage import Passage
from rag.study.facts import BLANK, facts_of, gives_away, normalized
from rag.study.grading import grade
from rag.study.items import Chapter, Item, ItemBuilder

TOPICS = """A **topic** is a named channel over which nodes exchange messages. A node that sends data is a
*publisher*; a node that receives it is a *subscriber*.

A **service** is a request-response call between two nodes: the client waits for one answer.

An **action** is a goal that takes time: the server sends feedback while it runs, and it can be cancelled.

A **parameter** is a named configuration value of a node, such as the maximum speed of a wheel.

The **ROS 2 graph** is the network of all running nodes and their connections through topics and services.
"""

TOOLS = """| Need | Use |
|------|-----|
| Continuous sensor data | Topic |
| A quick question with one answer | Service |
| A long task with progress and cancel | Action |
| Configuration | Parameter |
"""

LINKS = """## Further reading

- [ROS 2 documentation](https://docs.ros.org/en/humble/)
- [Gazebo tutorials](https://gazebosim.org/docs)
- [Design articles](https://design.ros2.org/)
"""

COMPONENTS = """**Graph Components**:

1. **Nodes**: Independent programs that each perform one specific task in the robot
2. **Topics**: Named channels for one-way, asynchronous data flow between nodes
3. **Publishers**: Nodes that send messages to a topic as they produce data
4. **Subscribers**: Nodes that receive the messages of a topic as they arrive
"""


def passage(n: int, text: str, section: str = "") -> Passage:
    breadcrumb = f"ROS 2 › {section or f'Part {n}'}"
    return Passage(f"p{n}", text, "ROS 2", breadcrumb, "", f"/book/ros2#part-{n}", "ros2.md", 0, 0, chapter="Module 1")


@pytest.fixture(scope="module")
def builder(embedder) -> ItemBuilder:
    return ItemBuilder(embedder.embed_texts, GroundingChecker(embedder.embed_texts))


@pytest.fixture(scope="module")
def checker(embedder) -> GroundingChecker:
    return GroundingChecker(embedder.embed_texts)


def quiz(builder: ItemBuilder, *texts: str, n: int = 6) -> list[Item]:
    passages = [passage(i, t) for i, t in enumerate(texts, 1)]
    return builder.build(passages, Chapter.of(passages), n)


def test_a_passage_that_is_only_a_list_of_links_gives_no_item(builder):
    assert facts_of(LINKS) == []
    assert quiz(builder, LINKS) == []


def test_a_table_row_gives_a_fill_in_item_with_its_key_column_blanked(builder):
    rows = [f for f in facts_of(TOOLS) if f.kind == "row"]
    assert [f.key for f in rows] == ["Topic", "Service", "Action", "Parameter"]  # "Use": short, tells rows apart
    assert rows[0].cloze == f"Need: Continuous sensor data; Use: {BLANK}."
    assert set(rows[0].choices) == {"Service", "Action", "Parameter"}  # the column's other cells
    tools = passage(1, TOOLS, "Choosing the right tool")
    items = builder.build([tools], Chapter.of([tools]), 1)
    assert items[0].kind == "fill" and items[0].answer == "Topic"
    assert (
        items[0].question == f"Fill in the blank: Choosing the right tool — Need: Continuous sensor data; Use: {BLANK}."
    )
    assert items[0].sentence == "Need: Continuous sensor data; Use: Topic."


def test_a_quiz_asks_in_your_own_words_first_then_choices_and_blanks(builder):
    items = quiz(builder, TOPICS, TOOLS)
    assert items[0].kind == "free" and items[0].question == "What is meant by “topic”? Answer in your own words."
    assert items[0].answer.startswith("A topic is a named channel")
    assert {"choice", "fill"} <= {item.kind for item in items[1:]}
    for item in items:
        assert item.sentence in item.passage.text.replace("**", "") or item.passage.text == TOOLS  # cites its sentence
        assert not gives_away(item.question, item.answer)  # a free item names its term: its answer is the sentence
    for item in (i for i in items if i.kind == "choice"):
        forms = [normalized(c) for c in item.choices]
        assert len(item.choices) == 4 and forms.count(normalized(item.answer)) == 1
        assert len(set(forms)) == 4  # no choice is a case or inflection variant of another


def test_distractors_come_from_the_list_and_are_never_the_answer_in_other_words(builder):
    [nodes] = [f for f in facts_of(COMPONENTS) if f.key == "Nodes"]
    assert set(nodes.choices) == {"Topics", "Publishers", "Subscribers"}  # the list's other entries
    items = quiz(builder, COMPONENTS, TOPICS, n=10)
    for item in (i for i in items if i.kind == "choice"):
        others = [c for c in item.choices if c != item.answer]
        assert all(not set(normalized(c).split()) & set(normalized(item.answer).split()) for c in others)


def test_sentences_that_lean_on_others_or_on_what_is_shown_give_no_item():
    leaning = (
        "This is why a **topic** is the most common channel in a robot system.\n\n"
        "In the example above the node publishes to **chatter** twice a second.\n\n"
        "**Cause**: the workspace was not sourced in this terminal before the run.\n"
    )
    assert [f.key for f in facts_of(leaning)] == []


def test_a_label_the_chapter_repeats_is_no_term(builder):
    faq = "\n\n".join(
        f"**Cause**: the {thing} was not set up before the robot was started for the run." for thing in "abc"
    )
    assert all(f.key != "Cause" for f in Chapter.of([passage(1, faq)]).facts if f.kind == "term")
    assert quiz(builder, faq) == []


@pytest.mark.parametrize("response", ["topic", "Topic", "  TOPICS ", "the topic", "A topic."])
def test_grading_accepts_the_key_in_any_case_spacing_or_inflection(checker, response):
    item = Item("fill", "?", "topic", "A topic is a named channel.", passage(1, TOPICS), key="topic")
    assert grade(item, response, checker).correct


def test_grading_rejects_every_distractor_and_takes_a_letter(builder, checker):
    items = [i for i in quiz(builder, TOPICS, TOOLS, COMPONENTS, n=12) if i.kind == "choice"]
    assert items
    for item in items:
        assert all(not grade(item, c, checker).correct for c in item.choices if c != item.answer)
        letter = "ABCD"[item.choices.index(item.answer)]
        assert grade(item, letter, checker).correct and grade(item, f"({letter.lower()})", checker).correct
        wrong = grade(item, next(c for c in item.choices if c != item.answer), checker)
        assert item.sentence in wrong.feedback and "[1]" in wrong.feedback  # the cited sentence is shown


def test_a_free_response_is_compared_with_the_book(checker):
    sentence = "A topic is a named channel over which nodes exchange messages."
    item = Item("free", "What is meant by “topic”?", sentence, sentence, passage(1, TOPICS), key="topic")
    assert grade(item, "a named channel that nodes use to exchange messages", checker).correct
    wrong = grade(item, "a topic is a database table that stores the robot's logs", checker)
    assert not wrong.correct and "What the passage says" in wrong.feedback and sentence in wrong.feedback
    assert not grade(item, "", checker).correct
    gyro = "Gyroscope: Measures angular velocity"
    sensor = Item("free", "What is meant by “Gyroscope”?", gyro, gyro, passage(1, gyro), key="Gyroscope")
    assert grade(sensor, "it measures angular speed", checker).correct
    assert not grade(sensor, "a gyroscope measures", checker).correct  # the term asked about is no answer
