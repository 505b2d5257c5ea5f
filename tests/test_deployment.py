"""Several app processes serving one deployment: two `chainlit run app.py` on one real PostgreSQL server.
A chat started on the first continues on the second with its memory and its owner; the allowed origin (and
only it) gets CORS headers."""

from __future__ import annotations

import secrets

import httpx
import pytest

from harness.app import App, ingest_sample
from harness.postgres import Postgres

pytestmark = pytest.mark.slow
SECRET = secrets.token_urlsafe(40)  # the one every process of the deployment shares


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    postgres = Postgres()
    apps = []
    try:
        for name in ("first", "second"):
            data = tmp_path_factory.mktemp(name)
            ingest_sample(data / "qdrant")  # the embedded store is one process's; a deployment would use Qdrant Cloud
            apps.append(
                App(
                    data, DATABASE_URL=postgres.url, CHAINLIT_AUTH_SECRET=SECRET, ALLOWED_ORIGINS="https://book.example"
                )
            )
        yield apps
    finally:
        for app in apps:
            app.stop()
        postgres.stop()


def test_a_chat_continues_on_another_process(deployment):
    first, second = deployment
    with httpx.Client(timeout=60) as alice, httpx.Client(timeout=60) as mallory:
        started = alice.post(f"{first.url}/api/v1/chat", json={"content": "What is a ROS 2 node?"})
        assert started.status_code == 200
        chat_id = started.json()["chat_id"]
        follow_up = alice.post(
            f"{second.url}/api/v1/chat", json={"content": "and how do I launch it?", "chat_id": chat_id}
        )
        assert follow_up.status_code == 200
        assert follow_up.json()["searched"] == "and how do I launch it? + What is a ROS 2 node?"
        intruder = mallory.post(f"{second.url}/api/v1/chat", json={"content": "hi there robot", "chat_id": chat_id})
        assert intruder.status_code == 404


def test_only_the_allowed_origin_gets_cors_headers(deployment):
    first, _ = deployment
    ask = {"Access-Control-Request-Method": "POST"}
    allowed = httpx.options(f"{first.url}/api/v1/chat", headers={"Origin": "https://book.example", **ask})
    refused = httpx.options(f"{first.url}/api/v1/chat", headers={"Origin": "https://evil.example", **ask})
    assert allowed.headers.get("access-control-allow-origin") == "https://book.example"
    assert refused.headers.get("access-control-allow-origin") is None
