"""An answer's citation opened: the passage as the book holds it now, or, when the book changed since the answer
cited it, as it was then (a passage's id follows its content, and the history keeps every cited passage)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import cast

from rag.chats.history import History
from rag.search.passage import Passage
from rag.search.retrieval import Retriever
from rag.store.payload import ChunkPayload


@dataclass(frozen=True)
class Opened:
    passage: Passage
    current: bool  # False: the book has changed since; `passage` is as the answer cited it


class Citations:
    def __init__(self, retriever: Retriever, history: History):
        self.retriever, self.history = retriever, history

    async def open(self, passage_id: str) -> Opened | None:
        """None when neither the book nor any answer holds the passage (a passage's id is a UUID: anything else
        is none, not a question for the store)."""
        try:
            uuid.UUID(passage_id)
        except ValueError:
            return None
        found = (await asyncio.to_thread(self.retriever.payloads, [passage_id])).get(passage_id)
        if found is not None:
            return Opened(Passage.from_hit(passage_id, cast(ChunkPayload, found), 0.0, 0.0), current=True)
        kept = await self.history.cited(passage_id)
        return Opened(kept, current=False) if kept else None
