"""The default answer (book excerpts, no keys) over REST: the app's CPU per question, and latency under load.

Ingests `--source` (the physical-ai-textbook of ../shared when present, else the sample book) into a temporary
embedded store, starts the real app (`chainlit run app.py`) with the rate limits off (RATE_LIMIT_PER_MINUTE=0,
RATE_LIMIT_PER_ADDRESS=0: the benchmark asks far more than a student may), then:
- `--sequential` questions one after another: the app process's CPU time (from /proc) per question (with
  `--profile`, broken down from py-spy's samples);
- `--concurrency` questions at once, `--rounds` times: the time to the whole answer (`POST /api/v1/chat`).
Every request is a new chat. Errors are counted by HTTP status.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from itertools import cycle, islice
from pathlib import Path

import httpx

from bench.common import REPO, app_on, cpu_seconds, percentiles
from bench.profile import print_breakdown, sampled
from bench.questions import QUESTIONS
from harness.app import SAMPLE_DOCS

SHARED_BOOK = REPO.parent / "shared" / "corpus" / "physical-ai-textbook" / "docs"


async def ask(client: httpx.AsyncClient, url: str, question: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = await client.post(url, json={"content": question})
    return (time.perf_counter() - started) * 1000, response.status_code


async def sequential(url: str, questions: list[str]) -> Counter[int]:
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(timeout=120) as client:
        for question in questions:
            statuses[(await ask(client, url, question))[1]] += 1
    return statuses


async def concurrent(url: str, questions: list[str], rounds: int) -> tuple[list[float], Counter[int]]:
    times: list[float] = []
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=len(questions))
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        for _ in range(rounds):
            for result in await asyncio.gather(*(ask(client, url, q) for q in questions), return_exceptions=True):
                if isinstance(result, BaseException):
                    statuses[0] += 1  # no HTTP answer at all
                else:
                    times.append(result[0])
                    statuses[result[1]] += 1
    return times, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=SHARED_BOOK if SHARED_BOOK.exists() else SAMPLE_DOCS)
    parser.add_argument("--sequential", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="write py-spy's samples of the sequential questions here")
    args = parser.parse_args()
    with app_on(args.source) as app:
        url = app.url + "/api/v1/chat"
        asyncio.run(sequential(url, QUESTIONS[:3]))  # warm-up
        with sampled(app.process.pid, args.profile):
            before = cpu_seconds(app.process.pid)
            statuses = asyncio.run(sequential(url, list(islice(cycle(QUESTIONS), args.sequential))))
            per_question = (cpu_seconds(app.process.pid) - before) / args.sequential * 1000
        print(
            f"{args.source}: {args.sequential} questions in a row, app CPU {per_question:.0f} ms a question, "
            f"statuses {dict(statuses)}"
        )
        print_breakdown(args.profile)
        times, statuses = asyncio.run(concurrent(url, list(islice(cycle(QUESTIONS), args.concurrency)), args.rounds))
        print(
            f"{args.concurrency} at once x {args.rounds}: time to the answer {percentiles(times)} ms, "
            f"statuses {dict(statuses)}"
        )


if __name__ == "__main__":
    main()
