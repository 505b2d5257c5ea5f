"""Debian's Chromium driven by Playwright (headless, no sandbox), and the steps of a chat the browser tests share."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from harness import Missing

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PHONE_WIDTH = 768  # Chainlit's layout below this width: no sidebar, side views as sheets
MODEL_LINE = re.compile(r"\w+: [\w.-]+ · \d+\.\d s")  # the answer's last line: provider: model · seconds


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class LocalOnly:
    """Chromium, every context it opens watched: a request for another host (a font, a CDN's stylesheet, a
    tracker) is recorded in `away`, for the tests to fail on. The rest is Playwright's `Browser`."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self.away: list[str] = []

    def new_context(self, **options: Any) -> Any:
        context = self._browser.new_context(**options)
        context.on("request", self._watch)
        return context

    def new_page(self, **options: Any) -> Any:
        return self.new_context(**options).new_page()

    def _watch(self, request: Any) -> None:
        url = urlparse(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname not in LOCAL_HOSTS:
            self.away.append(request.url)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@contextmanager
def launch() -> Iterator[LocalOnly]:
    if not Path(CHROMIUM).exists():
        raise Missing("Debian's chromium is not installed (`apt-get install chromium`; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--headless",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield LocalOnly(browser)
        browser.close()


def open_chat(
    browser: Any, url: str, first: str | None = None, sockets: list | None = None, click: str | None = None
) -> Any:
    """The chat in a new browser, which visits `first` before (a link that sets a cookie, say) and clicks the
    button named `click` there; `sockets` collects every WebSocket the page opens."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    if sockets is not None:
        page.on("websocket", lambda socket: sockets.append(socket))
    if first:
        page.goto(first)
    if click:
        with page.expect_navigation():
            page.get_by_role("button", name=click).click()
    page.goto(url)
    page.get_by_text("ROS 2 topics").wait_for(timeout=30_000)
    return page


def ask(page: Any, question: str) -> None:
    """Send `question`. A new chat's first message moves the page from `/` to `/thread/<id>` once the sidebar
    has refreshed, which remounts the composer and would clear a question typed meanwhile: wait for it (on a
    phone the sidebar is closed, and the page stays at `/`)."""
    first = urlparse(page.url).path == "/" and page.viewport_size["width"] >= PHONE_WIDTH
    page.locator("#chat-input").fill(question)
    page.locator("#chat-submit").click(timeout=60_000)  # enabled once the chat is connected
    if first:
        page.wait_for_url(re.compile(r"/thread/"), timeout=30_000)


def last_answer(page: Any) -> Any:
    return page.locator('[data-step-type="assistant_message"]').last


def wait_done(page: Any, timeout: float = 120) -> str:
    """The answer is done when its model line appears."""
    page.get_by_text(MODEL_LINE).or_(page.get_by_text("Not covered by the textbook")).last.wait_for(
        timeout=timeout * 1000
    )
    return last_answer(page).inner_text()


def open_citation(answer: Any, n: int) -> Any:
    """Click an answer's `[n]` and return the citation panel once it shows the passage (its link to the book,
    or what went wrong)."""
    answer.locator('a[href^="#tutor-passage="]', has_text=f"[{n}]").first.click()
    panel = answer.page.locator("#tutor-passage")
    panel.locator(".tutor-passage-text, [role=alert]").first.wait_for(timeout=30_000)
    return panel
