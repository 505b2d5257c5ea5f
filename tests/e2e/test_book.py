"""The tutor inside the book: the sample book built by Docusaurus with the plugin of `book/plugin`, served by
the real app (`chainlit run`) at /book/, read in Debian's Chromium with the default (book excerpts) answers."""

from __future__ import annotations

import base64
import json
import os
import socket
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from harness.accessibility import violations
from harness.app import App, http, ingest_sample
from harness.book import (
    ANSWERS,
    HOLD_READY,
    WIDGET,
    built_book,
    last_answer,
    mark_in_view,
    open_page,
    select_text,
    type_in_widget,
)
from harness.browser import ask
from rag.text.lexical import words
from tests.conftest import REPO

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"
NODES = "/book/ros2-basics/nodes-and-topics"
SIBLING_BOOK = "https://book.school.example"  # a book on a sibling subdomain, admitted by ALLOWED_ORIGINS


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("book-app")
    ingest_sample(data / "qdrant", base_url="/book")  # as `make run` does: citations point into /book/
    return data


@pytest.fixture(scope="module")
def app(data):
    app = App(data, BOOK_DIR=str(built_book()), ALLOWED_ORIGINS=SIBLING_BOOK)
    yield app
    app.stop()


def cited(link) -> str:
    """The passage id a citation link carries."""
    return parse_qs(urlsplit(link.get_attribute("href")).query)["tutor-cite"][0]


def passage_words(app: App, passage_id: str) -> set[str]:
    status, passage = http("GET", f"{app.url}/api/v1/passages/{passage_id}")
    assert status == 200, passage
    return set(words(passage["text"]))


def marked_words(page) -> set[str]:
    return set(words(" ".join(page.locator("mark[data-tutor-citation]").all_inner_texts())))


def user_messages(data: Path) -> list[dict]:
    """The chat's user messages as Chainlit stored them, metadata included."""
    with sqlite3.connect(data / "data" / "tutor.db") as db:
        rows = db.execute("SELECT output, metadata FROM steps WHERE type = 'user_message'").fetchall()
    return [{"output": output, "metadata": json.loads(metadata or "{}")} for output, metadata in rows]


def test_a_page_read_without_the_tutor_never_downloads_its_widget(browser, app):
    """The widget's bundle (2.5 MB gzipped) loads on intent, not with every page: read, scrolled, idle."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    asked: list[str] = []
    context.on("request", lambda request: asked.append(request.url))  # from the page's first request
    page = context.new_page()
    page.goto(app.url + NODES)
    page.wait_for_selector(".tutor-page-bar")
    page.mouse.wheel(0, 800)
    page.evaluate("() => new Promise((done) => requestIdleCallback(() => requestIdleCallback(done)))")
    assert asked and not [url for url in asked if "/copilot/" in url]
    page.locator(".tutor-button").first.hover()  # intent: the widget warms up
    page.wait_for_function("() => document.getElementById('chainlit-copilot') !== null", timeout=60_000)
    page.context.close()


def test_explain_a_selection_answers_in_the_widget_and_its_citation_marks_the_passage(browser, app, data):
    """Explain is clicked before the widget has even loaded: the message waits for the chat to connect."""
    page = open_page(browser, app.url + NODES)
    selected = "Nodes find each other automatically through the DDS discovery protocol"
    select_text(page, selected)
    page.click('[data-tutor="explain"]')
    answer = last_answer(page)
    assert "[1]" in answer.inner_text() and "Sources:" in answer.inner_text()
    assert violations(page) == []  # axe-core, in the page and the widget's shadow root
    # What the message carried besides the student's words is data: the page, the heading, the selection.
    sent = next(m for m in user_messages(data) if m["output"].startswith("Explain “Nodes find each other"))
    assert sent["metadata"]["reading"] == {
        "doc_id": "ros2-basics/nodes-and-topics",
        "anchor": "what-is-a-node",
        "selection": selected,
        "url": app.url + NODES + "/",
    }
    link = answer.locator("a", has_text="[1]").first
    passage = passage_words(app, cited(link))
    link.click()
    mark_in_view(page)  # scrolled to, in place, on the same page
    assert marked_words(page) <= passage and len(marked_words(page)) >= 10
    assert urlsplit(page.url).path.rstrip("/") == NODES
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "book-widget-desktop.png"))
    page.context.close()


def test_a_citation_marks_its_own_section_never_a_cell_elsewhere_that_shares_a_word(browser, app):
    """The welcome page's Prerequisites passage says "everything runs in simulation"; a table in another section
    has the one-word cell "Simulation". Its citation marks the Prerequisites paragraph, never that cell."""
    page = open_page(browser, app.url + "/book/")
    page.click('[data-tutor="ask-page"]')
    page.fill(".tutor-ask textarea", "Do I need robot hardware for this course?")
    page.click('[data-tutor="send"]')
    answer = last_answer(page)
    links = [link for link in answer.locator("a").all() if "tutor-cite=" in (link.get_attribute("href") or "")]
    sections = {cited(link): http("GET", f"{app.url}/api/v1/passages/{cited(link)}")[1]["section"] for link in links}
    link = next(link for link in links if sections[cited(link)].endswith("Prerequisites"))
    passage = passage_words(app, cited(link))
    link.click()
    mark_in_view(page)
    assert page.locator("td mark[data-tutor-citation], th mark[data-tutor-citation]").count() == 0
    assert "hardware" in marked_words(page) and marked_words(page) <= passage
    page.context.close()


def test_a_citation_of_a_passage_changed_since_shows_it_as_cited_at_its_section(browser, app, data):
    """An answer cited a passage the book has since rewritten (its id follows its content, so the book no longer
    holds it; the history kept it): the page says so at the section and shows the passage as it was cited."""
    old = "A node was once described here as a tiny robot brain that shouts at other brains."
    kept = {"id": "0b5e2c9a-7f40-5d2e-9a51-3c8e6f1d2a47", "text": old, "title": "Nodes and Topics"}
    kept |= {"breadcrumb": "Nodes and Topics › What is a node?"}
    kept |= {"section": "What is a node?", "url": "/book/ros2-basics/nodes-and-topics#what-is-a-node"}
    kept |= {"source_path": "01-ros2-basics/01-nodes-and-topics.md", "chapter": "ROS 2 Basics"}
    kept |= {"doc_id": "ros2-basics/nodes-and-topics", "anchor": "what-is-a-node"}
    opened = f"{app.url}/api/v1/passages/{kept['id']}"
    assert http("GET", opened)[0] == 404  # neither the book nor an answer holds it yet
    with sqlite3.connect(data / "data" / "tutor.db") as db:
        db.execute("INSERT INTO cited_passages VALUES (?, ?, ?)", (kept["id"], json.dumps(kept), "2026-12-01T09:00"))
    status, passage = http("GET", opened)
    assert status == 200 and passage["current"] is False, passage
    page = open_page(browser, f"{app.url}{NODES}?tutor-cite={kept['id']}")
    note = mark_in_view(page)
    assert "has changed since the answer cited it" in note.inner_text() and old in note.inner_text()
    assert page.evaluate("() => document.querySelector('aside.tutor-changed').previousElementSibling.id") == (
        "what-is-a-node"
    )
    assert page.locator("mark[data-tutor-citation]").count() == 0 and violations(page) == []
    page.context.close()


def test_ask_about_this_page_prefers_the_page_and_a_citation_opens_another_page_in_place(browser, app):
    question = "What is the difference between a service and a topic?"
    status, book = http("POST", f"{app.url}/api/v1/chat", {"content": question})
    assert status == 200 and book["sources"][0]["path"].endswith("02-services-and-parameters.md")  # the book's best
    page = open_page(browser, app.url + NODES)
    page.click('[data-tutor="ask-page"]')
    page.fill(".tutor-ask textarea", question)
    page.click('[data-tutor="send"]')
    answer = last_answer(page)
    first = answer.locator("a", has_text="[1]").first
    assert urlsplit(first.get_attribute("href")).path == NODES  # the page being read leads
    other = next(
        link
        for link in answer.locator("a").all()
        if "tutor-cite=" in (link.get_attribute("href") or "") and not link.get_attribute("href").startswith(NODES)
    )
    passage = passage_words(app, cited(other))
    page.evaluate("window.__samePage = true")
    other.click()
    page.locator("mark[data-tutor-citation]").first.wait_for()
    assert urlsplit(page.url).path != NODES and page.evaluate("window.__samePage") is True  # no reload
    assert marked_words(page) <= passage
    assert page.locator(ANSWERS).count() >= 1  # the chat is still there beside the new page
    page.context.close()


def test_a_question_typed_in_the_widget_knows_the_page(browser, app):
    """No button: the chat asks the page where the student is (the `tutor_reading` function)."""
    page = open_page(browser, app.url + NODES)
    page.click(".tutor-launcher")
    type_in_widget(page, "What is the difference between a service and a topic?")
    answer = last_answer(page)
    assert urlsplit(answer.locator("a", has_text="[1]").first.get_attribute("href")).path == NODES
    # The student comes back to the tab: the widget checks who is signed in again (at most every 5 s, so the tab
    # regains focus until it does), loads what follows, and its answer stays.
    with page.expect_response(lambda r: "/user?" in r.url, timeout=30_000):
        page.evaluate("window.refocus = setInterval(() => window.dispatchEvent(new Event('focus')), 250)")
    page.evaluate("clearInterval(window.refocus)")
    page.wait_for_load_state("networkidle")
    assert answer.is_visible() and "React error" not in page.locator(WIDGET).inner_text()
    page.context.close()


def test_a_question_typed_before_the_widget_is_ready_knows_the_page(browser, app):
    """A question that reaches the chat before the page has answered its ready handshake (typed as the widget
    connects, on a loaded machine) is answered about the page all the same. The page holds its answer back
    until the chat has asked where the student reads; the question goes as the widget's composer sends it,
    with no page of its own (the composer itself is disabled while the chat starts, so it is sent for it)."""
    page = open_page(browser, app.url + NODES, script=HOLD_READY)
    page.click(".tutor-launcher")
    page.wait_for_function("() => window.heldReady.length > 0")  # connected; the handshake is open
    page.evaluate(
        """(question) => window.sendChainlitMessage({name: 'User', type: 'user_message', output: question})""",
        "What is the difference between a service and a topic?",
    )
    answer = last_answer(page)
    assert urlsplit(answer.locator("a", has_text="[1]").first.get_attribute("href")).path == NODES
    page.context.close()


def test_the_same_flow_on_a_phone_with_a_touch_selection(browser, app):
    """A phone's touch context: the selection is made as its handles leave it (headless Chromium does not turn a
    synthetic long press into a selection: CDP touch events and tap gestures were tried), so the page sees only
    selection changes and touches, no mouse; the buttons and the citation are tapped."""
    page = open_page(browser, app.url + NODES, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    select_text(page, "is a single process in the ROS 2 graph that performs one job")
    sheet = page.locator(".tutor-popup").bounding_box()
    assert sheet["y"] + sheet["height"] > 844 - 40 and sheet["width"] > 300  # a bar at the bottom, not a bubble
    explain = page.locator('[data-tutor="explain"]').bounding_box()
    page.touchscreen.tap(explain["x"] + explain["width"] / 2, explain["y"] + explain["height"] / 2)
    answer = last_answer(page)
    chat = page.locator(f"{WIDGET} #chainlit-copilot-chat").bounding_box()
    assert chat["width"] >= 389  # the chat takes the whole screen
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "book-widget-phone.png"))
    link = answer.locator("a", has_text="[1]").first
    passage = passage_words(app, cited(link))
    box = link.bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    mark_in_view(page)
    assert marked_words(page) <= passage
    assert page.locator(".tutor-launcher").is_visible()  # the chat stepped aside for the passage
    page.context.close()


def test_one_history_for_the_widget_and_the_app_and_none_for_another_browser(browser, app):
    page = open_page(browser, app.url + NODES)
    page.click('[data-tutor="ask-page"]')
    page.fill(".tutor-ask textarea", "What does a subscriber do?")
    page.click('[data-tutor="send"]')
    last_answer(page)
    main = page.context.new_page()  # the same browser: the same visitor
    main.goto(app.url)
    main.locator("#thread-history").get_by_text("What does a subscriber do?").first.wait_for(timeout=30_000)
    stranger = browser.new_context().new_page()
    stranger.goto(app.url)
    stranger.get_by_text("ROS 2 topics").wait_for(timeout=30_000)
    assert "What does a subscriber do?" not in stranger.locator("body").inner_text()
    # The other way round: a chat of the app opens in the book's widget.
    ask(main, "What is the zero moment point?")
    main.get_by_text("excerpts: book-excerpts").last.wait_for(timeout=90_000)
    page.bring_to_front()
    page.click(".tutor-chats-button")
    page.locator(".tutor-chat", has_text="What is the zero moment point?").click()
    page.locator(f"{WIDGET} [data-step-type='user_message']", has_text="zero moment point").wait_for(timeout=30_000)
    answer = page.locator(ANSWERS).last
    assert "support polygon" in answer.inner_text()
    # Its citation panels do not force themselves open over the book: its [n] link into the book instead.
    assert page.locator(f"{WIDGET} [role='dialog']").count() == 0
    link = answer.locator("a", has_text="[1]").first
    passage = passage_words(app, cited(link))
    link.click()
    page.locator("mark[data-tutor-citation]").first.wait_for()
    assert marked_words(page) <= passage and "zero moment point" in " ".join(
        page.locator("mark[data-tutor-citation]").all_inner_texts()
    )
    stranger.context.close()
    page.context.close()


def websocket_status(app: App, origin: str) -> int:
    """The status of a WebSocket upgrade of the chat's socket (Socket.IO) from a page of `origin`."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /ws/socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{app.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as connection:
        connection.sendall(request.encode())
        status_line = connection.recv(1024).decode("latin-1").split("\r\n")[0]
    return int(status_line.split()[1])


def test_a_websocket_upgrade_from_a_foreign_origin_is_refused(app):
    assert websocket_status(app, app.url) == 101  # the book the app serves: its own origin
    assert websocket_status(app, SIBLING_BOOK) == 101  # a book elsewhere that ALLOWED_ORIGINS names
    assert websocket_status(app, "https://evil.example") != 101
    assert websocket_status(app, f"http://127.0.0.1:{app.port + 1}") != 101  # another port of the same host
