"""An ingest the running app does for `python -m ingest` (an embedded store is one process's): its writes are held
back and land together, so each question the app answers meanwhile sees the old book or the new one, never half
of each. The slow part, parsing and embedding, runs while the app keeps answering from the old book."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from rag.store import CollectionSpec, Hit, PayloadFilter, SearchMode, Store, StoredPoint
from rag.store.vectors import Embedding


class StagedStore:
    """`store` for reading; its writes kept until `commit`, which makes them in one `exclusive()` hold."""

    def __init__(self, store: Store):
        self.store = store
        self.description = store.description
        self._writes: list[Callable[[], None]] = []

    def commit(self) -> None:
        with self.store.exclusive():
            for write in self._writes:
                write()
        self._writes = []

    # -- held back ----------------------------------------------------------------------------------------

    def upsert(self, points: list[StoredPoint]) -> None:
        self._writes.append(lambda: self.store.upsert(points))

    def delete(self, where: PayloadFilter) -> None:
        self._writes.append(lambda: self.store.delete(where))

    def optimize(self) -> None:
        self._writes.append(self.store.optimize)

    def set_book_version(self, version: str) -> None:
        self._writes.append(lambda: self.store.set_book_version(version))  # last: the processes follow it

    def ensure_collection(self, spec: CollectionSpec, recreate: bool = False) -> None:
        if recreate:
            raise ValueError("--recreate drops the collection the app answers from: stop the app to recreate it.")
        self.store.ensure_collection(spec)  # checks the model; creates the collection only when there is none

    # -- read through -------------------------------------------------------------------------------------

    def verify_connection(self) -> None:
        self.store.verify_connection()

    def collection_spec(self) -> CollectionSpec | None:
        return self.store.collection_spec()

    def book_version(self) -> str:
        return self.store.book_version()

    def query(
        self, queries: Sequence[Embedding], limit: int, where: PayloadFilter | None = None, mode: SearchMode = "hybrid"
    ) -> list[Hit]:
        return self.store.query(queries, limit, where, mode)

    def count(self, where: PayloadFilter | None = None) -> int:
        return self.store.count(where)

    def scroll(self, fields: list[str]) -> Iterator[dict[str, Any]]:
        return self.store.scroll(fields)

    def get(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        return self.store.get(ids)

    def exclusive(self) -> AbstractContextManager[Any]:
        return self.store.exclusive()

    def close(self) -> None:
        """The app's store stays open: it answers from it."""
