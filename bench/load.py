"""Questions per second the deployment answers at p95 <= 1 s, with one app process and with two
(docs/deployment.md): Locust, headless, against the deployment of `harness.deployment` (nginx, PostgreSQL,
Redis, the Qdrant stand-in server), everything on this machine.

For each process count, Locust runs `--users` students in turn, each asking without pause (`bench/locustfile.py`)
for `--seconds`; the line printed per run gives answers per second, p50/p95 of the time to the whole answer and
the failures. The answering provider is `--provider`: `excerpts` (the default answer) or `llm`, a local fake
OpenAI-compatible server that streams at once, so the time is the app's own overhead. The rate limits are off.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench.common import REPO
from bench.questions import QUESTIONS
from harness.app import SAMPLE_DOCS
from harness.deployment import Deployment
from harness.fake_servers import FakeOpenAI

SHARED_BOOK = REPO.parent / "shared" / "corpus" / "physical-ai-textbook" / "docs"
TARGET_P95_MS = 1000


def locust(url: str, users: int, seconds: int, folder: Path) -> dict[str, str]:
    """One headless Locust run; its aggregated row of the stats CSV."""
    prefix = folder / f"u{users}"
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(REPO / "bench" / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{seconds}s",
        "--host",
        url,
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    subprocess.run(command, check=True, capture_output=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    with open(f"{prefix}_stats.csv") as stats:
        return next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=SHARED_BOOK if SHARED_BOOK.exists() else SAMPLE_DOCS)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--users", type=int, nargs="+", default=[2, 5, 10, 20, 40])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--provider", choices=["excerpts", "llm"], default="excerpts")
    args = parser.parse_args()
    llm = FakeOpenAI(["A streamed answer about ROS 2 nodes and topics [1]."], model="fake-llm")
    env = {"RATE_LIMIT_PER_MINUTE": "0", "RATE_LIMIT_PER_ADDRESS": "0", "LLM_PROVIDER": "excerpts"}
    if args.provider == "llm":
        env.update(LLM_PROVIDER="local", LOCAL_LLM_BASE_URL=llm.base_url, LOCAL_LLM_MODEL="fake-llm")
    try:
        for processes in args.processes:
            with tempfile.TemporaryDirectory() as folder:
                deployment = Deployment(Path(folder), processes, args.source, **env)
                try:
                    for app in deployment.apps:  # each loads its models and term statistics before the clock runs
                        for question in QUESTIONS[:3]:
                            httpx.post(f"{app.url}/api/v1/chat", json={"content": question}, timeout=120)
                    best = 0.0
                    for users in args.users:
                        row = locust(deployment.url, users, args.seconds, Path(folder))
                        rate, p95 = float(row["Requests/s"]), float(row["95%"])
                        if p95 <= TARGET_P95_MS:
                            best = max(best, rate)
                        print(
                            f"{processes} process(es), {users:>3} students: {rate:6.1f} answers/s, "
                            f"p50 {row['50%']} ms, p95 {row['95%']} ms, failures {row['Failure Count']}"
                            f"/{row['Request Count']}",
                            flush=True,
                        )
                    print(f"{processes} process(es): {best:.1f} answers/s at p95 <= {TARGET_P95_MS} ms", flush=True)
                finally:
                    deployment.stop()
    finally:
        llm.close()


if __name__ == "__main__":
    main()
