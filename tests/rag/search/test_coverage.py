"""Is a question covered by the book? The three signals, on hand-made stats and on the real sample book."""

from __future__ import annotations

import pytest

from rag.search.coverage import assess, specific_words
from rag.search.retrieval import Retriever
from rag.text.lexical import TermStats

BOOK = [
    "The MPU-6050 is a 6-axis IMU; the MPU-9250 adds a magnetometer.",
    "Gazebo simulates robots with physics engines.",
    "ROS 2 nodes exchange messages over topics.",
    "Calibrate the camera with a checkerboard.",
    "LIDAR scans suffer on reflective surfaces.",
]


@pytest.fixture
def stats() -> TermStats:
    return TermStats.build(BOOK)


@pytest.fixture
def vocabulary(embedder) -> frozenset[str]:
    """Everyday words: the embedding model's whole-word vocabulary."""
    return embedder.vocabulary


def test_specific_words_are_names_numbers_and_capitals(vocabulary):
    words = specific_words("Is Webots better than Gazebo for a humanoid? what about esp32 ugh", vocabulary)
    assert words == ["Webots", "Gazebo", "esp32"]  # "humanoid" is an everyday word, "ugh" too short for a name


def test_a_name_the_book_never_uses_is_not_covered(stats, vocabulary):
    coverage = assess("Is Webots better than Gazebo for simulating robots?", BOOK[1:2], 0.6, 0.3, stats, vocabulary)
    assert not coverage.covered and coverage.absent == ("Webots",) and "never mentions Webots" in coverage.reason


def test_exact_terms_cover_a_question_with_low_similarity(stats, vocabulary):
    coverage = assess(
        "What is the difference between an MPU-6050 and an MPU-9250?", BOOK[:1], 0.28, 0.3, stats, vocabulary
    )
    assert coverage.covered and coverage.term_coverage >= 0.6 and "key terms" in coverage.reason


def test_everyday_words_the_book_lacks_do_not_refuse(stats, vocabulary):
    coverage = assess("my lidar scans look weird near glass doors", BOOK[4:], 0.42, 0.3, stats, vocabulary)
    assert coverage.covered and coverage.absent == ()


def test_a_typo_of_a_book_word_is_not_a_name(stats, vocabulary):
    assert assess("How do I calibrte the camera?", BOOK[3:], 0.5, 0.3, stats, vocabulary).covered


def test_off_topic_question_is_not_covered(stats, vocabulary):
    coverage = assess("Who won the world cup?", BOOK[2:3], 0.1, 0.3, stats, vocabulary)
    assert not coverage.covered and "below 0.30" in coverage.reason


def test_sample_book_decisions(sample_store, embedder):
    retriever = Retriever(sample_store, embedder, 5, 0.3)
    assert retriever.search("What is the zero moment point?").covered
    assert not retriever.search("How do I flash micro-ROS onto an ESP32?").covered
    found = retriever.search("What does ros2 topic hz show?")
    assert found.covered and all(p.similarity > 0 for p in found.passages)  # real cosines, also for BM25 hits
    assert "hz" in found.passages[0].matched


@pytest.mark.parametrize(
    "question",
    [
        "What is a ROS 2 topic in 2024?",
        "What is a ROS 2 topic? (11)",
        "How do nodes exchange messages in my package turtle_mover?",
        "Why do nodes in ~/ros2_ws/src/my_pkg exchange no messages?",
        "I made a node called scan_fuser: how do nodes exchange messages over topics?",
    ],
)
def test_numbers_and_names_the_student_coined_are_no_missing_topic(stats, vocabulary, question):
    coverage = assess(question, BOOK[2:3], 0.45, 0.3, stats, vocabulary)
    assert coverage.covered and coverage.absent == ()


def test_a_product_name_the_book_never_uses_still_refuses_even_after_my(stats, vocabulary):
    coverage = assess("How do my ROS 2 nodes run on an ESP32?", BOOK[2:3], 0.5, 0.3, stats, vocabulary)
    assert not coverage.covered and coverage.absent == ("ESP32",)
    assert not assess("Can my ESP32 run ROS 2 nodes?", BOOK[2:3], 0.5, 0.3, stats, vocabulary).covered
