"""The app's own cost of an LLM answer: CPU per request, overhead to the first streamed token, memory.

Starts a local OpenAI-compatible server that streams at once, and the real app (`chainlit run app.py`) using it
as LOCAL_LLM_BASE_URL over an embedded collection of `--chunks` points (SciFact abstracts), with the rate limits
off (RATE_LIMIT_PER_MINUTE=0, RATE_LIMIT_PER_ADDRESS=0: the benchmark asks far more than a student may). Then:
- `--sequential` requests one after another: the app process's CPU per request (from /proc); with `--profile`,
  py-spy samples the app meanwhile and the CPU is broken down by what it was spent on;
- at each `--concurrency`, `--rounds` times: `POST /api/v1/chat/stream` to its first `delta` event, minus the
  fake LLM's own time to first token measured the same way (p50/p95), each stream read to its end.
Every request is a new chat; errors are counted by HTTP status (0: no HTTP answer). Last, the app's resident
memory (the fake LLM runs in this process, so it is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.common import build_collection, cpu_seconds, percentiles
from bench.profile import print_breakdown, sampled
from harness.app import App
from harness.fake_servers import FakeOpenAI
from rag.search.embeddings import Embedder

QUESTION = "What is the effect of exercise on insulin sensitivity?"


async def first_token_ms(client: httpx.AsyncClient, url: str, body: dict) -> tuple[float | None, int]:
    """(ms to the first token or None, HTTP status); the stream is read to its end either way."""
    started = time.perf_counter()
    first = None
    async with client.stream("POST", url, json=body) as response:
        async for line in response.aiter_lines():
            if first is None and (line.startswith("event: delta") or line.startswith('data: {"id"')):
                first = (time.perf_counter() - started) * 1000
    return first, response.status_code


async def measure(url: str, body: dict, concurrency: int, rounds: int) -> tuple[list[float], Counter[int]]:
    times: list[float] = []
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        for _ in range(rounds):
            results = await asyncio.gather(
                *(first_token_ms(client, url, body) for _ in range(concurrency)), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    statuses[0] += 1
                    continue
                ms, status = result
                statuses[status if ms is not None else -status] += 1  # -200: answered, but no token
                times += [ms] if ms is not None and status == 200 else []
    return times, statuses


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def sequential_cpu(app: App, url: str, body: dict, count: int, profile: Path | None) -> float:
    """CPU ms per request over `count` requests in a row, sampled by py-spy into `profile` when given."""
    with sampled(app.process.pid, profile):
        before = cpu_seconds(app.process.pid)
        asyncio.run(measure(url, body, 1, count))
        return (cpu_seconds(app.process.pid) - before) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10000, help="points in the collection (default: 10000)")
    parser.add_argument("--sequential", type=int, default=100, help="requests in a row for the CPU figure")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of concurrent requests per level")
    parser.add_argument("--profile", type=Path, help="write py-spy's samples of the sequential requests here")
    args = parser.parse_args()
    llm = FakeOpenAI(["A streamed answer about insulin sensitivity and exercise [1]."], model="fake-llm")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        build_collection(data / "qdrant", Embedder(), args.chunks, 2000, "textbook_content").close()
        app = App(
            data,
            LLM_PROVIDER="local",
            LOCAL_LLM_BASE_URL=llm.base_url,
            LOCAL_LLM_MODEL="fake-llm",
            SCORE_THRESHOLD="0",
            RATE_LIMIT_PER_MINUTE="0",
            RATE_LIMIT_PER_ADDRESS="0",
        )
        try:
            url, body = app.url + "/api/v1/chat/stream", {"content": QUESTION}
            asyncio.run(measure(url, body, 1, 5))  # warm-up
            cpu = sequential_cpu(app, url, body, args.sequential, args.profile)
            print(f"app CPU per request: {cpu:.1f} ms ({args.sequential} requests in a row)")
            print_breakdown(args.profile)
            llm_body = {"model": "fake-llm", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
            for concurrency in args.concurrency:
                app_times, statuses = asyncio.run(measure(url, body, concurrency, args.rounds))
                llm_times, _ = asyncio.run(
                    measure(llm.base_url + "/chat/completions", llm_body, concurrency, args.rounds)
                )
                llm_median = statistics.median(llm_times)
                overhead = [t - llm_median for t in app_times]
                print(
                    f"{concurrency:>3} concurrent: overhead to first token {percentiles(overhead)} ms "
                    f"(fake LLM's own first token: median {llm_median:.1f} ms), statuses {dict(statuses)}"
                )
            print(
                f"app memory with {args.chunks} chunks: {rss_mb(app.process.pid):.0f} MB RSS "
                "(models loaded, after the requests above; the LLM is not in the app process)"
            )
        finally:
            app.stop()
            llm.close()


if __name__ == "__main__":
    main()
