"""Study mode in the chat, in a real browser against `chainlit run app.py`, with the app's clock moved by the
test (libfaketime): Quiz me, a wrong answer and its cited sentence, Review offering it again; and hints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from harness.accessibility import violations
from harness.app import App, ingest_sample
from harness.browser import ask, last_answer, open_chat, open_citation
from harness.clock import FakeClock
from tests.conftest import REPO

pytestmark = pytest.mark.slow
OUTPUT = REPO / "test-output"


@pytest.fixture(scope="module")
def clock(tmp_path_factory) -> FakeClock:
    return FakeClock(tmp_path_factory.mktemp("clock"))


@pytest.fixture(scope="module")
def app(tmp_path_factory, clock):
    data = tmp_path_factory.mktemp("study-app")
    ingest_sample(data / "qdrant")
    app = App(data, **clock.env)
    yield app
    app.stop()


def pick_mode(page, mode: str) -> None:
    """The composer's Study picker (a new chat shows "Answer")."""
    page.get_by_role("button", name="Answer", exact=True).click()
    page.get_by_text(mode, exact=True).first.click()


def review(page) -> None:
    """The Review command: its button in the composer, then the message that carries it."""
    page.get_by_role("button", name="Review").first.click()
    ask(page, "review")


def test_quiz_me_a_wrong_answer_shows_the_book_and_review_offers_it_again(browser, app, clock):
    page = open_chat(browser, app.url)
    pick_mode(page, "Quiz me")
    ask(page, "Quiz me on the zero moment point")
    page.get_by_text("📝").first.wait_for(timeout=60_000)
    question = last_answer(page).inner_text().split("\n")[0]
    assert violations(page) == []  # axe-core, with a quiz item and its choices
    ask(page, "no idea, something about the wheels")
    feedback = page.locator('[data-step-type="assistant_message"]', has_text="Not quite").last
    feedback.wait_for(timeout=60_000)
    text = feedback.inner_text()
    assert "What the passage says" in text or "The answer is" in text
    assert "[1]" in text and "comes back for review in about 1 minute" in text
    feedback.get_by_role("button", name="Why?").click()
    why = page.locator('[data-step-type="assistant_message"]', has_text="Why:").last
    why.wait_for(timeout=30_000)
    assert "Balance and Walking" in why.inner_text()
    assert "Balance and Walking" in open_citation(why, 1).locator("h2").inner_text()
    page.get_by_role("button", name="End the quiz").last.click()
    page.get_by_text("Quiz ended").wait_for(timeout=30_000)
    review(page)
    page.get_by_text("Nothing is due for review").wait_for(timeout=30_000)  # not yet
    clock.advance(timedelta(minutes=2))
    page.goto(app.url)  # a new chat, on a new socket: the jump may have timed the old one out
    page.get_by_text("ROS 2 topics").wait_for(timeout=30_000)
    review(page)
    page.locator('[data-step-type="assistant_message"]', has_text=question).first.wait_for(timeout=30_000)
    ask(page, "no idea")  # in Answer mode: a question waiting for an answer takes it
    page.locator('[data-step-type="assistant_message"]', has_text="Not quite").last.wait_for(timeout=30_000)
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "quiz-review.png"), full_page=True)
    page.context.close()


def test_hints_give_the_section_then_the_sentence_then_the_answer(browser, app):
    page = open_chat(browser, app.url)
    pick_mode(page, "Hints")
    ask(page, "What is the zero moment point?")
    first = page.locator('[data-step-type="assistant_message"]', has_text="The answer is in").last
    first.wait_for(timeout=60_000)
    assert "Balance and Walking" in first.inner_text() and "inertia cancel" not in first.inner_text()
    first.get_by_role("button", name="More help").click()
    second = page.locator('[data-step-type="assistant_message"]', has_text="key term held back").last
    second.wait_for(timeout=60_000)
    assert "_____" in second.inner_text()
    second.get_by_role("button", name="More help").click()
    page.get_by_text("excerpts: book-excerpts").last.wait_for(timeout=60_000)
    assert "inertia cancel" in last_answer(page).inner_text()
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "hints.png"), full_page=True)
    page.context.close()
