"""History on the real database: the sidebar for a user with 1,000 threads, the resume of a 50-message thread,
and the time persistence adds to each answer.

Fills a fresh database (SQLite in a temporary folder, or `--database-url`) through the app's own data layer and
history, with what a chat really writes: per question a user message, the run, the search step, the answer and
its cited passages (elements with their files). Prints p50/p95 of each measure; Chainlit's own `list_threads`
is timed once beside ours for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import cast

import chainlit as cl
from chainlit.context import init_http_context
from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.step import StepDict
from chainlit.types import Pagination, ThreadFilter
from chainlit.user import User

from bench.common import percentiles
from rag.answer.result import Answer, Source
from rag.chats.history import Asked, History, now
from rag.config import load_settings
from rag.db.database import Database
from rag.search.passage import Passage
from web.datalayer import TutorDataLayer
from web.storage import FolderStorage

PASSAGE = Passage(
    "p",
    "A node is a single process in the ROS 2 graph. " * 8,
    "Nodes",
    "Nodes › What is a node?",
    "What is a node?",
    "/docs/nodes#what-is-a-node",
    "nodes.md",
    0.5,
    0.6,
)
ANSWER = Answer(
    text="A node is a single process in the ROS 2 graph [1]. " * 4,
    sources=[Source(1, PASSAGE)],
    cited=True,
    passages=[PASSAGE],
    covered=True,
    processing_time_ms=120,
    model="excerpts: book-excerpts",
    query="What is a node?",
)


async def write_exchange(layer: TutorDataLayer, history: History, thread_id: str, owner: str) -> float:
    """What the app persists for one question and its answer; returns the ms spent on the answer's own path
    (owner, memory, record) as opposed to Chainlit's message writes, which run in background tasks."""
    user_step, run, search, reply = (str(uuid.uuid4()) for _ in range(4))
    started = time.perf_counter()
    memory = history.memory(thread_id)
    await history.claim(thread_id, owner)
    await memory.get_items()
    on_path = time.perf_counter() - started
    for step_id, kind, output, parent in (
        (user_step, "user_message", "What is a node?", None),
        (run, "run", "", user_step),
        (search, "retrieval", "1. Nodes", run),
        (reply, "assistant_message", ANSWER.text, run),
    ):
        step: dict[str, object] = {
            "id": step_id,
            "threadId": thread_id,
            "name": kind,
            "type": kind,
            "output": output,
            "parentId": parent,
            "createdAt": now(),
            "streaming": False,
            "metadata": {},
        }
        await layer.create_step(cast(StepDict, step))
    for n in range(3):
        element = cl.Text(name=f"[{n + 1}]", content=PASSAGE.text, display="side", for_id=reply)
        element.thread_id = thread_id
        await layer.create_element(element)
    started = time.perf_counter()
    await memory.add_items(
        [{"role": "user", "content": "What is a node?"}, {"role": "assistant", "content": ANSWER.text}]
    )
    await history.record(ANSWER, Asked("What is a node?", thread_id, owner, "excerpts", run))
    return (on_path + time.perf_counter() - started) * 1000


async def main(args: argparse.Namespace) -> None:
    init_http_context()
    folder = Path(tempfile.mkdtemp(prefix="bench-history-"))
    settings = load_settings(data_dir=folder, database_url=args.database_url)
    database = Database(settings)
    layer = TutorDataLayer(database, FolderStorage(folder / "files", "s" * 40))
    history = History(database)
    user = await layer.create_user(User(identifier="heavy-user", metadata={"role": "student"}))
    assert user is not None
    started = time.perf_counter()
    for i in range(args.threads):
        thread_id = str(uuid.uuid4())
        await layer.update_thread(thread_id, name=f"Question {i}", user_id=user.id, tags=["Book excerpts"])
        await write_exchange(layer, history, thread_id, user.identifier)
    long_thread = str(uuid.uuid4())
    await layer.update_thread(long_thread, name="A long chat", user_id=user.id)
    for _ in range(args.messages // 2):
        await write_exchange(layer, history, long_thread, user.identifier)
    print(
        f"filled {args.threads} threads and one of {args.messages} messages in {time.perf_counter() - started:.0f} s"
        f" ({database.engine.dialect.name})"
    )

    sidebar, resume, answer_writes, on_path = [], [], [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        page = await layer.list_threads(Pagination(first=20), ThreadFilter(userId=user.id))
        sidebar.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        thread = await layer.get_thread(long_thread)
        resume.append((time.perf_counter() - t) * 1000)
    assert len(page.data) == 20 and thread is not None and len(thread["steps"]) == args.messages * 2
    for _ in range(args.runs):
        t = time.perf_counter()
        on_path.append(await write_exchange(layer, history, str(uuid.uuid4()), user.identifier))
        answer_writes.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    await SQLAlchemyDataLayer.list_threads(layer, Pagination(first=20), ThreadFilter(userId=user.id))
    chainlit_ms = (time.perf_counter() - t) * 1000
    print(
        f"history list, first page of {args.threads} threads, ms: {percentiles(sidebar)} "
        f"(Chainlit's own list_threads: {chainlit_ms:.0f} ms)"
    )
    print(f"resume of a {args.messages}-message thread (steps, elements, signed URLs), ms: {percentiles(resume)}")
    print(
        f"persistence on an answer's path (owner check, memory read and write, answer record), ms: "
        f"{percentiles(on_path)}"
    )
    print(
        f"all writes of an answer (the above, and Chainlit's 4 steps and 3 elements in background tasks), ms: "
        f"{percentiles(answer_writes)} mean={statistics.mean(answer_writes):.1f}"
    )
    await database.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=50, help="messages of the long thread (questions + answers)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", help="e.g. postgresql://user@host/db (default: SQLite in a temp folder)")
    asyncio.run(main(parser.parse_args()))
