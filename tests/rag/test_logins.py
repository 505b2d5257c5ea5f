"""Logged-in users against the real app (`chainlit run` with a users file), for the faults of issue "Hardening,
round 2" that live in Chainlit's own routes and cookies:

- a session ends at logout, at the user's removal and at a change of their role, for every copy of its token;
- feedback can be given or taken back only on one's own chats;
- an unknown thread is a 404, not a 500;
- over https (behind a trusted proxy), the session cookie is `Secure`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, insert, select

from harness.app import App, ingest_sample
from rag.db.schema import feedbacks, steps, threads, users
from rag.identity import UsersFile, hash_password
from rag.users import main as users_main

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
PEOPLE = {"ina": "instructor", "ivy": "instructor", "sam": "student", "sue": "student", "eve": "student"}
QUESTION = {"content": "What is a ROS 2 node?"}


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[tuple[App, Path]]:
    data = tmp_path_factory.mktemp("logins")
    ingest_sample(data / "qdrant")
    users_file = data / "users.json"
    UsersFile(users_file).save({name: {"password": hash_password(PASSWORD), "role": r} for name, r in PEOPLE.items()})
    running = App(data, USERS_FILE=str(users_file), CHAINLIT_AUTH_SECRET="l" * 48, STUDENT_PROFILES="excerpts")
    yield running, users_file
    running.stop()


def _login(app: App, name: str, **headers: str) -> httpx.Client:
    client = httpx.Client(base_url=app.url, timeout=60, headers=headers)
    assert client.post("/login", data={"username": name, "password": PASSWORD}).status_code == 200
    return client


def _holding(app: App, token: str) -> tuple[httpx.Client, httpx.Client]:
    """Two copies of a session token: in a cookie (a browser) and as a bearer token (a script)."""
    browser = httpx.Client(base_url=app.url, timeout=60, cookies={"access_token": token})
    script = httpx.Client(base_url=app.url, timeout=60, headers={"Authorization": f"Bearer {token}"})
    return browser, script


def test_logout_ends_the_session_for_every_copy_of_its_token(app):
    running, _ = app
    ina = _login(running, "ina")
    browser, script = _holding(running, ina.cookies["access_token"])
    assert browser.get("/instructor").status_code == 200 and script.post("/api/v1/chat", json=QUESTION).is_success
    assert ina.post("/logout").status_code == 200
    assert browser.get("/instructor").status_code == 401
    assert browser.get("/user").status_code == 401  # Chainlit's own routes, and so its chat socket
    assert script.post("/api/v1/chat", json=QUESTION).status_code == 401
    assert _login(running, "ina").get("/instructor").status_code == 200  # logging in again works


def test_removing_a_user_or_changing_their_role_ends_their_sessions(app, monkeypatch):
    running, users_file = app
    sue, ivy = _login(running, "sue"), _login(running, "ivy")
    assert sue.post("/api/v1/chat", json=QUESTION).is_success and ivy.get("/instructor").status_code == 200
    assert users_main(["--file", str(users_file), "remove", "sue"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert users_main(["--file", str(users_file), "add", "ivy", "--role", "student", "--password-stdin"]) == 0
    assert sue.post("/api/v1/chat", json=QUESTION).status_code == 401
    assert ivy.get("/instructor").status_code == 401  # the instructor's session is over, not merely demoted
    assert _login(running, "ivy").get("/instructor").status_code == 403  # a new login is a student's


def _seed_chat(running: App, owner: str) -> tuple[str, str]:
    """A chat of `owner` with one answer, as the UI records it; its thread id and the answer's step id."""
    engine = create_engine(f"sqlite:///{running.env['DATA_DIR']}/tutor.db")
    stamp = datetime.now(UTC).isoformat()
    with engine.begin() as connection:
        user_id = connection.execute(select(users.c.id).where(users.c.identifier == owner)).scalar_one()
        thread, step = f"thread-of-{owner}", f"answer-of-{owner}"
        connection.execute(insert(threads).values(id=thread, createdAt=stamp, userId=user_id, userIdentifier=owner))
        answer = {"name": "Tutor", "type": "assistant_message", "output": "A node is a process.", "createdAt": stamp}
        connection.execute(insert(steps).values(id=step, threadId=thread, streaming=False, **answer))
    engine.dispose()
    return thread, step


def _feedback_rows(running: App) -> list[tuple]:
    engine = create_engine(f"sqlite:///{running.env['DATA_DIR']}/tutor.db")
    with engine.connect() as connection:
        rows = connection.execute(select(feedbacks.c.id, feedbacks.c.forId, feedbacks.c.value)).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_feedback_is_given_and_taken_back_by_the_chats_owner_only(app):
    running, _ = app
    sam, eve = _login(running, "sam"), _login(running, "eve")
    thread, step = _seed_chat(running, "sam")
    eves_thread, _ = _seed_chat(running, "eve")
    down = {"forId": step, "value": 0, "comment": "wrong"}
    for feedback in (down, {**down, "threadId": eves_thread}):
        refused = eve.put("/feedback", json={"feedback": feedback, "sessionId": "s"})
        assert refused.status_code == 404 and refused.json()["detail"] == "No such message in your chats."
    assert _feedback_rows(running) == []
    given = sam.put("/feedback", json={"feedback": {**down, "threadId": thread}, "sessionId": "s"})
    assert given.status_code == 200 and given.json()["success"]
    feedback_id = given.json()["feedbackId"]
    overwrite = eve.put("/feedback", json={"feedback": {**down, "id": feedback_id, "value": 1}, "sessionId": "s"})
    assert overwrite.status_code == 404
    assert eve.request("DELETE", "/feedback", json={"feedbackId": feedback_id}).status_code == 404
    assert _feedback_rows(running) == [(feedback_id, step, 0)]
    assert sam.request("DELETE", "/feedback", json={"feedbackId": feedback_id}).status_code == 200
    assert _feedback_rows(running) == []


def test_an_unknown_thread_is_a_404(app):
    running, _ = app
    sam = _login(running, "sam")
    renamed = sam.put("/project/thread", json={"threadId": "no-such-thread", "name": "x"})
    deleted = sam.request("DELETE", "/project/thread", json={"threadId": "no-such-thread"})
    assert renamed.status_code == deleted.status_code == 404


def test_the_session_cookie_is_secure_over_https_only(app):
    running, _ = app
    form = {"username": "sam", "password": PASSWORD}
    behind_tls = httpx.post(f"{running.url}/login", data=form, headers={"X-Forwarded-Proto": "https"})
    plain = httpx.post(f"{running.url}/login", data=form)
    for response, secure in ((behind_tls, True), (plain, False)):
        [cookie] = [c for c in response.headers.get_list("set-cookie") if c.startswith("access_token=")]
        assert ("; secure" in cookie.lower()) is secure
