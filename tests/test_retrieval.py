"""Hybrid search reranked by each passage's best sentence, on hand-made passages and on the sample book."""

from __future__ import annotations

import numpy as np

from rag.search.retrieval import Passage, Reading, Retriever, by_best_sentence, read_first


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
    """ "How do I pass parameters to a node?" is answered best by the parameters lesson; read from the launch
    files lesson, that page's passage comes first and the parameters lesson still counts."""
    retriever = Retriever(sample_store, embedder, 5, 0.3)
    question = "How do I pass parameters to a node?"
    book = retriever.search(question).passages
    assert book[0].doc_id == "ros2-basics/services-and-parameters"
    reading = retriever.search(question, reading=Reading("ros2-basics/launch-files")).passages
    assert reading[0].doc_id == "ros2-basics/launch-files" and len(reading) == 5
    assert any(p.doc_id == "ros2-basics/services-and-parameters" for p in reading)
    elsewhere = retriever.search(question, reading=Reading("humanoid-control/kinematics")).passages
    assert [p.id for p in elsewhere] == [p.id for p in book]  # a page that does not answer changes nothing


def test_the_section_being_read_leads_its_page():
    found = [passage(1, None), passage(2, None)]
    page = [
        Passage("a", "", "", "", "", "", "", 0.5, 0.60, doc_id="d", anchor="intro"),
        Passage("b", "", "", "", "", "", "", 0.4, 0.55, doc_id="d", anchor="setup"),
        Passage("c", "", "", "", "", "", "", 0.3, 0.20, doc_id="d", anchor="setup"),  # does not answer
    ]
    ranked = read_first(found, page, Reading("d", "setup"), 4)
    assert [p.id for p in ranked] == ["b", "a", "1", "2"]
