"""The app's own cost of an LLM answer: CPU per request, overhead to the first streamed token, memory.

Starts a local OpenAI-compatible server that streams at once, and the real app (`chainlit run app.py`) using it
as LOCAL_LLM_BASE_URL over an embedded collection of `--chunks` points (SciFact abstracts), with the rate limit
off (RATE_LIMIT_PER_MINUTE=0: the benchmark asks far more than a student may). Then:
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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.common import build_collection, cpu_seconds, percentiles
from harness.app import App
from harness.fake_servers import FakeOpenAI
from rag.search.embeddings import Embedder

QUESTION = "What is the effect of exercise on insulin sensitivity?"
# What a profile sample was spent on: the first part whose frames it contains, in this order.
PARTS = [
    ("query embedding (ONNX)", ("embeddings.py", "onnxruntime")),
    ("Qdrant search", ("store/edge.py", "qdrant_edge")),
    ("grounding check", ("grounding.py",)),
    ("database (chat, memory, answer record)", ("sqlalchemy", "aiosqlite")),
    ("LLM client (openai, httpx)", ("openai/", "httpx/", "httpcore/")),
    ("Agents SDK run", ("agents/",)),
    ("tutor and citations (rag/)", ("rag/",)),
    ("web server (uvicorn, starlette, SSE)", ("uvicorn/", "starlette/", "fastapi/", "sse_starlette/", "web/")),
    ("event loop", ("asyncio/",)),
]
# Leaves of samples that wait (an idle thread-pool worker, the loop in epoll): not CPU, left out of the shares.
IDLE = ("_worker (concurrent/futures/thread.py", "select (selectors.py", "Condition.wait (threading.py")


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


def breakdown(raw: Path) -> list[tuple[str, float]]:
    """Shares of py-spy's busy samples (its raw, collapsed-stack format) by `PARTS`."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or any(mark in stack.rsplit(";", 1)[-1] for mark in IDLE):
            continue
        part = next((name for name, marks in PARTS if any(m in stack for m in marks)), "other")
        counts[part] += int(count)
    total = sum(counts.values()) or 1
    return [(name, n / total) for name, n in counts.most_common()]


def sequential_cpu(app: App, url: str, body: dict, count: int, profile: Path | None) -> float:
    """CPU ms per request over `count` requests in a row, sampled by py-spy into `profile` when given."""
    spy = None
    if profile is not None:
        binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        command = [binary, "record", "-p", str(app.process.pid), "-r", "200", "-f", "raw", "-o", str(profile)]
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # py-spy attaches
    before = cpu_seconds(app.process.pid)
    asyncio.run(measure(url, body, 1, count))
    cpu = (cpu_seconds(app.process.pid) - before) / count * 1000
    if spy is not None:
        spy.send_signal(2)  # SIGINT: py-spy writes the profile and exits
        spy.wait(30)
    return cpu


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
        )
        try:
            url, body = app.url + "/api/v1/chat/stream", {"content": QUESTION}
            asyncio.run(measure(url, body, 1, 5))  # warm-up
            cpu = sequential_cpu(app, url, body, args.sequential, args.profile)
            print(f"app CPU per request: {cpu:.1f} ms ({args.sequential} requests in a row)")
            if args.profile is not None:
                for name, share in breakdown(args.profile):
                    print(f"  {share * 100:5.1f}%  {name}")
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
