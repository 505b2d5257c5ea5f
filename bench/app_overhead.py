"""The app's own overhead to the first streamed token, and its memory with a 10k-chunk collection.

Starts a local OpenAI-compatible server that streams at once, and the real app (`chainlit run app.py`) using it
as LOCAL_LLM_BASE_URL over an embedded collection of `--chunks` points (SciFact abstracts). Then measures
`POST /api/v1/chat/stream` to its first `delta` event at 1 and N concurrent requests, minus the fake LLM's own
time to first token measured the same way, and reports p50/p95 and errors. Finally the app's resident memory
(the fake LLM runs in this process, so it is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import build_collection, percentiles
from harness.app import App
from harness.fake_servers import FakeOpenAI
from rag.search.embeddings import Embedder

QUESTION = "What is the effect of exercise on insulin sensitivity?"


async def first_token_ms(client: httpx.AsyncClient, url: str, body: dict) -> float:
    started = time.perf_counter()
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("event: delta") or line.startswith('data: {"id"'):
                return (time.perf_counter() - started) * 1000
    raise RuntimeError("the stream ended without a token")


async def measure(url: str, body: dict, concurrency: int, rounds: int) -> tuple[list[float], int]:
    times: list[float] = []
    errors = 0
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        for _ in range(rounds):
            results = await asyncio.gather(
                *(first_token_ms(client, url, body) for _ in range(concurrency)), return_exceptions=True
            )
            errors += sum(isinstance(r, BaseException) for r in results)
            times += [r for r in results if isinstance(r, float)]
    return times, errors


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10000, help="points in the collection (default: 10000)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of concurrent requests per level")
    args = parser.parse_args()
    llm = FakeOpenAI(["A streamed answer about insulin [1]."], model="fake-llm")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        build_collection(data / "qdrant", Embedder(), args.chunks, 2000, "textbook_content").close()
        app = App(
            data, LLM_PROVIDER="local", LOCAL_LLM_BASE_URL=llm.base_url, LOCAL_LLM_MODEL="fake-llm", SCORE_THRESHOLD="0"
        )
        try:
            body = {"content": QUESTION}
            asyncio.run(measure(app.url + "/api/v1/chat/stream", body, 1, 2))  # warm-up
            llm_body = {"model": "fake-llm", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
            for concurrency in args.concurrency:
                app_times, errors = asyncio.run(
                    measure(app.url + "/api/v1/chat/stream", body, concurrency, args.rounds)
                )
                llm_times, _ = asyncio.run(
                    measure(llm.base_url + "/chat/completions", llm_body, concurrency, args.rounds)
                )
                llm_median = statistics.median(llm_times)
                overhead = [t - llm_median for t in app_times]
                print(
                    f"{concurrency:>3} concurrent: overhead to first token {percentiles(overhead)} ms "
                    f"(fake LLM's own first token: median {llm_median:.1f} ms), errors {errors}/"
                    f"{concurrency * args.rounds}"
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
