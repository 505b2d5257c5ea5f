"""The instructor view's data for 10,000 questions: the report (SQL, grouping the gaps by meaning, nearest
sections, passage texts) and the rendered page, on the real database and the sample book's store.

Seeds the answers table through the app's own `History.record`: questions embedded by the packaged model (with
small variations, so they group as real repeats do), a fifth of them refused or poorly grounded, citations of
the sample book's passages, and a thumbs-down on every twentieth. Prints p50/p95 of the report and the page.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np
from chainlit.context import init_http_context
from chainlit.types import Feedback
from chainlit.user import User

from bench.common import REPO, percentiles
from ingest.pipeline import IngestOptions, run_ingest
from rag.answer.grounding import CheckedSentence
from rag.answer.result import Answer, Source
from rag.chats.history import Asked, History
from rag.config import load_settings
from rag.db.database import Database
from rag.report.service import build_report
from rag.report.shown import Period
from rag.search.embeddings import Embedder
from rag.search.retrieval import Retriever
from rag.store import EdgeStore
from web.datalayer import TutorDataLayer
from web.instructor import templates
from web.storage import FolderStorage

QUESTIONS = [
    "What is the zero moment point?",
    "How do I write a URDF file?",
    "What is a ROS 2 topic?",
    "How do launch files work?",
    "What does camera calibration estimate?",
    "How do I bake bread?",
    "How do I flash micro-ROS onto an ESP32?",
    "Is Webots better than Gazebo?",
    "What is a VLA model?",
]


async def seed(history: History, layer: TutorDataLayer, retriever: Retriever, embedder: Embedder, count: int) -> None:
    init_http_context()
    user = await layer.create_user(User(identifier="many", metadata={}))
    assert user is not None
    rng = np.random.default_rng(0)
    searches = [retriever.search(q) for q in QUESTIONS]
    for i in range(count):
        search = searches[i % len(searches)]
        noisy = np.asarray(search.vector) + rng.normal(0, 0.01, 384)
        search = type(search)(search.query, search.passages, search.coverage, (noisy / np.linalg.norm(noisy)).tolist())
        grounded = i % 5 != 0
        sentences = [CheckedSentence("s", [1], "supported" if grounded else "unsupported", 1.0)] * 3
        answer = Answer(
            text="An answer [1].",
            sources=[Source(1, p) for p in search.passages[:3]],
            cited=True,
            passages=search.passages,
            covered=search.covered,
            processing_time_ms=120,
            model="excerpts: book-excerpts",
            query=search.query,
            sentences=sentences,
            coverage_reason=search.coverage.reason,
        )
        chat = f"chat-{i}"
        if i % 20 == 0:
            await layer.update_thread(chat, name="q", user_id=user.id)
            await layer.upsert_feedback(Feedback(forId=f"step-{i}", value=0, threadId=chat, comment="wrong"))
        await history.record(
            answer, Asked(QUESTIONS[i % len(QUESTIONS)], chat, "many", "excerpts", f"step-{i}"), search
        )


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-instructor-"))
    embedder = Embedder()
    store = EdgeStore(folder / "qdrant", "book")
    run_ingest(IngestOptions(REPO / "samples" / "textbook" / "docs"), store, embedder)
    retriever = Retriever(store, embedder, 5, 0.3)
    settings = load_settings(data_dir=folder, database_url=args.database_url)
    database = Database(settings)
    started = time.perf_counter()
    await seed(
        History(database),
        TutorDataLayer(database, FolderStorage(folder / "files", "s" * 40)),
        retriever,
        embedder,
        args.questions,
    )
    print(f"seeded {args.questions} answers in {time.perf_counter() - started:.0f} s ({database.engine.dialect.name})")
    reports, pages = [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        report = await build_report(database, Period.last(30), retriever.nearest, retriever.payloads)
        reports.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        html = templates.get_template("instructor.html").render(report=report, token=lambda _: "t", query="")
        pages.append(reports[-1] + (time.perf_counter() - t) * 1000)
    assert report.questions == args.questions and html
    print(f"{len(report.gaps)} gap groups, {len(report.flagged)} flagged answers, {len(html) // 1024} kB of HTML")
    print(f"report data, ms: {percentiles(reports)}")
    print(f"report data and the rendered page, ms: {percentiles(pages)}")
    await database.close()
    store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", help="e.g. postgresql://user@host/db (default: SQLite in a temp folder)")
    asyncio.run(main(parser.parse_args()))
