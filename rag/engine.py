"""The composition root: the engine's parts built once per process and held as named services, which the chat
page, REST, the book's widget, the evaluation and the tests all take from here.

- `answers` (`rag.tutor.Tutor`): a question answered from the book, checked, cited and recorded;
- `hints` (`rag.study.hints.Hinter`) and `study` (`rag.study.service.Study`): hints mode, quizzes and review;
- `history` (`rag.chats.history.History`): who owns a chat, its memory and its answers;
- `retriever` (`rag.search.retrieval.Retriever`): the book, searched or read by passage id;
- `finder` (`rag.search.finder.Finder`): a question searched as the tutor searches it, store faults translated;
- `book` (`rag.search.book.BookIndex`): the book's pages and chapters, one snapshot that follows re-ingests;
- `citations` (`rag.chats.citations.Citations`): an answer's citation opened, as the passage was if it changed;
- `reports` (`rag.report.service.Reports`): the instructor's report;
- `store`, `embedder`, `database` and `local_server`: what the health check, an ingest the app runs
  (`ingest.handoff`) and shutdown need.

Each service translates its own failures (`TutorError`, `DatabaseUnavailable`), so callers wrap nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from rag.answer.excerpts import ExcerptComposer
from rag.answer.grounding import GroundingChecker
from rag.chats.citations import Citations
from rag.chats.history import History
from rag.config import Settings
from rag.db.database import Database
from rag.errors import TutorError
from rag.llm.bundled import LocalLLMServer
from rag.report.service import Reports
from rag.search.book import BookIndex
from rag.search.embeddings import Embedder, EmbeddingError
from rag.search.finder import Finder
from rag.search.retrieval import Retriever
from rag.store import Store, StoreError, get_store
from rag.study.hints import Hinter
from rag.study.records import StudyRecords
from rag.study.service import Study
from rag.tutor import ModelBuilder, Tutor


@dataclass(frozen=True)
class Engine:
    settings: Settings
    store: Store
    embedder: Embedder
    database: Database
    retriever: Retriever
    finder: Finder
    book: BookIndex
    history: History
    answers: Tutor
    hints: Hinter
    study: Study
    citations: Citations
    reports: Reports
    local_server: LocalLLMServer

    @classmethod
    def assemble(
        cls,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        build: ModelBuilder | None = None,
        database: Database | None = None,
    ) -> Engine:
        """Every part over one store, one embedder and one database; `build` makes the models (tests hand in a
        double for the paid providers)."""
        database = database or Database(settings)
        retriever = Retriever(store, embedder, settings.top_k, settings.score_threshold)
        finder = Finder(retriever)
        history = History(database)
        records = StudyRecords(database)
        checker = GroundingChecker(embedder.embed_texts)
        composer = ExcerptComposer(embedder.embed_texts, lambda: retriever.stats)
        local_server = LocalLLMServer(settings.local_llm_model)
        answers = Tutor(settings, finder, history, checker, composer, local_server, build)
        study = Study(retriever, retriever.index, embedder.embed_texts, checker, records, history)
        hints = Hinter(records, history, finder, checker, composer, study.clock, answers.ask)
        reports = Reports(database, retriever.nearest, retriever.payloads)
        citations = Citations(retriever, history)
        return cls(
            settings,
            store,
            embedder,
            database,
            retriever,
            finder,
            retriever.index,
            history,
            answers,
            hints,
            study,
            citations,
            reports,
            local_server,
        )

    @classmethod
    def from_settings(cls, settings: Settings, database: Database | None = None) -> Engine:
        """Open the store and load the embedding model (raises StoreError/EmbeddingError with the fix)."""
        store = get_store(settings)
        try:
            store.verify_connection()
            # One ONNX thread: a question is one short text, requests run side by side on the cores, and a pool
            # of intra-op threads spins after each call (it cost a third of a default answer's CPU).
            embedder = Embedder(settings.embedding_model, settings.model_cache_dir, threads=1)
            return cls.assemble(settings, store, embedder, database=database)
        except BaseException:
            store.close()  # an embedded store stays locked while open: release it for the next attempt
            raise

    def close(self) -> None:
        self.local_server.stop()
        self.store.close()


class EngineHolder:
    """The app's one engine, assembled on first use, and again after a failed start (say the embedded store was
    locked by an ingest), so the app recovers without a restart once the cause is gone."""

    def __init__(self, settings: Settings, factory: Callable[[Settings], Engine] = Engine.from_settings):
        self.settings = settings
        self._factory = factory
        self._engine: Engine | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Engine:
        async with self._lock:
            if self._engine is None:
                try:
                    self._engine = await asyncio.to_thread(self._factory, self.settings)
                except (StoreError, EmbeddingError) as exc:  # each says its own service
                    raise TutorError(exc.kind, str(exc)) from None
            return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
