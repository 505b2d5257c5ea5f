"""Latency of the grounding check: an 11-sentence answer over 5 passages, as the tutor checks every answer.

Uses the sample book: 5 passages retrieved for a question, and an answer of 11 sentences built from them
(supported, miscited, uncited, with a changed number, and invented), so every path of the checker runs,
including the dense model for paraphrases. Prints p50/p95/p99 over `--runs` checks, after one warm-up. Each
check uses a new checker, so nothing it prepared or embedded for an earlier check is reused: the time of an
answer whose passages and sentences it has never seen.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import REPO, percentiles
from ingest.pipeline import IngestOptions, run_ingest
from rag.answer.grounding import GroundingChecker
from rag.search.embeddings import Embedder
from rag.search.retrieval import Retriever
from rag.store import EdgeStore

QUESTION = "How does a humanoid robot keep its balance while walking?"
ANSWER = (
    "While walking the robot accelerates, so the CoM alone is not enough [1]. "
    "The zero moment point is the point on the ground where the horizontal moments of gravity and inertia "
    "cancel [2]. "
    "A gait is dynamically balanced when the ZMP stays inside the support polygon at every instant. "
    "With both feet down the support polygon is large, and on one foot it shrinks to the sole [1]. "
    "Balance controllers typically run at 5 kHz on the robot's main computer [1]. "
    "Humanoids usually walk by falling forward and catching themselves with the swing leg. "
    "The linear inverted pendulum treats the robot as a point mass on a massless leg [3]. "
    "Great question, by the way! "
    "Most humanoid robots in the course weigh about 300 kg [4]. "
    "Ankle torque moves the ZMP within the foot to correct small disturbances [5]. "
    "Walking remains balanced as long as the ZMP sits within the support polygon [2]."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="checks to time")
    args = parser.parse_args()
    embedder = Embedder()
    with tempfile.TemporaryDirectory() as folder:
        store = EdgeStore(Path(folder), "book")
        run_ingest(IngestOptions(REPO / "samples" / "textbook" / "docs"), store, embedder)
        passages = [p.text for p in Retriever(store, embedder, 5, 0.3).search(QUESTION).passages]
        store.close()
    dense_calls = 0

    def embed(texts: list[str]):
        nonlocal dense_calls
        dense_calls += 1
        return embedder.embed_texts(texts)

    result = GroundingChecker(embed).check(ANSWER, passages)  # warm-up: loads the model
    dense_calls = 0
    times = []
    for _ in range(args.runs):
        checker = GroundingChecker(embed)
        started = time.perf_counter()
        checker.check(ANSWER, passages)
        times.append((time.perf_counter() - started) * 1000)
    verdicts = ", ".join(s.verdict for s in result.sentences)
    print(f"{len(result.sentences)} sentences over {len(passages)} passages: {verdicts}")
    print(f"dense model calls per check: {dense_calls / args.runs:.1f}")
    print(f"grounding check ms: {percentiles(times)}")


if __name__ == "__main__":
    main()
