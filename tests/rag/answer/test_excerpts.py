"""The book-excerpts composer: what counts as an excerpt, and how an answer is chosen and ordered."""

from __future__ import annotations

import asyncio
import re

import pytest

from rag.answer.excerpts import MAX_WORDS, ExcerptComposer, ExcerptModel
from rag.answer.grounding import GroundingChecker
from rag.search.passage import Passage
from rag.search.retrieval import Retriever
from rag.text.candidates import embedding_texts, excerpts_of

LIDAR = """### LIDAR

**Purpose**: 3D environment mapping and distance measurement.

**Limitations**:
- Expensive
- Limited performance with reflective or transparent surfaces

LIDAR emits laser pulses and measures their time of flight. It works in
darkness as well as in daylight.

| Model | Price |
|---|---|
| Hokuyo | $1,000 |

Check your understanding: why does glass confuse a LIDAR?

```bash
ros2 topic echo /scan
```
"""

GLOSSARY = "## Z\n\n**ZMP (Zero Moment Point)**\n: Concept in bipedal robotics for maintaining balance.\n"


def test_excerpts_keep_lists_with_their_lead_in_rows_with_their_columns_and_skip_questions():
    texts = [e.text for e in excerpts_of(1, LIDAR)]
    assert "**Limitations**: Expensive; Limited performance with reflective or transparent surfaces." in texts
    assert "LIDAR emits laser pulses and measures their time of flight." in texts
    assert "It works in darkness as well as in daylight." in texts  # a hard-wrapped sentence, whole
    assert "Model: Hokuyo; Price: $1,000." in texts
    assert not any(t.endswith("?") for t in texts)
    assert any(e.code and "ros2 topic echo /scan" in e.text for e in excerpts_of(1, LIDAR))


def test_glossary_entries_join_the_term_and_its_definition():
    assert [e.text for e in excerpts_of(1, GLOSSARY)] == [
        "**ZMP (Zero Moment Point)**: Concept in bipedal robotics for maintaining balance."
    ]


def test_answer_picks_relevant_excerpts_cites_them_and_stays_short(embedder):
    composer = ExcerptComposer(embedder.embed_texts)
    other = "Gazebo simulates robots. It ships physics engines. Worlds are written in SDF."
    text = composer.compose(
        "Why does my lidar struggle with glass doors?", [other, LIDAR], ["Gazebo", "Sensors › LIDAR"]
    )
    assert "reflective or transparent surfaces [2]" in text
    assert "[1]" not in text or text.index("[2]") < text.index("[1]")  # the best passage leads
    assert len(text.split()) <= MAX_WORDS
    assert composer.compose("anything", []) == ""


NODES = (
    "A **node** is a single process in the ROS 2 graph that performs one job, such as reading a lidar. Splitting a "
    "robot into small nodes means each part can be written and tested on its own. Nodes find each other "
    "automatically through the DDS discovery protocol, so no central master process is needed."
)
TOPICS = "A **topic** is a named channel over which nodes exchange messages. One topic can have many publishers."


def test_explaining_a_selection_gives_its_context_not_the_selection_again(embedder):
    composer = ExcerptComposer(embedder.embed_texts)
    question = "Explain “Nodes find each other automatically through the DDS discovery protocol”"
    selection = "Nodes find each other automatically through the DDS discovery protocol"  # most of the sentence
    assert "DDS" in composer.compose(question, [NODES, TOPICS])  # without the selection: the sentence itself
    explained = composer.compose(question, [NODES, TOPICS], read=selection)
    assert "DDS" not in explained and "single process" in explained
    only = "Nodes find each other automatically through the DDS discovery protocol, so no master is needed."
    assert "DDS" in composer.compose(question, [only], read=only)  # all the book has: then it says it


def test_the_page_being_read_leads_when_it_answers_nearly_as_well(embedder):
    composer = ExcerptComposer(embedder.embed_texts)
    question = "How do nodes talk to each other?"
    plain = composer.compose(question, [TOPICS, NODES])
    assert plain.startswith("A **topic**")
    read = composer.compose(question, [TOPICS, NODES], preferred=[False, True])
    assert read.startswith("A **node**") and "A **topic**" in read  # the page's sentence first, the rest kept
    unrelated = "Gazebo simulates robots with physics engines. Worlds are written in SDF."
    assert composer.compose(question, [TOPICS, unrelated], preferred=[False, True]).startswith("A **topic**")


def test_a_question_asking_what_something_is_prefers_its_definition(embedder, monkeypatch):
    import rag.answer.excerpts

    references = (
        "Foundation for bipedal walking control using ZMP.\n\nKajita used ZMP preview control: a gait generator.\n"
    )
    candidates = excerpts_of(1, references) + excerpts_of(2, GLOSSARY + "\n**Gait**: a walking pattern.\n")
    composer = ExcerptComposer(embedder.embed_texts)

    def score(question):
        return composer._scores(question, candidates, *composer._vectors(question, [(candidates, None)]), question)

    asked = {q: score(q) for q in ("what is ZMP?", "which papers cover ZMP?")}
    monkeypatch.setattr(rag.answer.excerpts, "DEFINITION_BONUS", 1.0)
    gain = {q: scores / score(q) for q, scores in asked.items()}
    # Only the definition of what was asked gains: not a sentence that names it before a colon, not another entry.
    assert [round(float(g), 2) for g in gain["what is ZMP?"]] == [1.0, 1.0, 1.2, 1.0]
    assert [round(float(g), 2) for g in gain["which papers cover ZMP?"]] == [1.0] * 4


@pytest.mark.parametrize(
    ("meta", "section", "body", "body_section", "plain", "asks_meta"),
    [
        (
            "Foundation for bipedal walking control using ZMP; Vukobratovic, M. (2004).",
            "References › Foundational Papers › Humanoid Robotics",
            "**ZMP (Zero Moment Point)**: the point where the ground reaction force acts on a walking robot.",
            "Glossary › Z",
            "ZMP for walking robots",
            "references on ZMP",
        ),
        (
            "A VLA model maps camera images and an instruction to action tokens that become motor commands.",
            "Vision-Language-Action Models › Summary",
            "Each action token is decoded back to a joint position target, which the motor controller tracks.",
            "Vision-Language-Action Models › Action tokens",
            "How do action tokens become motor commands?",
            "a summary of how action tokens become motor commands",
        ),
    ],
    ids=["references", "summary"],
)
def test_a_section_about_the_book_leads_only_when_asked_for(
    embedder, meta, section, body, body_section, plain, asks_meta
):
    """A reference list, or a summary restating the page, points away from where the book says it."""
    found = [
        Passage(str(n), text, "", where, "", "", "", 0.0, 0.0)
        for n, (text, where) in enumerate([(meta, section), (body, body_section)])
    ]
    composer = ExcerptComposer(embedder.embed_texts)
    lead = composer.lead(plain, found)
    assert lead is not None and lead.passage == 2
    lead = composer.lead(asks_meta, found)
    assert lead is not None and lead.passage == 1


def test_excerpt_model_streams_the_composition_word_by_word(embedder):
    from types import SimpleNamespace

    from rag.search.passage import Passage

    passage = Passage("p", LIDAR, "Sensors", "Sensors › LIDAR", "LIDAR", "", "s.md", 0.1, 0.5)
    context = SimpleNamespace(
        query="What are the limitations of LIDAR?", passages=[passage], query_vector=None, reading=None, question=""
    )
    model = ExcerptModel(ExcerptComposer(embedder.embed_texts), context)

    async def run():
        return [event async for event in model.stream_response()]

    events = asyncio.run(run())
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert len(deltas) > 5 and "".join(deltas) == events[-1].response.output[0].content[0].text


def test_ingest_stores_the_excerpt_vectors_so_a_question_embeds_only_itself(sample_store, embedder):
    """The book's sentences are embedded once, at ingest: answering then embeds the question alone, and the
    answer is the one composed from sentences embedded on the spot."""
    question = "How does a humanoid robot keep its balance while walking?"
    passages = Retriever(sample_store, embedder, 5, 0.3).search(question).passages
    for p in passages:
        assert p.excerpt_vectors is not None and len(p.excerpt_vectors) == len(embedding_texts(p.text, p.breadcrumb))
    embedded: list[int] = []

    def counting(texts):
        embedded.append(len(texts))
        return embedder.embed_texts(texts)

    composer = ExcerptComposer(counting)
    texts, contexts = [p.text for p in passages], [p.breadcrumb for p in passages]
    stored = composer.compose(question, texts, contexts, [p.excerpt_vectors for p in passages])
    assert embedded == [1]
    assert stored and stored == composer.compose(question, texts, contexts)
    assert embedded[1] == 1 + sum(len(embedding_texts(t, c)) for t, c in zip(texts, contexts, strict=True))
    # With the question's vector from the search as well, nothing is embedded at all.
    asked = Retriever(sample_store, embedder, 5, 0.3).search(question).vector
    assert composer.compose(question, texts, contexts, [p.excerpt_vectors for p in passages], asked) == stored
    assert len(embedded) == 2


LESSON = """Publishers send messages on a topic. A publisher is created with `create_publisher`.

In the next lesson, you'll learn how to write a subscriber. This section explores the publisher API.
Now that you can publish, you'll move on to subscribers.

See [the ROS docs](https://docs.ros.org), [rclpy](https://docs.ros.org/rclpy) and [tutorials](https://x.org/t).

```python
self.publisher = self.create_publisher(String, "chatter", 10)
self.publisher.publish(msg)
```

| Command | What it shows |
|---|---|
| `ros2 topic echo /chatter` | Messages as they arrive |
| `ros2 topic hz /chatter` | The publishing rate |
"""


def test_navigation_lesson_plans_and_link_lists_are_no_excerpts():
    texts = [e.text for e in excerpts_of(1, LESSON)]
    assert "Publishers send messages on a topic." in texts
    assert not any(
        "next lesson" in t or "section explores" in t or "move on" in t or "docs.ros.org" in t for t in texts
    )
    assert [e.cells for e in excerpts_of(1, LESSON) if e.cells][0] == (
        "`ros2 topic echo /chatter`",
        "Messages as they arrive",
    )
    assert not excerpts_of(1, "**Tip: Use simulated time**\n\nSet `use_sim_time` on every node.")[0].text.startswith(
        "**"
    )


def test_a_how_to_answer_leads_with_the_answer_shows_the_code_and_renders_rows_as_a_table(embedder):
    composer = ExcerptComposer(embedder.embed_texts)
    text = composer.compose("How do I publish a message in Python?", [LESSON], ["Nodes › Writing a publisher"])
    assert "```python\nself.publisher = self.create_publisher" in text  # the code that does it
    assert not re.search(r"^\[\d+\]$", text, re.MULTILINE)  # no citation on a line of its own
    rows = composer.compose("Which command shows the publishing rate of /chatter?", [LESSON], ["Nodes › Commands"])
    assert rows.startswith("| Command | What it shows |\n|---|---|\n")  # the row that answers leads, as a table
    assert "| `ros2 topic hz /chatter` | The publishing rate [1] |" in rows
    checked = GroundingChecker(embedder.embed_texts).check(rows, [LESSON])
    assert "| Command | What it shows |\n" in checked.text  # the header row is layout: nothing cited into it


def test_code_alone_in_an_answer_is_introduced_by_its_section_cited(embedder):
    code = "```bash\nros2 run demo_nodes_cpp talker\n```"
    text = ExcerptComposer(embedder.embed_texts).compose("What command runs the talker?", [code], ["Nodes › Running"])
    assert text == f"From *Running* [1]:\n\n{code}"
