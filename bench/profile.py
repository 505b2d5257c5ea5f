"""py-spy profiles of the running app for the benchmarks: sample it while they ask, then say what the CPU was
spent on (docs/performance.md)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# What a profile sample was spent on: the first part whose frames it contains, in this order.
PARTS = [
    ("query embedding (ONNX)", ("embeddings.py", "onnxruntime")),
    ("Qdrant search", ("store/edge.py", "qdrant_edge")),
    ("grounding check", ("grounding.py",)),
    ("book excerpts (composer)", ("answer/excerpts.py",)),
    ("database (chat, memory, answer record)", ("sqlalchemy", "aiosqlite")),
    ("LLM client (openai, httpx)", ("openai/", "httpx/", "httpcore/")),
    ("Agents SDK run", ("agents/",)),
    ("tutor and citations (rag/)", ("rag/",)),
    ("web server (uvicorn, starlette, SSE)", ("uvicorn/", "starlette/", "fastapi/", "sse_starlette/", "web/")),
    ("event loop", ("asyncio/",)),
]
# Leaves of samples that wait (an idle thread-pool worker, the loop in epoll): not CPU, left out of the shares.
IDLE = ("_worker (concurrent/futures/thread.py", "select (selectors.py", "Condition.wait (threading.py")


@contextmanager
def sampled(pid: int, profile: Path | None) -> Iterator[None]:
    """py-spy samples process `pid` into `profile` (its raw, collapsed-stack format) meanwhile; None: nothing."""
    if profile is None:
        yield
        return
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    command = [binary, "record", "-p", str(pid), "-r", "200", "-f", "raw", "-o", str(profile)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes the profile and exits
        spy.wait(30)


def breakdown(raw: Path) -> list[tuple[str, float]]:
    """Shares of the busy samples by `PARTS`."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or any(mark in stack.rsplit(";", 1)[-1] for mark in IDLE):
            continue
        part = next((name for name, marks in PARTS if any(m in stack for m in marks)), "other")
        counts[part] += int(count)
    total = sum(counts.values()) or 1
    return [(name, n / total) for name, n in counts.most_common()]


def print_breakdown(profile: Path | None) -> None:
    if profile is not None:
        for name, share in breakdown(profile):
            print(f"  {share * 100:5.1f}%  {name}")
