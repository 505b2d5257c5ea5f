"""The sample book as the app serves it, with the tutor's widget: its build (`scripts/book.sh`, Docusaurus and
the plugin in `book/plugin`) and the steps of the tests and the benchmark that read it in a browser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from harness import Missing
from harness.app import REPO

BUILD = REPO / "samples" / "textbook" / "build"
WIDGET = "#chainlit-copilot"
ANSWERS = f'{WIDGET} [data-step-type="assistant_message"]'
ANSWER_DONE = "book-excerpts"  # the last line of a default answer names the model


def built_book() -> Path:
    """The sample book's build folder, built now if anything it reads changed (a no-op after `make book`)."""
    if shutil.which("npm") is None:
        raise Missing("Node.js and npm are needed to build the book (`apt-get install nodejs npm`; .ci/run does it)")
    done = subprocess.run([str(REPO / "scripts" / "book.sh")], capture_output=True, text=True)
    assert done.returncode == 0, f"the book did not build:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return BUILD


# The page answers the chat's `tutor_ready` call only once the chat has asked it where the student reads (its
# `tutor_reading` call, for a message typed in the widget): a loaded machine, where the student's message
# overtakes the ready handshake, made certain. `window.heldReady` holds the calls held back.
HOLD_READY = """
window.heldReady = [];
const release = () => {
  for (const detail of window.heldReady.splice(0)) {
    const event = new CustomEvent('chainlit-call-fn', {detail});
    event.released = true;
    window.dispatchEvent(event);
  }
};
window.addEventListener('chainlit-call-fn', (event) => {
  if (event.detail.name === 'tutor_reading') setTimeout(release, 0);  // after the page has answered it
  if (event.detail.name !== 'tutor_ready' || event.released) return;
  event.stopImmediatePropagation();
  window.heldReady.push(event.detail);
}, true);
"""


def open_page(browser: Any, url: str, script: str | None = None, **context: Any) -> Any:
    """A book page in a new browser context (its own cookies: its own visitor), once the plugin is on it;
    `script` runs in the page before the page's own."""
    page = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context}).new_page()
    if script:
        page.add_init_script(script)
    page.goto(url)
    page.wait_for_selector(".tutor-page-bar")
    return page


def select_text(page: Any, words: str) -> None:
    """Select `words` in the page's text, as a drag of the mouse or the handles of a touch selection leave it;
    the page sees the selection change, as it does for either."""
    found = page.evaluate(
        """(words) => {
          const root = document.querySelector('.theme-doc-markdown');
          const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const at = node.textContent.indexOf(words);
            if (at < 0) continue;
            node.parentElement.scrollIntoView({block: 'center'});
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + words.length);
            getSelection().removeAllRanges();
            getSelection().addRange(range);
            return true;
          }
          return false;
        }""",
        words,
    )
    assert found, f"{words!r} is not in the page"
    page.wait_for_selector(".tutor-popup:not([hidden])")


def last_answer(page: Any, timeout: float = 90) -> Any:
    """The widget's last answer, once it is complete."""
    page.locator(ANSWERS).last.get_by_text(ANSWER_DONE).wait_for(timeout=timeout * 1000)
    return page.locator(ANSWERS).last


def type_in_widget(page: Any, question: str) -> None:
    """Type `question` in the widget's own box and send it, once the widget may send (its send button is
    disabled while the chat starts: Enter then does nothing)."""
    page.locator(f"{WIDGET} #chat-input").fill(question)
    send = page.locator(f"{WIDGET} #chat-submit:not([disabled])")
    send.wait_for()
    send.click()


def mark_in_view(page: Any) -> Any:
    """The first citation mark (or the note on a passage changed since), once the page has shown it and
    scrolled it into view."""
    page.wait_for_function(
        """() => {
          const mark = document.querySelector('[data-tutor-citation]');
          if (!mark || mark.closest('[hidden]')) return false;
          const box = mark.getBoundingClientRect();
          return box.top >= 0 && box.bottom <= innerHeight;
        }"""
    )
    return page.locator("[data-tutor-citation]").first
