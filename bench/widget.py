"""The tutor in the book: from clicking Explain to the first answer text in the widget, and what the plugin adds
to a page.

Builds the sample book (`scripts/book.sh`), ingests it as `make run` does, starts the real app serving it at
/book/ with the default profile (book excerpts), then in Debian's Chromium:
- `--runs` times a new visitor (a new browser context: no cookie, nothing cached) opens a page, selects a
  sentence and clicks Explain at once: the time to the first answer text in the widget is "cold" (the
  selection starts loading Chainlit's widget bundle, signing in and connecting, and the click waits for it);
  another new visitor waits `--pause` seconds between selecting and clicking, as a reader does; a second Explain
  on the same page is "warm";
- the bytes: the site is built once more without the plugin, and a docs page's scripts and stylesheets (raw and
  gzip) are summed for both builds; Chainlit's own bundle (`/copilot/index.js`, which the app sends compressed)
  is reported apart.
"""

from __future__ import annotations

import argparse
import gzip
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, percentiles
from harness.app import App, ingest_sample
from harness.book import ANSWERS, built_book, open_page, select_text
from harness.browser import launch
from web.widget import BUNDLE

PAGE = "/book/ros2-basics/nodes-and-topics"
SELECTIONS = ["Nodes find each other automatically through the DDS discovery protocol", "is a named channel"]
SITE = REPO / "samples" / "textbook"


def explain(page: Any, words: str, pause: float = 0) -> float:
    """Milliseconds from the click on Explain (`pause` seconds after selecting) to the first text of a new answer
    in the widget."""
    before = page.locator(ANSWERS).count()
    select_text(page, words)
    page.wait_for_timeout(pause * 1000)
    page.evaluate(
        "() => document.querySelector('[data-tutor=\"explain\"]')"
        ".addEventListener('click', () => { window.__clicked = performance.now(); }, {capture: true, once: true})"
    )
    page.click('[data-tutor="explain"]')
    page.wait_for_function(
        """(before) => {
          const root = document.getElementById('chainlit-copilot')?.shadowRoot;
          const answers = root ? root.querySelectorAll('[data-step-type="assistant_message"]') : [];
          if (answers.length <= before || !answers[answers.length - 1].innerText.trim()) return false;
          window.__answered = performance.now();
          return true;
        }""",
        arg=before,
        polling=10,
        timeout=120_000,
    )
    page.locator(ANSWERS).last.get_by_text("book-excerpts").wait_for(timeout=120_000)
    return float(page.evaluate("window.__answered - window.__clicked"))


def page_bytes(build: Path) -> tuple[int, int]:
    """The raw and gzip bytes of the scripts and stylesheets a docs page of `build` loads."""
    html = (build / PAGE.removeprefix("/book/") / "index.html").read_text()
    assets = set(re.findall(r'(?:src|href)="/book/(assets/[^"]+\.(?:js|css))"', html))
    raw = [(build / asset).read_bytes() for asset in sorted(assets)]
    return sum(map(len, raw)), sum(len(gzip.compress(data, 9)) for data in raw)


def build_without_plugin(workdir: Path) -> Path:
    """The same site built without the plugin: its config with the plugin's line left out, written beside it
    (where the config's relative paths hold; `build*` is ignored by git) for the time of the build."""
    config = (SITE / "docusaurus.config.js").read_text()
    plain = SITE / "build.no-plugin.config.js"
    plain.write_text(re.sub(r"\n\s*\['docusaurus-plugin-textbook-tutor'.*\n", "\n", config))
    out = workdir / "build"
    try:
        built = subprocess.run(
            ["npx", "--no-install", "docusaurus", "build", "--config", plain.name, "--out-dir", str(out)],
            cwd=SITE,
            capture_output=True,
            text=True,
        )
    finally:
        plain.unlink()
    if built.returncode:
        raise SystemExit(f"the build without the plugin failed:\n{built.stdout[-2000:]}\n{built.stderr[-2000:]}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="rounds of three questions (default: 10)")
    parser.add_argument(
        "--pause", type=float, default=1.5, help="seconds a reader takes from selecting to clicking (default: 1.5)"
    )
    args = parser.parse_args()
    book = built_book()
    with tempfile.TemporaryDirectory(prefix="bench-widget-") as tmp:
        workdir = Path(tmp)
        ingest_sample(workdir / "qdrant", base_url="/book")
        app = App(workdir, BOOK_DIR=str(book), RATE_LIMIT_PER_MINUTE="0", RATE_LIMIT_PER_ADDRESS="0")
        cold, paused, warm = [], [], []
        try:
            with launch() as browser:
                for _ in range(args.runs):
                    page = open_page(browser, app.url + PAGE)
                    cold.append(explain(page, SELECTIONS[0]))
                    warm.append(explain(page, SELECTIONS[1]))
                    page.context.close()
                    page = open_page(browser, app.url + PAGE)
                    paused.append(explain(page, SELECTIONS[0], args.pause))
                    page.context.close()
        finally:
            app.stop()
        with_plugin, without = page_bytes(book), page_bytes(build_without_plugin(workdir))
    print(f"Explain -> first answer text, cold (a new visitor clicks at once), ms: {percentiles(cold)}")
    print(
        f"Explain -> first answer text, a new visitor clicks {args.pause} s after selecting, ms: {percentiles(paused)}"
    )
    print(f"Explain -> first answer text, warm (the widget connected), ms: {percentiles(warm)}")
    print(
        f"plugin bytes a docs page loads: {with_plugin[0] - without[0]:,} raw, {with_plugin[1] - without[1]:,} gzip "
        f"(page total with the plugin {with_plugin[0]:,} raw / {with_plugin[1]:,} gzip)"
    )
    data = BUNDLE.read_bytes()
    sent = len(gzip.compress(data, 6))
    print(f"Chainlit's widget bundle (/copilot/index.js): {len(data):,} raw, {sent:,} as the app sends it (gzip)")


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"({time.monotonic() - started:.0f} s)")
