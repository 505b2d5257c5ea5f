"""The book changes while the deployment serves: a re-ingest into the shared Qdrant (the stand-in server, the
Qdrant Cloud code path) reaches both app processes with no restart: each answers from the new page, cites it, and
quizzes on it, once it has read the book's new version (`rag.search.book.FOLLOW_SECONDS`)."""

from __future__ import annotations

import shutil

import pytest

from harness.app import SAMPLE_DOCS, answer_citing, http, ingest_sample, wait_until
from harness.deployment import Deployment

pytestmark = pytest.mark.slow
LAB = "05-labs/01-trampoline-lab.md"
PAGE = """---
title: Trampoline Lab
---

# Trampoline Lab

## The lab trampoline

The lab trampoline has a spring constant of 950 newtons per metre. A humanoid robot that lands on it must bend
its knees to absorb the rebound, or the rebound throws it off balance.

A **spring constant** is the force a spring needs for each metre it is stretched. The **rebound** is the upward
push the trampoline gives back to the robot after it lands.
"""
QUESTION = "What is the spring constant of the lab trampoline?"
WAIT = 60  # seconds at most for a process to follow the book (it asks for the version every 2 s)


def answered_from_the_lab(url: str) -> bool | None:
    body = answer_citing(url, QUESTION, LAB)
    return True if body and "950" in body["answer"] else None


def quizzes_on_the_lab(url: str) -> bool | None:
    status, body = http("POST", url + "/api/v1/quiz", {"section": LAB, "n": 2})
    assert status in (200, 404), body  # 404: no such page, until the process reads the new book
    return True if status == 200 and all(item["sources"][0]["path"] == LAB for item in body["items"]) else None


def wait_for(state, url: str) -> None:
    wait_until(lambda: state(url), WAIT, f"{url}: {state.__name__}")


def test_a_re_ingest_reaches_every_process_without_a_restart(tmp_path):
    docs = shutil.copytree(SAMPLE_DOCS, tmp_path / "docs")
    deployment = Deployment(tmp_path / "deployment", source=docs)
    try:
        urls = [app.url for app in deployment.apps]
        for url in urls:
            assert not answered_from_the_lab(url) and not quizzes_on_the_lab(url)  # each has read the old book
        (docs / "05-labs").mkdir()
        (docs / LAB).write_text(PAGE)
        ingest_sample(None, docs, QDRANT_CLUSTER_ENDPOINT=deployment.qdrant.url)
        for url in urls:
            wait_for(answered_from_the_lab, url)
            wait_for(quizzes_on_the_lab, url)
    finally:
        deployment.stop()
