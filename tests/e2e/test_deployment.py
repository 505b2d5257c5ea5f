"""A real multi-process deployment on loopback, everything started here: two `chainlit run app.py` behind
Debian's nginx (sticky sessions, WebSocket upgrade), one PostgreSQL 15, Debian's Redis, and one shared Qdrant
over HTTP (the Cloud code path, against the project's Qdrant stand-in server). docs/deployment.md
is written from this test: its nginx snippet is `harness.nginx.CONFIG`.

- a chat started through one process continues through the other with its memory and its owner;
- a chat resumed in the browser on the other process opens its citations' passages;
- the rate limit is one for both processes, with or without cookies across them;
- one process killed with SIGKILL loses nothing: the other serves, and the client resumes its chat.
"""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from harness.app import App
from harness.browser import MODEL_LINE, ask, last_answer, launch, open_chat, open_citation, wait_done
from harness.deployment import Deployment
from harness.nginx import Nginx
from rag.identity import UsersFile, hash_password
from tests.conftest import REPO
from web.ratelimit import LOGINS_PER_PAIR

pytestmark = pytest.mark.slow
LIMIT = 8  # questions per minute per identity, for the whole deployment
QUESTION = "What is a ROS 2 node?"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    running = Deployment(
        tmp_path_factory.mktemp("deployment"), RATE_LIMIT_PER_MINUTE=str(LIMIT), ALLOWED_ORIGINS="https://book.example"
    )
    yield running
    running.stop()


def test_a_chat_continues_on_another_process(deployment):
    first, second = deployment.apps
    with httpx.Client(timeout=60) as alice, httpx.Client(timeout=60) as mallory:
        started = alice.post(f"{first.url}/api/v1/chat", json={"content": QUESTION})
        assert started.status_code == 200 and started.json()["sources"]
        chat_id = started.json()["chat_id"]
        follow_up = alice.post(
            f"{second.url}/api/v1/chat", json={"content": "and how do I launch it?", "chat_id": chat_id}
        )
        assert follow_up.status_code == 200
        assert follow_up.json()["searched"] == f"and how do I launch it? + {QUESTION}"
        intruder = mallory.post(f"{second.url}/api/v1/chat", json={"content": "hi there robot", "chat_id": chat_id})
        assert intruder.status_code == 404


def test_only_the_allowed_origin_gets_cors_headers(deployment):
    first = deployment.apps[0]
    ask_ = {"Access-Control-Request-Method": "POST"}
    allowed = httpx.options(f"{first.url}/api/v1/chat", headers={"Origin": "https://book.example", **ask_})
    refused = httpx.options(f"{first.url}/api/v1/chat", headers={"Origin": "https://evil.example", **ask_})
    assert allowed.headers.get("access-control-allow-origin") == "https://book.example"
    assert refused.headers.get("access-control-allow-origin") is None


def test_only_the_own_and_allowed_origins_open_a_socket(deployment):
    """A page of another port or site cannot open Socket.IO with the visitor's cookies; the app's own pages,
    nginx's and ALLOWED_ORIGINS' can."""
    first, nginx = deployment.apps[0], deployment.nginx

    def handshake(url: str, origin: str) -> int:
        return httpx.get(f"{url}/ws/socket.io/?EIO=4&transport=polling", headers={"Origin": origin}).status_code

    assert handshake(first.url, "http://127.0.0.1:1") == 400  # another port of the same host
    assert handshake(first.url, "https://evil.example") == 400
    assert handshake(first.url, first.url) == 200
    assert handshake(first.url, "https://book.example") == 200
    assert handshake(nginx.url, nginx.url) == 200


def test_a_chat_resumed_on_the_other_process_shows_its_citation_panels(deployment):
    """Through nginx (Socket.IO over its WebSocket upgrade), then resumed directly on each process: the panels'
    files are in PostgreSQL, not on the disk of the process that wrote them."""
    (first, second), nginx = deployment.apps, deployment.nginx
    with launch() as browser:
        page = open_chat(browser, nginx.url)
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.reload()
        page.get_by_text("ROS 2 topics").wait_for(timeout=30_000)
        ask(page, "What is the zero moment point?")
        assert "zero moment point" in wait_done(page).lower()
        assert any(url.startswith(f"ws://127.0.0.1:{nginx.port}/ws/socket.io/") for url in sockets)
        for app in (first, second):  # the cookies of 127.0.0.1 hold for every port
            page.goto(app.url)
            page.locator("#thread-history").get_by_text("What is the zero moment point?").first.click()
            answer = last_answer(page)
            assert "support polygon" in open_citation(answer, 1).inner_text()
        page.screenshot(path=str(REPO / "test-output" / "deployment-resumed-chat.png"), full_page=True)


def test_the_rate_limit_is_shared_by_both_processes(deployment):
    (first, second), nginx = deployment.apps, deployment.nginx
    with httpx.Client(timeout=60) as student:
        statuses = [
            student.post(f"{app.url}/api/v1/chat", json={"content": QUESTION}).status_code
            for app in [first, second] * (LIMIT // 2)
        ]
        assert statuses == [200] * LIMIT
        assert student.post(f"{second.url}/api/v1/chat", json={"content": QUESTION}).status_code == 429
        assert student.post(f"{nginx.url}/api/v1/chat", json={"content": QUESTION}).status_code == 429


def test_nginx_keeps_a_client_on_one_process(deployment):
    nginx = deployment.nginx
    with httpx.Client(timeout=60) as student:
        student.get(f"{nginx.url}/api/v1/health")  # its first answer gives it its visitor cookie
        upstreams = {student.get(f"{nginx.url}/api/v1/health").headers["x-upstream"] for _ in range(6)}
    assert len(upstreams) == 1


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_x_forwarded_for_counts_only_from_trusted_proxies(deployment, tmp_path, trusted):
    """A client that is no proxy cannot shed the address limit by naming another address; behind a trusted
    proxy, the address it forwards is the client's."""
    app = App(tmp_path, **{**deployment.settings, "RATE_LIMIT_PER_ADDRESS": "2", "TRUSTED_PROXIES": trusted})
    try:
        statuses = [
            httpx.post(
                f"{app.url}/api/v1/chat", json={"content": QUESTION}, headers={"X-Forwarded-For": f"203.0.113.{n}"}
            ).status_code
            for n in range(3)
        ]
    finally:
        app.stop()
    assert statuses == ([200, 200, 429] if not trusted else [200, 200, 200])


def test_password_login_through_the_attempt_limit(deployment, tmp_path):
    """Chainlit's own /login behind the attempt limit: the right password logs in, guesses are 401 until the
    limit, then 429."""
    users = tmp_path / "users.json"
    UsersFile(users).save({"ina": {"password": hash_password("correct horse"), "role": "instructor"}})
    app = App(tmp_path, **{**deployment.settings, "USERS_FILE": str(users)})
    try:
        login = f"{app.url}/login"
        right = httpx.post(login, data={"username": "ina", "password": "correct horse"})
        guesses = [httpx.post(login, data={"username": "ina", "password": f"guess {n}"}).status_code for n in range(10)]
    finally:
        app.stop()
    assert right.status_code == 200 and "access_token" in right.cookies
    assert guesses[: LOGINS_PER_PAIR - 1] == [401] * (LOGINS_PER_PAIR - 1) and guesses[-1] == 429


def _client_on(nginx: Nginx, upstream: str) -> tuple[httpx.Client, dict]:
    """A new REST client that nginx sends to `upstream`, and its first answer."""
    for _ in range(30):
        client = httpx.Client(timeout=60)
        client.get(f"{nginx.url}/api/v1/health")  # its visitor cookie, which nginx places it by
        answer = client.post(f"{nginx.url}/api/v1/chat", json={"content": QUESTION})
        if answer.headers["x-upstream"] == upstream:
            return client, answer.json()
        client.close()
    raise AssertionError(f"no client reached {upstream} in 30 tries")


def test_a_process_killed_with_sigkill_loses_nothing(deployment):
    """The last test: it kills the process serving a browser and a REST client, mid-chat."""
    (first, second), nginx = deployment.apps, deployment.nginx
    with launch() as browser:
        sockets: list = []
        page = open_chat(browser, nginx.url, sockets=sockets)
        ask(page, QUESTION)
        wait_done(page)
        served = page.context.request.get(f"{nginx.url}/api/v1/health").headers["x-upstream"]
        student, started = _client_on(nginx, served)
        victim = first if served.endswith(f":{first.port}") else second
        before = list(sockets)
        os.killpg(victim.process.pid, signal.SIGKILL)
        victim.process.wait(10)
        for socket in before:  # the page sees its server gone (a message sent before would be lost with it)
            if not socket.is_closed():
                socket.wait_for_event("close", timeout=60_000)
        follow_up = student.post(
            f"{nginx.url}/api/v1/chat", json={"content": "and how do I launch it?", "chat_id": started["chat_id"]}
        )
        student.close()
        assert follow_up.status_code == 200 and follow_up.headers["x-upstream"] != served
        assert follow_up.json()["searched"] == f"and how do I launch it? + {QUESTION}"
        ask(page, "and how do I launch it?")  # the page reconnects to the survivor and goes on
        page.get_by_text(MODEL_LINE).nth(1).wait_for(timeout=120_000)
        assert "launch" in last_answer(page).inner_text().lower()
        page.get_by_text("Searching the textbook").last.click()  # its memory came along: a follow-up's search
        page.get_by_text(f"Searched for: and how do I launch it? + {QUESTION}").wait_for(timeout=10_000)
        page.reload()
        page.locator("#thread-history").get_by_text(QUESTION).first.wait_for(timeout=30_000)
