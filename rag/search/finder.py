"""A chat's question searched in the book, the one way answers, hints and the widget search: the question alone,
or with the previous question when it leans on it; its query embeddings batched with other chats'; the store's
failure said as the tutor's (`TutorError`), so no caller wraps it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from rag.errors import TutorError
from rag.search.batching import QueryBatcher
from rag.search.passage import Reading, SearchResult
from rag.search.retrieval import Retriever, search_queries
from rag.store import StoreError
from rag.text.language import Foreign, QuestionLanguage

T = TypeVar("T")


class Finder:
    def __init__(self, retriever: Retriever, language: QuestionLanguage | None = None):
        self.retriever = retriever
        self.queries = QueryBatcher(retriever.embedder.embed_queries)
        self.language = language or QuestionLanguage()

    async def search(self, question: str, previous: list[str], reading: Reading | None = None) -> SearchResult:
        """The passages for `question`, the chat's `previous` questions (oldest first) widening it when it leans
        on the latest, and the selection being read widening it too (the question leads)."""
        queries = search_queries(question, previous)
        if reading is not None and reading.selection:
            queries.append(reading.selection)
        embeddings = await self.queries.embed(queries)
        return await _from_store(lambda: self.retriever.search(queries, embeddings=embeddings, reading=reading))

    async def foreign(self, question: str) -> Foreign | None:
        """The question's language when it is not the book's (weighed with the book's words)."""
        return await _from_store(lambda: self.language.foreign(question, self.retriever.stats))


async def _from_store(work: Callable[[], T]) -> T:
    """`work` that reads the store, in a thread, with the store's failure said as the tutor's."""
    try:
        return await asyncio.to_thread(work)
    except StoreError as exc:
        raise TutorError("qdrant", str(exc)) from None
