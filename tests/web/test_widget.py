"""What the book's tutor widget needs from the app, without a browser: its sign-in token, the passages its
citations open, the chats it lists, the book served at /book/, and the plugin's options."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert

from rag.db.schema import threads, users
from rag.identity import VISITOR_COOKIE, UsersFile, hash_password, logged_in, session_token, visitor_from_cookie
from tests.api_client import api_client
from tests.conftest import REPO, unpooled
from web.book import BookBuild, BookSite
from web.widget import BUNDLE

SECRET = "s" * 48


@pytest.fixture
def client(make_engine):
    return api_client(lambda: make_engine())


def claims(token: str, secret: str) -> dict:
    return jwt.decode(token, secret, algorithms=["HS256"])


def test_the_widget_signs_in_as_the_browser_s_own_visitor(client):
    client.get("/api/v1/health")  # the first request gives the browser its visitor cookie
    visitor = visitor_from_cookie(client.app.state.access.secret, client.cookies[VISITOR_COOKIE])
    response = client.post("/api/v1/widget/token")
    assert response.status_code == 200
    token = claims(response.json()["accessToken"], client.app.state.access.secret)
    assert token["identifier"] == visitor.id and token["metadata"]["role"] == "student"
    assert token["exp"] - token["iat"] <= 300  # only long enough to be exchanged for Chainlit's session


def test_a_foreign_page_may_not_ask_for_a_widget_token(client, env):
    refused = client.post("/api/v1/widget/token", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "ALLOWED_ORIGINS" in refused.json()["detail"]
    own = client.post("/api/v1/widget/token", headers={"Origin": str(client.base_url)})
    assert own.status_code == 200


def test_with_login_the_widget_signs_in_with_the_chat_s_session_or_is_sent_to_log_in(make_engine, env, tmp_path):
    path = tmp_path / "users.json"
    UsersFile(path).save({"sam": {"password": hash_password("pw"), "role": "student"}})
    env(USERS_FILE=str(path), CHAINLIT_AUTH_SECRET=SECRET)
    client = api_client(lambda: make_engine())
    anonymous = client.post("/api/v1/widget/token")
    assert anonymous.status_code == 401 and anonymous.json()["login_url"] == "/login"
    session = logged_in("sam", "student", "password")
    client.cookies.set("access_token", session_token(session, SECRET, 3600))
    token = claims(client.post("/api/v1/widget/token").json()["accessToken"], SECRET)
    assert token["identifier"] == "sam" and token["metadata"]["session"] == session.session  # logout ends it too
    bearer = api_client(lambda: make_engine())
    service = bearer.post(
        "/api/v1/widget/token", headers={"Authorization": "Bearer " + session_token(session, SECRET, 60)}
    )
    assert service.status_code == 401  # a widget signs in with the browser's session, not a bearer token


def test_a_cited_passage_opens_by_its_id(client, make_engine):
    found = make_engine().retriever.search("What is a ROS 2 topic?").passages[0]
    body = client.get(f"/api/v1/passages/{found.id}").json()
    assert body["text"] == found.text and body["doc_id"] == found.doc_id and body["anchor"] == found.anchor
    # the chat page's panel shows it in the book's paragraphs, and links to it in the book
    assert body["html"].startswith("<p>") and "<br" not in body["html"]
    assert body["link"].startswith(found.url.partition("#")[0]) and f"tutor-cite={found.id}" in body["link"]
    assert client.get("/api/v1/passages/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/api/v1/passages/not-an-id").status_code == 422


def test_the_chats_listed_are_the_caller_s_own_most_recent_first(client):
    client.get("/api/v1/health")
    me = visitor_from_cookie(client.app.state.access.secret, client.cookies[VISITOR_COOKIE]).id

    async def seed() -> None:
        database = unpooled()
        sql = await database.ready()
        async with sql.begin() as connection:
            await connection.execute(
                insert(users),
                [
                    {"id": f"u-{who}", "identifier": who, "metadata": "{}", "createdAt": "2026-01-01"}
                    for who in (me, "x")
                ],
            )
            chats = [("old", "2026-01-01", me), ("new", "2026-02-01", me), ("theirs", "2026-03-01", "x")]
            await connection.execute(
                insert(threads),
                [
                    {
                        "id": i,
                        "createdAt": f"{day}T00:00:00Z",
                        "name": i.title(),
                        "userId": f"u-{who}",
                        "userIdentifier": who,
                    }
                    for i, day, who in chats
                ],
            )
        await database.close()

    asyncio.run(seed())
    listed = client.get("/api/v1/chats").json()["chats"]
    assert [c["id"] for c in listed] == ["new", "old"] and listed[0]["name"] == "New"
    assert client.get("/api/v1/chats?limit=1").json()["chats"][0]["id"] == "new"


def test_the_widget_bundle_is_sent_compressed_and_revalidated(client):
    sent = client.get("/copilot/index.js", headers={"Accept-Encoding": "gzip"})
    assert sent.status_code == 200 and sent.headers["content-encoding"] == "gzip"
    assert len(sent.content) == BUNDLE.stat().st_size  # what the browser unpacks is the bundle itself
    assert int(sent.headers["content-length"]) < BUNDLE.stat().st_size / 3
    again = client.get("/copilot/index.js", headers={"If-None-Match": sent.headers["etag"]})
    assert again.status_code == 304 and not again.content
    plain = client.get("/copilot/index.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == BUNDLE.read_bytes()


def book_app(folder) -> TestClient:
    app = FastAPI()
    app.mount("/book", BookSite(folder))
    return TestClient(app)


def test_the_book_is_served_once_built_and_until_then_the_page_says_why(tmp_path):
    folder = tmp_path / "build"
    missing = book_app(folder).get("/book/")
    assert missing.status_code == 503 and "make book" in missing.text and missing.headers["retry-after"] == "5"
    (tmp_path / "build.log").write_text("npm ERR! something")
    assert BookBuild.of(folder).status == "failed" and "build.log" in book_app(folder).get("/book/").text
    (tmp_path / "build.pid").write_text(str(os.getpid()))  # a build process that is alive
    building = book_app(folder).get("/book/")
    assert BookBuild.of(folder).status == "building" and 'http-equiv="refresh"' in building.text
    folder.mkdir()
    (folder / "index.html").write_text("<h1>The book</h1>")
    (folder / "404.html").write_text("<h1>Not in the book</h1>")
    assert book_app(folder).get("/book/").text == "<h1>The book</h1>"
    unknown = book_app(folder).get("/book/no/such/page")
    assert unknown.status_code == 404 and "Not in the book" in unknown.text


def test_a_dead_build_process_reads_as_failed(tmp_path):
    done = subprocess.Popen(["true"])
    done.wait()
    (tmp_path / "build.pid").write_text(str(done.pid))
    (tmp_path / "build.log").write_text("")
    assert BookBuild.of(tmp_path / "build").status == "failed"


def test_the_plugin_s_options_say_what_to_write_instead():
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (`apt-get install nodejs`; .ci/run does it)")

    def validate(options: object) -> subprocess.CompletedProcess:
        script = (
            f"const plugin = require({json.dumps(str(REPO / 'book' / 'plugin'))});"
            f"console.log(JSON.stringify(plugin.validateOptions({{options: {json.dumps(options)}}})));"
        )
        return subprocess.run([node, "-e", script], capture_output=True, text=True)

    assert json.loads(validate({"tutorUrl": " / "}).stdout) == {"tutorUrl": "/"}
    assert validate({"tutorUrl": "https://tutor.school.edu/app"}).returncode == 0
    for wrong in ({}, {"tutorUrl": "javascript:alert(1)"}, {"tutorUrl": "tutor.school.edu"}):
        refused = validate(wrong)
        assert refused.returncode != 0 and "tutorUrl" in refused.stderr and "https://tutor.school.edu" in refused.stderr


def test_a_widget_token_signs_in_once(make_engine, env):
    """Exchanged at /auth/jwt for the session cookie: the first time mints a session; a copy of it (or the
    widget's own repeat) gets a success with no cookie and no token."""
    env(CHAINLIT_AUTH_SECRET=SECRET)
    client = api_client(lambda: make_engine())
    client.get("/api/v1/health")
    token = client.post("/api/v1/widget/token").json()["accessToken"]
    first = client.post("/auth/jwt", headers={"Authorization": f"Bearer {token}"})
    copy = TestClient(client.app).post("/auth/jwt", headers={"Authorization": f"Bearer {token}"})
    assert first.status_code == 200 and "access_token" in first.cookies
    assert copy.status_code == 200 and "access_token" not in copy.cookies and copy.json() == {"success": True}
