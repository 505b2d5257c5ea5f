"""Hybrid search reranked by each passage's best sentence, on hand-made passages and on the sample book."""

from __future__ import annotations

from dataclasses import fields
from typing import cast

import numpy as np
import pytest

from rag.search.passage import BOOK_FIELDS, Passage, Reading
from rag.search.retrieval import Retriever, by_best_sentence, read_first, search_queries
from rag.store.payload import ChunkPayload


def passage(n: int, sentences: list[list[float]] | None) -> Passage:
    vectors = None if sentences is None else np.array(sentences, dtype=np.float32)
    return Passage(str(n), f"text {n}", "", "", "", "", "", 1.0 / n, 0.5, excerpt_vectors=vectors)


def test_a_passage_whose_one_sentence_answers_moves_up_and_the_pool_is_cut_to_k():
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    off, near = [0.0, 1.0], [0.6, 0.8]
    pool = [passage(1, [off]), passage(2, [off, [1.0, 0.0]]), *(passage(n, [near]) for n in range(3, 7))]
    ranked = by_best_sentence(pool, query, 3)
    assert [p.id for p in ranked] == ["2", "1", "3"]  # the hybrid's second holds the sentence that answers
    assert ranked[0].score > ranked[1].score


def test_without_stored_sentence_vectors_the_hybrid_order_stays():
    pool = [passage(n, None) for n in range(1, 6)]
    assert [p.id for p in by_best_sentence(pool, np.array([[1.0, 0.0]]), 5)] == ["1", "2", "3", "4", "5"]


def test_the_code_heavy_publisher_section_is_found_for_a_how_to_question(sample_store, embedder):
    """The sample book's "Writing a publisher in Python" is mostly code; its one prose sentence names it."""
    found = Retriever(sample_store, embedder, 5, 0.3).search("what is the queue depth argument of create_publisher?")
    assert found.passages[0].breadcrumb.endswith("Writing a publisher in Python")


def test_the_page_being_read_leads_when_it_answers_and_not_otherwise(sample_store, embedder):
    """ "What is the difference between a service and a topic?" is answered best by the services lesson; read
    from the lesson on topics, that page's passage comes first and the services lesson still counts."""
    retriever = Retriever(sample_store, embedder, 5, 0.3)
    question = "What is the difference between a service and a topic?"
    book = retriever.search(question).passages
    assert book[0].doc_id == "ros2-basics/services-and-parameters"
    reading = retriever.search(question, reading=Reading("ros2-basics/nodes-and-topics")).passages
    assert reading[0].doc_id == "ros2-basics/nodes-and-topics" and len(reading) == 5
    assert any(p.doc_id == "ros2-basics/services-and-parameters" for p in reading)
    elsewhere = retriever.search(question, reading=Reading("humanoid-control/kinematics")).passages
    assert [p.id for p in elsewhere] == [p.id for p in book]  # a page that does not answer changes nothing


def read(n: str, answers: float, anchor: str = "", score: float = 0.0, doc: str = "d") -> Passage:
    return Passage(n, "", "", "", "", "", "", score, answers, doc_id=doc, anchor=anchor, sentence_similarity=answers)


def test_the_section_being_read_leads_its_page_and_the_book_still_counts():
    found = [
        read("1", 0.60, score=0.50, doc="book"),
        read("a", 0.57, "intro", score=0.30),
        read("b", 0.55, "setup", score=0.25),
        read("c", 0.30, "setup", score=0.20),  # of the page, but does not answer
        read("2", 0.40, score=0.10, doc="book"),
    ]
    ranked = [p.id for p in read_first(found, Reading("d", "setup"))]
    assert ranked[:3] == ["b", "a", "1"]  # the section, its page, then the book's best
    assert ranked[3:] == ["c", "2"]  # the rest in the book's order


def test_a_page_far_down_the_book_s_ranking_does_not_lead():
    found = [read(str(n), 0.60, score=1 / (n + 2), doc="book") for n in range(12)] + [read("late", 0.60, score=0.01)]
    assert read_first(found, Reading("d"))[0].id == "0"


@pytest.mark.parametrize(
    "question",
    ["and how do I launch it?", "How do I install it on Windows?", "What does that message contain?", "Why?"],
)
def test_a_question_that_leans_on_the_last_one_searches_both(question):
    assert search_queries(question, ["What is a ROS 2 node?"]) == [question, "What is a ROS 2 node?"]


@pytest.mark.parametrize(
    "question",
    [
        "Why does my robot fall over when it walks?",  # "it" is its own robot
        "How do I make sure that the node starts after the robot state publisher?",  # "that" joins a clause
        "What is a ROS 2 topic?",
    ],
)
def test_a_question_that_names_its_own_topic_is_searched_alone(question):
    assert search_queries(question, ["How are joints described in a URDF file?"]) == [question]


def test_the_fields_a_passage_is_read_from_are_a_stored_chunk_s_and_a_passage_s():
    """`BOOK_FIELDS` names, once, what the book's snapshot scrolls and study keeps: each is both a payload key and
    a passage field, and a passage kept as them reads back the same."""
    assert set(BOOK_FIELDS) <= set(ChunkPayload.__annotations__) & {f.name for f in fields(Passage)}
    kept = Passage("p1", "A node is a process.", "Nodes", "Nodes › What", "What", "/n", "n.md", 0, 0, chapter="R")
    assert Passage.from_hit("p1", cast(ChunkPayload, {n: getattr(kept, n) for n in BOOK_FIELDS}), 0.0, 0.0) == kept
