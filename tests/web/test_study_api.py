"""Study mode over REST with two identities (the same rules as /chat), and the instructor view's quiz panel on
the results they leave."""

from __future__ import annotations

import re

import pytest

from rag.identity import VISITOR_COOKIE
from tests.api_client import api_client, open_instructor_view

NODES = "01-ros2-basics/01-nodes-and-topics.md"


@pytest.fixture
def factory(make_engine, tmp_path, env):
    env(DATA_DIR=str(tmp_path / "data"))
    engine = make_engine()
    return lambda: engine


def visitor(factory):
    client = api_client(factory)
    client.get("/api/v1/health")  # the visitor cookie
    assert VISITOR_COOKIE in client.cookies
    return client


def test_a_quiz_over_rest_with_its_keys_citations_and_sources(factory):
    ana = visitor(factory)
    body = ana.post("/api/v1/quiz", json={"section": NODES, "n": 3}).json()
    items = body["items"]
    assert len(items) == 3 and items[0]["kind"] == "free" and items[0]["choices"] is None
    for item in items:
        assert set(item) >= {"id", "kind", "question", "choices", "answer", "cites", "sources"}
        [source] = item["sources"]
        assert item["cites"] == [1] and source["n"] == 1 and source["path"] == NODES and source["text"]
    choice = next((i for i in items if i["kind"] == "choice"), None)
    if choice:
        assert choice["choices"].count(choice["answer"]) == 1


def test_answers_and_reviews_are_each_identity_s_own(factory):
    ana, bo = visitor(factory), visitor(factory)
    item = ana.post("/api/v1/quiz", json={"section": NODES, "n": 2}).json()["items"][1]
    assert bo.post(f"/api/v1/quiz/{item['id']}/answer", json={"response": item["answer"]}).status_code == 404
    wrong = ana.post(f"/api/v1/quiz/{item['id']}/answer", json={"response": "a database"}).json()
    assert wrong["correct"] is False and item["sentence"] in wrong["feedback"] and wrong["cites"] == [1]
    assert wrong["follow_up"] is not None and wrong["follow_up"]["sources"][0]["path"] == NODES
    right = ana.post(f"/api/v1/quiz/{item['id']}/answer", json={"response": item["answer"].upper()}).json()
    assert right["correct"] is True
    assert ana.get("/api/v1/review").json()["items"] == []  # nothing is due yet: a miss comes back in a minute
    assert bo.get("/api/v1/review").json()["items"] == []


def test_answers_count_against_the_rate_limit_as_chat_messages_do(factory, env):
    env(RATE_LIMIT_PER_MINUTE="2")
    ana = visitor(factory)
    item = ana.post("/api/v1/quiz", json={"section": NODES, "n": 1}).json()["items"][0]
    answered = [ana.post(f"/api/v1/quiz/{item['id']}/answer", json={"response": "x"}) for _ in range(2)]
    assert [r.status_code for r in answered] == [200, 429] and answered[1].headers["retry-after"]
    assert visitor(factory).post("/api/v1/quiz", json={"section": NODES, "n": 1}).status_code == 200


def test_bad_quiz_requests_say_what_to_send(factory):
    ana, bo = visitor(factory), visitor(factory)
    nothing = ana.post("/api/v1/quiz", json={})
    assert nothing.status_code == 422
    missing = ana.post("/api/v1/quiz", json={"section": "no/such/page"})
    assert missing.status_code == 404 and missing.json()["detail"].startswith("No page")
    assert ana.post("/api/v1/quiz", json={"chat_id": "no-question-yet"}).status_code == 404
    asked = ana.post("/api/v1/chat", json={"content": "What is the zero moment point?"}).json()
    on_chat = ana.post("/api/v1/quiz", json={"chat_id": asked["chat_id"], "n": 2}).json()["items"]
    assert on_chat[0]["sources"][0]["path"] == "04-humanoid-control/02-balance-and-walking.md"
    assert bo.post("/api/v1/quiz", json={"chat_id": asked["chat_id"]}).status_code == 404  # not bo's chat
    assert ana.post("/api/v1/quiz/not-an-id/answer", json={"response": "x"}).status_code == 422
    assert ana.put("/api/v1/quiz").status_code == 405


def test_the_instructor_view_shows_quiz_results_per_section(factory):
    students = [visitor(factory) for _ in range(3)]
    for student in students:  # each misses the first item; one gets the second right
        items = student.post("/api/v1/quiz", json={"section": NODES, "n": 2}).json()["items"]
        student.post(f"/api/v1/quiz/{items[0]['id']}/answer", json={"response": "no idea"})
    first = items[0]
    students[-1].post(f"/api/v1/quiz/{items[1]['id']}/answer", json={"response": items[1]["answer"]})
    instructor = open_instructor_view(api_client(factory))
    report = instructor.get("/api/v1/instructor/report").json()
    [section] = report["quiz"]
    assert section["title"] == "Nodes and Topics" and section["attempts"] == 4 and section["correct"] == 1
    assert section["missed"][0]["misses"] == 3 and section["missed"][0]["sentence"] == first["sentence"]
    page = instructor.get("/instructor").text
    panel = page[page.index('id="quiz"') :]
    assert "Quiz results per section" in panel and "25%" in panel and first["sentence"] in panel
    assert re.search(r'href="#gaps">See the coverage gaps', panel)  # a weak section links to the gaps
