"""The report's tallies follow a page across a rename: counted by its Docusaurus id, shown by its latest name."""

from __future__ import annotations

import json

from rag.report.tallies import Activity, quiz


def source(title: str, url: str, doc_id: str | None, n: int = 1) -> dict:
    record = {"n": n, "id": f"{title}-{n}", "section": f"{title} › Publishing", "path": "p.md", "url": url}
    return record | {"chapter": "ROS 2"} | ({"doc_id": doc_id} if doc_id else {})


def answered(*sources: list[dict]) -> list[tuple]:
    """Rows as `rag.report.queries.answered` reads them, oldest first."""
    return [
        (f"2026-12-0{i + 1}T10:00", json.dumps(s), "excerpts", "m", True, 1, 0, None) for i, s in enumerate(sources)
    ]


def test_a_renamed_page_is_counted_once_under_its_latest_title():
    rows = answered(
        [source("Nodes", "https://b/docs/ros2/nodes#publishing", "ros2/nodes")],
        [source("Nodes and Topics", "https://b/docs/ros2/nodes#publishing", "ros2/nodes")],
        [source("Nodes and Topics", "https://b/docs/ros2/nodes-and-topics#publishing", "ros2/nodes")],  # slug moved
        [source("Launch", "https://b/docs/ros2/launch#publishing", "ros2/launch")],
    )
    activity = Activity.of(rows)
    pages = {c.label: (c.url, c.count) for c in activity.top_pages()}
    assert pages == {
        "Nodes and Topics": ("https://b/docs/ros2/nodes-and-topics", 3),
        "Launch": ("https://b/docs/ros2/launch", 1),
    }
    sections = {(c.label, c.count) for c in activity.top_sections({})}
    assert sections == {("Nodes and Topics › Publishing", 3), ("Launch › Publishing", 1)}


def test_answers_kept_before_ids_are_counted_by_their_url():
    rows = answered(
        [source("Nodes", "https://b/docs/ros2/nodes#a", None)],
        [source("Nodes (new title)", "https://b/docs/ros2/nodes#a", None)],
        [source("Nodes", "https://b/docs/other#a", None)],
    )
    pages = {(c.label, c.url, c.count) for c in Activity.of(rows).top_pages()}
    assert pages == {("Nodes (new title)", "https://b/docs/ros2/nodes", 2), ("Nodes", "https://b/docs/other", 1)}


def test_quiz_results_follow_the_page_by_its_id():
    def attempt(path: str, title: str, correct: bool) -> tuple:
        passage = {"title": title, "url": "https://b/docs/ros2/nodes#x", "doc_id": "ros2/nodes"}
        return (path, json.dumps(passage), "Q?", "A", "A is so.", correct)

    rows = [attempt("01-nodes.md", "Nodes", False), attempt("01-ros2-nodes.md", "ROS 2 Nodes", True)]
    (page,) = quiz(rows)
    assert (page.title, page.attempts, page.correct) == ("ROS 2 Nodes", 2, 1)
