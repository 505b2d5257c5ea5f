"""Hints mode on student questions: the first reply names the section that answers the question, cited, and
never holds the sentence that answers it; the second holds that sentence with its key held back; the last is the
full answer. Every answerable question runs the three steps in a chat of its own."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

from evaluation.answers import answers_question, holds_quote
from evaluation.corpora import ingested
from evaluation.data import read_jsonl
from rag.answer.result import Answer
from rag.config import load_settings
from rag.db.database import Database
from rag.engine import Engine
from rag.search.embeddings import Embedder
from rag.search.passage import SearchResult
from rag.study.hints import Hinter


async def _last(events: AsyncIterator[SearchResult | str | Answer]) -> Answer | None:
    last = None
    async for event in events:
        if isinstance(event, Answer):
            last = event
    return last


async def _steps(hints: Hinter, question: str, chat_id: str) -> list[Answer]:
    """The replies to a question and to each More help after it, until the full answer."""
    replies = [await _last(hints.stream(question, chat_id))]
    while replies[-1] is not None and replies[-1].covered and len(replies) < 3:
        replies.append(await _last(hints.more_help(chat_id)))
    return [r for r in replies if r is not None]


def hints(args: argparse.Namespace, embedder: Embedder, workdir: Path) -> tuple[list[str], dict]:
    chats = tempfile.TemporaryDirectory(dir=workdir, prefix="chats-")  # no memory of an earlier run
    settings = load_settings(data_dir=Path(chats.name))
    engines = {
        name: Engine.assemble(settings, store, embedder, database=Database(settings, pooled=False))
        for name, store in ingested(args.corpus, embedder, workdir).items()
    }
    tally: Counter[str] = Counter()
    details = []
    for row in read_jsonl(args.file):
        if not row["answerable"] or row["corpus"] not in engines:
            continue
        replies = asyncio.run(_steps(engines[row["corpus"]].hints, row["question"], f"hints-{row['id']}"))
        first = replies[0]
        entry = {"id": row["id"], "replies": [r.text for r in replies]}
        tally["questions"] += 1
        tally["refused"] += not first.covered
        tally["first_holds_answer"] += first.covered and holds_quote(first.text, row["quote"])
        tally["first_cites_answering"] += first.covered and answers_question(row, [s.passage for s in first.sources])
        if len(replies) == 3:
            tally["three_steps"] += 1
            tally["last_holds_answer"] += holds_quote(replies[2].text, row["quote"])
        details.append(entry)
    for engine in engines.values():
        engine.close()
    chats.cleanup()
    n = tally["questions"]
    lines = [
        f"hints on {n} answerable questions: refused {tally['refused']}",
        f"first reply holds the answering sentence {tally['first_holds_answer']}/{n}, "
        f"cites the section that holds it {tally['first_cites_answering']}/{n}",
        f"the last step (the full answer) holds it {tally['last_holds_answer']}/{tally['three_steps']}",
    ]
    return lines, {**tally, "replies": details}
