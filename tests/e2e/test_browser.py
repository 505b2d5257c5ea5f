"""The Chainlit UI in a real browser (Debian's Chromium driven by Playwright), against `chainlit run app.py`
with the bundled local LLM and the sample book ingested into a temporary store."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import urllib.error
import urllib.request
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlparse

import pytest

from harness.accessibility import violations
from harness.app import App, http, ingest_sample
from harness.browser import MODEL_LINE, ask, last_answer, open_chat, open_citation, wait_done
from harness.fake_servers import FakeOpenAI
from tests.conftest import REPO, crashes

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("app-data")
    ingest_sample(data / "qdrant")
    return data


@pytest.fixture(scope="module")
def app(data):
    app = App(data)
    yield app
    app.stop()


def test_every_file_the_app_wrote_is_its_users_alone(browser, app, data):
    """After an answer, nothing under the data folder or the store is readable by another user: files 0600,
    folders 0700."""
    page = open_chat(browser, app.url)
    page.get_by_text("Balance").click()
    wait_done(page)
    page.context.close()
    written = [p for p in (data / "data").rglob("*")]
    assert any(p.is_file() for p in written)
    assert [p for p in written if p.stat().st_mode & 0o077] == []


def test_the_chat_page_asks_nothing_off_the_machine(browser, app):
    """Loaded, asked and answered, with the passage opened: every request the page makes stays on this machine
    (Chainlit's page links Google Fonts and KaTeX's stylesheet on jsDelivr; the app takes them out)."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(app.url)
    page.get_by_text("ROS 2 topics").wait_for(timeout=30_000)
    ask(page, "What is a ROS 2 topic?")
    wait_done(page)
    open_citation(last_answer(page), 1)
    away = [url for url in requested if urlparse(url).hostname not in ("127.0.0.1", "localhost")]
    assert requested and away == [] and "googleapis" not in page.content() and "jsdelivr" not in page.content()
    page.context.close()


def test_the_welcome_screen_says_what_the_tutor_is_and_links_the_book(browser, app):
    page = open_chat(browser, app.url)
    welcome = page.locator("#tutor-welcome")
    welcome.get_by_role("link", name="Read the book").wait_for(timeout=30_000)
    assert welcome.locator("h1").inner_text() == "Textbook Tutor"
    assert "every answer cites the passages it used" in welcome.inner_text()
    assert welcome.get_by_role("link", name="Read the book").get_attribute("href") == "/book/"
    assert violations(page) == []
    page.context.close()


def test_default_answer_cites_the_book_and_its_citation_opens_the_passage(browser, app):
    page = open_chat(browser, app.url)
    page.get_by_text("Balance").click()
    text = wait_done(page)
    assert "[1]" in text and "Sources:" in text and "excerpts: book-excerpts" in text
    assert "zero moment point" in text.lower()
    # no claim that a model wrote what the book says (the answer's last line says who did)
    assert "LLMs can make mistakes" not in page.locator("body").inner_text()
    assert last_answer(page).locator('a[href="#not-in-book"]').count() == 0  # the book's own sentences
    page.get_by_text("Searching the textbook").first.click()
    assert "Covered:" in page.locator("body").inner_text()
    panel = open_citation(last_answer(page), 1)
    assert panel.locator("h2").inner_text().startswith("[1] ")
    link = panel.get_by_role("link", name="Open this section in the book").first
    assert link.get_attribute("href").startswith("https://book.example/docs/")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "answered-chat.png"), full_page=True)
    page.context.close()


def test_a_citation_opens_its_own_passage_alone_and_only_when_clicked(browser, app):
    """After two answers no panel has opened by itself; the first answer's [1] then shows that answer's passage
    alone (not the later one's), and Escape closes it, back on the [1] clicked."""
    page = open_chat(browser, app.url)
    for n, question in enumerate(("What is the zero moment point?", "How do I describe links in URDF?")):
        ask(page, question)
        page.get_by_text(MODEL_LINE).nth(n).wait_for(timeout=60_000)
    assert page.locator("#tutor-passage").count() == 0
    answers = page.locator('[data-step-type="assistant_message"]')
    for answer in (answers.last, answers.first):
        crumb = answer.locator('a[href*="tutor-cite="]').first.inner_text()  # its Sources line
        panel = open_citation(answer, 1)
        assert panel.locator(".tutor-passage-crumb").inner_text() == crumb
        assert panel.locator(".tutor-passage-text").count() == 1
    assert "Balance and Walking" in panel.locator("h2").inner_text()
    assert violations(page) == []  # axe-core: nothing critical or serious, with answers and the panel open
    page.keyboard.press("Escape")
    assert page.locator("#tutor-passage").count() == 0
    assert page.evaluate("document.activeElement.textContent") == "[1]"
    page.context.close()


def test_on_a_phone_the_panel_leaves_the_answer_s_citations_in_reach(browser, app):
    """At 390 px the panel sits along the bottom, not over the answer: with it open, the answer's [1] can still
    be tapped, and the passage reads as the book's paragraphs."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(app.url)
    page.get_by_text("ROS 2 topics").first.wait_for(timeout=30_000)
    page.get_by_text("Balance").first.tap()
    wait_done(page)
    panel = open_citation(last_answer(page), 1)
    box = panel.bounding_box()
    assert box is not None and box["y"] > 844 / 2 and box["width"] == 390
    marker = last_answer(page).locator('a[href^="#tutor-passage="]').first
    marker.tap()  # Playwright taps only what receives the tap: nothing covers it
    panel.locator("h2").get_by_text("[1]").wait_for()
    text = panel.locator(".tutor-passage-text")
    assert text.locator("br").count() == 0 and "support polygon" in text.inner_text()
    assert violations(page) == []
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "phone-citation.png"))
    context.close()


def test_experimental_model_streams_its_answer_token_by_token(browser, app):
    page = open_chat(browser, app.url)
    page.locator("#chat-profiles").click()
    page.locator('[data-test="select-item:SmolLM2 (experimental)"]').click()
    # Every change of the answer's text, as the page renders it.
    page.evaluate(
        """() => {
          window.lengths = [];
          new MutationObserver(() => {
            const answers = document.querySelectorAll('[data-step-type="assistant_message"]');
            if (answers.length) window.lengths.push(answers[answers.length - 1].innerText.length);
          }).observe(document.body, {childList: true, subtree: true, characterData: true});
        }"""
    )
    page.get_by_text("ROS 2 topics").click()
    text = wait_done(page)
    lengths = page.evaluate("window.lengths")
    growth = [b for a, b in pairwise(lengths) if b > a]
    assert len(growth) >= 3, f"the answer did not stream: lengths {lengths}"
    assert "bundled: SmolLM2-135M-Instruct" in text and ("Sources:" in text or "Retrieved (not cited):" in text)
    page.context.close()


def test_a_crashed_model_server_is_reported_in_the_chat(browser, app):
    page = open_chat(browser, app.url)
    page.locator("#chat-profiles").click()
    page.locator('[data-test="select-item:SmolLM2 (experimental)"]').click()
    ask(page, "What is a ROS 2 node?")  # the model server runs from here on
    wait_done(page)
    with crashes(model_server_pid(app)):
        ask(page, "What does a ROS 2 topic carry?")
    page.get_by_text("crashed during an answer").wait_for(timeout=120_000)
    text = last_answer(page).inner_text()
    assert "SIGSEGV" in text and "make bundled" in text and "unreachable" not in text
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "model-crash.png"), full_page=True)
    page.context.close()


def model_server_pid(app: App) -> int:
    """The bundled model server the app started (its child running llama_cpp.server)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == app.process.pid and b"llama_cpp.server" in (stat.parent / "cmdline").read_bytes():
                return int(stat.parent.name)
    raise AssertionError("the app runs no model server")


def test_off_topic_question_shows_not_covered(browser, app):
    page = open_chat(browser, app.url)
    ask(page, "What is the best recipe for sourdough bread?")
    text = wait_done(page)
    assert "Not covered by the textbook" in text and "Sources:" not in text
    assert last_answer(page).locator('a[href^="#tutor-passage="]').count() == 0
    page.context.close()


def test_two_chats_at_once_see_their_own_sources(browser, app):
    first, second = open_chat(browser, app.url), open_chat(browser, app.url)
    ask(first, "What is the zero moment point?")
    ask(second, "How do I describe a robot's links and joints in URDF?")
    first_text, second_text = wait_done(first), wait_done(second)
    assert "[1] Balance and Walking" in first_text and "[1] Describing a Robot with URDF" not in first_text
    assert "[1] Describing a Robot with URDF" in second_text and "[1] Balance and Walking" not in second_text
    for text in (first_text, second_text):  # both answers complete: one chat does not cut off the other
        assert len(text.split("Sources:" if "Sources:" in text else "Retrieved (not cited):")[0].strip()) > 20
    first.context.close()
    second.context.close()


def test_html_in_the_corpus_never_runs(browser, app, data):
    """Passage and answer text render as text: a script tag typed by a user does nothing either."""
    page = open_chat(browser, app.url)
    page.on("dialog", lambda dialog: pytest.fail(f"a script ran: {dialog.message}"))
    ask(page, "What is a ROS 2 node? <img src=x onerror=alert(1)><script>alert(2)</script>")
    wait_done(page)
    assert page.locator("img[src=x]").count() == 0
    page.context.close()


def test_rest_api_of_the_running_app(app):
    status, health = http("GET", app.url + "/api/v1/health")
    assert status == 200 and health["qdrant"]["ok"] and health["llm"]["ok"]
    status, body = http("POST", app.url + "/api/v1/chat", {"content": "What is a ROS 2 node?"})
    assert status == 200 and body["answer"] and body["sources"] and body["grounded"] == 1.0
    assert body["model"] == "excerpts: book-excerpts"  # the fake CI key never selects OpenAI
    assert {s["path"] for s in body["sources"]} & {"01-ros2-basics/01-nodes-and-topics.md"}


def test_unsupported_sentences_are_marked_with_a_legend(browser, data):
    """A model (a local server that answers like the OpenAI API) invents a sentence: it is greyed and marked."""
    invented = "Every ROS 2 node must be written in Rust and restarted every hour."
    fake = FakeOpenAI([f"A node is a single process in the ROS 2 graph that performs one job [1]. {invented}"])
    ingest_sample(data / "qdrant-b")  # the module's app holds the first store
    app = App(data, LOCAL_LLM_BASE_URL=fake.base_url, LOCAL_LLM_MODEL="fake-model", QDRANT_PATH=str(data / "qdrant-b"))
    try:
        page = open_chat(browser, app.url)
        ask(page, "What is a ROS 2 node?")
        text = wait_done(page)
        marked = last_answer(page).locator('a[href="#not-in-book"]')
        assert marked.count() == 1 and marked.inner_text() == invented
        assert float(marked.evaluate("e => getComputedStyle(e).opacity")) < 0.8  # greyed by public/tutor.css
        assert "not found in the book" in text and "local: fake-model" in text
        page.get_by_text("Searching the textbook").first.click()
        assert "Covered:" in page.locator("body").inner_text()
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "unsupported-marked.png"), full_page=True)
        page.context.close()
    finally:
        app.stop()
        fake.close()


def test_postgresql_stopped_mid_answer_ends_the_chat_answer_saying_so(browser, data):
    """The answer's first words are on the page when PostgreSQL stops (immediate): the answer ends, marked as not
    saved or with the database error, naming DATABASE_URL; it never keeps "streaming"."""
    from harness.postgres import Postgres

    paused = threading.Event()
    fake = FakeOpenAI(["A node is a single process in the ROS 2 graph that performs one job [1]."], paused=paused)
    server = Postgres()
    ingest_sample(data / "qdrant-pg")  # the module's app holds the first store
    app = App(
        data,
        DATABASE_URL=server.new_database(),
        LOCAL_LLM_BASE_URL=fake.base_url,
        LOCAL_LLM_MODEL="fake-model",
        QDRANT_PATH=str(data / "qdrant-pg"),
    )
    try:
        page = open_chat(browser, app.url)
        ask(page, "What is a ROS 2 node?")
        last_answer(page).get_by_text("A node is", exact=False).wait_for(timeout=60_000)  # its first words shown
        server.stop()
        paused.set()
        ended = page.get_by_text("Not saved in this chat's history").or_(page.get_by_text("database", exact=False))
        ended.last.wait_for(timeout=60_000)
        assert "DATABASE_URL" in page.locator("body").inner_text()
        page.context.close()
    finally:
        paused.set()
        app.stop()
        fake.close()


def test_history_resumes_with_its_citations_and_feedback_and_stays_private(browser, app, data):
    question = "What is the zero moment point?"
    page = open_chat(browser, app.url)
    ask(page, question)
    wait_done(page)
    last_answer(page).locator(".negative-feedback-off").click()
    page.get_by_placeholder("Your feedback...").fill("The units are missing.")
    page.locator("#submit-feedback").click()
    last_answer(page).locator(".negative-feedback-on").wait_for()
    page.reload()
    page.goto(app.url)  # a new chat; the old one waits in the sidebar
    page.locator("#thread-history").get_by_text(question).first.click()
    page.get_by_text(MODEL_LINE).last.wait_for(timeout=30_000)
    answer = last_answer(page)
    assert "zero moment point" in answer.inner_text().lower()
    assert answer.locator(".negative-feedback-on").count() == 1  # the feedback given is shown again
    assert "support polygon" in open_citation(answer, 1).inner_text()  # the passage it cited
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "resumed-chat.png"), full_page=True)
    page.context.close()
    stranger = open_chat(browser, app.url)  # another browser: another visitor
    assert question not in stranger.locator("body").inner_text()
    assert stranger.locator("#thread-history").get_by_text(question).count() == 0
    stranger.context.close()
    feedback = (
        sqlite3.connect(data / "data" / "tutor.db")
        .execute(
            "SELECT a.question, a.model, a.grounded, f.value, f.comment "
            'FROM answers a JOIN feedbacks f ON f."forId" = a."stepId"'
        )
        .fetchall()
    )
    assert feedback == [(question, "excerpts: book-excerpts", 1.0, 0, "The units are missing.")]


def test_instructor_view_from_the_chat_at_desktop_and_phone_width(browser, app):
    # as the maintainer, from the terminal: the link's page asks for one click (a link preview spends nothing)
    page = open_chat(browser, app.url, first=app.instructor_link(), click="Open the instructor view")
    ask(page, "What is the zero moment point?")
    wait_done(page)
    ask(page, "How do I bake sourdough bread?")
    page.get_by_text("Not covered by the textbook").last.wait_for(timeout=60_000)
    page.get_by_text("Instructor view").first.click()  # the command button, offered to the link's browser
    ask(page, "open")
    link = page.get_by_role("link", name="Open the instructor view")
    link.wait_for(timeout=30_000)
    assert link.get_attribute("href") == "/instructor"
    cookies = page.context.cookies()
    page.context.close()
    for name, width, height in (("instructor-1280.png", 1280, 900), ("instructor-390.png", 390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.add_cookies(cookies)
        view = context.new_page()
        view.goto(app.url + "/instructor")
        view.get_by_text("Coverage gaps").wait_for(timeout=30_000)
        text = view.locator("body").inner_text()
        assert "How do I bake sourdough bread?" in text and "Off-topic" in text
        assert view.evaluate("document.documentElement.scrollWidth") <= width + 1  # no sideways scrolling
        assert violations(view) == []
        OUTPUT.mkdir(exist_ok=True)
        view.screenshot(path=str(OUTPUT / name), full_page=True)
        view.context.close()


def test_cross_site_requests_get_no_cors_headers(app):
    preflight = urllib.request.Request(
        app.url + "/api/v1/chat",
        method="OPTIONS",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(preflight, timeout=10)
    assert refused.value.code == 400 and refused.value.headers.get("access-control-allow-origin") is None


def test_unreachable_qdrant_shows_a_friendly_error(browser, tmp_path):
    down = App(tmp_path, QDRANT_CLUSTER_ENDPOINT="http://127.0.0.1:9", QDRANT_TIMEOUT="1")
    try:
        page = browser.new_context().new_page()
        page.goto(down.url)
        page.get_by_text("The textbook store is not available right now").wait_for(timeout=60_000)
        body = page.locator("body").inner_text()
        assert "QDRANT_CLUSTER_ENDPOINT" in body and "Traceback" not in body
        page.context.close()
    finally:
        down.stop()
