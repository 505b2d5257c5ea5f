"""What the MCP server and the OpenAI-compatible endpoint add to a call, beside REST's, on the real app (`chainlit
run`, the sample book, book-excerpt answers, one process), each measured from a client nobody here wrote:

- a whole answer: REST `POST /api/v1/chat` (httpx), MCP `ask_tutor` (the official MCP client over streamable
  HTTP, one session), `POST /v1/chat/completions` (the official openai client);
- the first text of a streamed answer: REST `/api/v1/chat/stream`'s first `delta`, and the first chunk with text
  of a streamed completion;
- a search: MCP `search_book`;
- `ask_tutor` as JSON-RPC posted by hand (httpx): the server's share of the MCP client's time, which also checks
  each result against the tool's output schema.

Medians over `--rounds` calls, the questions taken in turn (each is asked once per surface per round, so the
answers compared are the same). Run: `python -m bench.assistants`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import openai
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from harness.app import App, ingest_sample

MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
QUESTIONS = [
    "What is the zero moment point?",
    "What is a ROS 2 topic?",
    "How do I describe a robot's links and joints in URDF?",
    "What does Gazebo simulate?",
]


async def timed(calls: list[Callable[[str], Awaitable[object]]], rounds: int) -> list[float]:
    """Each call's median milliseconds over `rounds` of every question."""
    spent: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for question in QUESTIONS:
            for i, call in enumerate(calls):
                started = time.perf_counter()
                await call(question)
                spent[i].append((time.perf_counter() - started) * 1000)
    return [statistics.median(ms) for ms in spent]


async def measure(url: str, rounds: int) -> dict[str, float]:
    rest = httpx.AsyncClient(base_url=url, timeout=120)
    completions = openai.AsyncOpenAI(base_url=url + "/v1", api_key="no login configured", max_retries=0)

    async def rest_chat(question: str) -> object:
        return (await rest.post("/api/v1/chat", json={"content": question})).json()

    async def rest_first_delta(question: str) -> object:
        async with rest.stream("POST", "/api/v1/chat/stream", json={"content": question}) as response:
            async for line in response.aiter_lines():
                if line.startswith("event: delta"):
                    return line
        return None

    async def completion(question: str) -> object:
        return await completions.chat.completions.create(
            model="excerpts", messages=[{"role": "user", "content": question}]
        )

    async def first_chunk(question: str) -> object:
        stream = await completions.chat.completions.create(
            model="excerpts", messages=[{"role": "user", "content": question}], stream=True
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                await stream.close()
                return chunk
        return None

    async with (
        httpx.AsyncClient(timeout=120) as http,
        streamable_http_client(url + "/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()

        async def ask_tutor(question: str) -> object:
            return await session.call_tool("ask_tutor", {"question": question})

        async def search_book(question: str) -> object:
            return await session.call_tool("search_book", {"question": question})

        async def ask_tutor_raw(question: str) -> object:
            """The same call as JSON-RPC by hand: the server's share, without the SDK client's own checks."""
            params = {"name": "ask_tutor", "arguments": {"question": question}}
            message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
            return (await rest.post("/mcp", json=message, headers=MCP_HEADERS)).json()

        await timed([rest_chat, ask_tutor, completion, rest_first_delta, first_chunk, search_book], 1)  # warm up
        whole = await timed([rest_chat, ask_tutor, ask_tutor_raw, completion], rounds)
        first = await timed([rest_first_delta, first_chunk], rounds)
        (search,) = await timed([search_book], rounds)
    await rest.aclose()
    return {
        "REST /api/v1/chat": whole[0],
        "MCP ask_tutor": whole[1],
        "MCP ask_tutor, JSON-RPC by hand": whole[2],
        "/v1/chat/completions": whole[3],
        "REST stream, first delta": first[0],
        "/v1 stream, first chunk with text": first[1],
        "MCP search_book": search,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        ingest_sample(data / "qdrant")
        # no rate limit: the benchmark asks far more than a student would
        app = App(data, RATE_LIMIT_PER_MINUTE="0", RATE_LIMIT_PER_ADDRESS="0")
        try:
            found = asyncio.run(measure(app.url, args.rounds))
        finally:
            app.stop()
    rest, stream = found["REST /api/v1/chat"], found["REST stream, first delta"]
    print(f"median ms over {args.rounds} rounds of {len(QUESTIONS)} questions (book excerpts, one app process)")
    for name, ms in found.items():
        beside = rest if "first" not in name else stream
        extra = "" if name.startswith("REST") or name == "MCP search_book" else f"  ({ms - beside:+.1f} beside REST)"
        print(f"{name:36} {ms:8.1f}{extra}")


if __name__ == "__main__":
    main()
