"""The chat page over a long chat: from the click that sends a question to the answer's final message (its model
line), for each question of one chat, beside the time the answer's own footer reports (the tutor's work).

Starts the real app on the ingested sample book with the default profile (book excerpts) and asks `--turns`
questions in one chat in Debian's Chromium. What grows from the first question to the last is the page's and the
chat's cost, not the answer's.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path
from typing import Any

from harness.app import App, ingest_sample
from harness.browser import MODEL_LINE, ask, launch, open_chat

QUESTIONS = [
    "What is a ROS 2 topic?",
    "What is the zero moment point?",
    "How do I describe a robot's links and joints in URDF?",
    "How do I start several nodes at once with a launch file?",
    "What is a ROS 2 node?",
    "What does a pinhole camera model describe?",
    "How many degrees of freedom does a humanoid leg have?",
    "What is a service in ROS 2?",
    "What is inverse kinematics?",
    "How does Gazebo simulate a robot?",
]
FOOTER = re.compile(r"· (\d+\.\d) s")


def turn(page: Any, n: int, question: str) -> tuple[float, float]:
    """Milliseconds from the send click to the n-th final message, and the seconds its footer says."""
    page.evaluate(
        "() => document.querySelector('#chat-submit').addEventListener('click', "
        "() => { window.__sent = performance.now(); }, {capture: true, once: true})"
    )
    ask(page, question)
    done = page.get_by_text(MODEL_LINE).nth(n)
    done.wait_for(timeout=120_000)
    elapsed = page.evaluate("() => performance.now() - window.__sent")
    footer = FOOTER.search(done.inner_text())
    return elapsed, float(footer.group(1)) if footer else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        ingest_sample(data / "qdrant")
        app = App(data)
        try:
            with launch() as browser:
                page = open_chat(browser, app.url)
                print("question  click → final message (ms)  footer (s)")
                for n in range(args.turns):
                    elapsed, footer = turn(page, n, QUESTIONS[n % len(QUESTIONS)])
                    print(f"{n + 1:>8}  {elapsed:>28.0f}  {footer:>10.1f}")
        finally:
            app.stop()


if __name__ == "__main__":
    main()
