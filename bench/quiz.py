"""Study mode: how long a quiz of 5 items takes to be ready, over REST (`POST /api/v1/quiz`), with zero keys.

Ingests `--source` (the physical-ai-textbook of ../shared when present, else the sample book) into a temporary
embedded store and starts the real app (rate limits off). Each request asks for a quiz on one page, every page
in turn, `--rounds` times, from a new visitor each time (so nothing was asked before): the time to the whole
response, then how many items came back.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.common import REPO, app_on, percentiles
from harness.app import SAMPLE_DOCS
from ingest.pipeline import discover

SHARED_BOOK = REPO.parent / "shared" / "corpus" / "physical-ai-textbook" / "docs"


def pages(source: Path) -> list[str]:
    """The docs' pages as ingest finds them, named as the quiz names them (their paths under the docs folder)."""
    return [p.relative_to(source).as_posix() for p in discover(source)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=SHARED_BOOK if SHARED_BOOK.exists() else SAMPLE_DOCS)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times: list[float] = []
    counts: Counter[int] = Counter()
    statuses: Counter[int] = Counter()
    book = pages(args.source)
    with app_on(args.source) as app:
        httpx.post(f"{app.url}/api/v1/quiz", json={"section": book[0]}, timeout=120)  # warm-up
        for _ in range(args.rounds):
            for page in book:
                with httpx.Client(timeout=120) as visitor:  # a new visitor: nothing asked before
                    started = time.perf_counter()
                    response = visitor.post(f"{app.url}/api/v1/quiz", json={"section": page, "n": 5})
                    times.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    counts[len(response.json()["items"])] += 1
    print(f"{args.source}: {len(times)} quizzes of up to 5 items, time to the response {percentiles(times)} ms")
    print(
        f"statuses {dict(statuses)}; items per quiz {dict(sorted(counts.items()))} (422: a page with nothing to quiz)"
    )


if __name__ == "__main__":
    main()
