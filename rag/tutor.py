"""The tutor service: one code path for the Chainlit UI, the REST API and the tests.

`answer_stream` retrieves, decides "not covered" by threshold before any LLM
call, runs the agent with streaming, verifies citations as the text streams,
and ends with an `Answer`. Chat memory lives in the Agents SDK's SQLite session,
keyed by chat id; nothing here is shared between chats except the store handle.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import openai
from agents import AgentsException, RunConfig, Runner, SQLiteSession
from agents.memory import SessionSettings
from openai.types.responses import ResponseTextDeltaEvent

from rag.agent import NOT_COVERED, TutorContext, create_textbook_agent
from rag.citations import CitationRewriter
from rag.config import Settings
from rag.embeddings import Embedder, EmbeddingError
from rag.local_llm import LocalLLMError, LocalLLMServer
from rag.models import ProviderChoice, ProviderName, build_model, choose_provider, describe_llm_error, provider
from rag.retrieval import Passage, Retriever, SearchResult, search_queries
from rag.store import Store, StoreError, get_store

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 4000
EMPTY_ANSWER = "The model returned no answer. The passages the textbook offers are listed below."
HISTORY_ITEMS = 8  # the last four question/answer pairs
SMALL_MODEL_PASSAGES = 3
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class TutorError(RuntimeError):
    """A failure to show the user: `kind` says which service ("qdrant" or "llm"), the message what to do."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Source:
    n: int
    passage: Passage


@dataclass(frozen=True)
class Answer:
    text: str
    sources: list[Source]  # cited passages renumbered 1..n; all retrieved ones when nothing was cited
    cited: bool  # False: `sources` were retrieved but not cited
    passages: list[Passage]
    covered: bool
    processing_time_ms: int
    model: str
    query: str


def clean_question(text: str) -> str:
    """Control characters stripped; empty or overlong input is a ValueError with the reason."""
    text = _CONTROL.sub("", text or "").strip()
    if not text:
        raise ValueError("The question is empty: type a question about the textbook.")
    if len(text) > MAX_QUESTION_CHARS:
        raise ValueError(f"The question is {len(text)} characters long; the limit is {MAX_QUESTION_CHARS}.")
    return text


class Tutor:
    def __init__(self, settings: Settings, store: Store, embedder: Embedder, build=build_model):
        self.settings = settings
        self.store = store
        self.retriever = Retriever(store, embedder, settings.top_k, settings.score_threshold)
        self.local_server = LocalLLMServer(settings.local_llm_model)
        self._build = build
        # Resolved once: the chat histories stay in one file even if the working directory changes later.
        self._sessions_db = settings.sessions_db.resolve()
        self._sessions_db.parent.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> Tutor:
        """Open the store and load the embedding model (raises StoreError/EmbeddingError with the fix)."""
        store = get_store(settings)
        try:
            store.verify_connection()
            return cls(settings, store, Embedder(settings.embedding_model, settings.model_cache_dir))
        except BaseException:
            store.close()  # an embedded store stays locked while open: release it for the next attempt
            raise

    def close(self) -> None:
        self.local_server.stop()
        self.store.close()

    async def _model(self, choice: ProviderChoice):
        base_url = None
        if choice.bundled:
            try:
                base_url = await asyncio.to_thread(self.local_server.start)
            except LocalLLMError as exc:
                raise TutorError("llm", str(exc)) from None
        return self._build(choice, base_url, self.settings.llm_timeout)

    # -- answering ------------------------------------------------------------------

    def _session(self, chat_id: str) -> SQLiteSession:
        return SQLiteSession(chat_id, self._sessions_db, session_settings=SessionSettings(limit=HISTORY_ITEMS))

    async def _search(self, question: str, session: SQLiteSession) -> SearchResult:
        previous = [i["content"] for i in await session.get_items()
                    if i.get("role") == "user" and isinstance(i.get("content"), str)]
        try:
            return await asyncio.to_thread(self.retriever.search, search_queries(question, previous))
        except StoreError as exc:
            raise TutorError("qdrant", str(exc)) from None

    async def answer_stream(
        self, question: str, chat_id: str, provider_name: ProviderName | None = None
    ) -> AsyncIterator[SearchResult | str | Answer]:
        """Yields the `SearchResult`, then text deltas (citations already verified), then the `Answer`."""
        started = time.perf_counter()
        question = clean_question(question)
        session = self._session(chat_id)
        result = await self._search(question, session)
        yield result
        if not result.covered:
            await session.add_items([{"role": "user", "content": question},
                                     {"role": "assistant", "content": NOT_COVERED}])
            yield NOT_COVERED
            yield Answer(NOT_COVERED, [], False, result.passages, False, _ms(started), "none (not covered)", result.query)
            return
        names: list[ProviderName] = [provider_name or choose_provider(self.settings).name]
        if names[0] == "gemini" and self.settings.has_real_openai_key:
            names.append("openai")  # Gemini failures fall back to OpenAI when it is configured
        small = provider(self.settings, names[0]).bundled
        # The bundled 135M model reads slowly (seconds per thousand prompt tokens) and no better with more text.
        context = TutorContext(self.retriever, list(result.passages[:SMALL_MODEL_PASSAGES] if small else result.passages))
        for attempt, name in enumerate(names):
            choice = provider(self.settings, name)
            rewriter = CitationRewriter(0)
            emitted = False
            try:
                async for delta in self._run(question, context, choice, session, rewriter, started):
                    emitted = True
                    yield delta
                break
            except (openai.OpenAIError, AgentsException) as exc:
                message = describe_llm_error(exc, choice)
                if emitted or attempt == len(names) - 1:
                    raise TutorError("llm", message) from None
                log.warning("llm.fallback from=%s to=%s reason=%s", name, names[attempt + 1], message)
        if not rewriter.text.strip():
            yield rewriter.feed(EMPTY_ANSWER) + rewriter.finish()
        text = rewriter.text
        sources = [Source(i, context.passages[n - 1]) for i, n in enumerate(rewriter.order, 1)]
        cited = bool(sources)
        if not cited:
            sources = [Source(i, p) for i, p in enumerate(context.passages, 1)]
        yield Answer(text, sources, cited, context.passages, True, _ms(started), f"{choice.name}: {choice.model}",
                     result.query)

    async def _run(self, question, context, choice, session, rewriter, started) -> AsyncIterator[str]:
        model = await self._model(choice)
        agent = create_textbook_agent(model, small_model=choice.name == "local")
        run = Runner.run_streamed(
            agent, question, context=context, session=session,
            run_config=RunConfig(tracing_disabled=choice.name != "openai", workflow_name="textbook tutor"),
        )
        first_token = None
        try:
            async for event in run.stream_events():
                if event.type != "raw_response_event" or not isinstance(event.data, ResponseTextDeltaEvent):
                    continue  # tool calls, their argument deltas and other events never reach the text
                rewriter.passage_count = len(context.passages)
                if text := rewriter.feed(event.data.delta):
                    first_token = first_token or time.perf_counter()
                    yield text
            if tail := rewriter.finish():
                yield tail
        finally:
            if not run.is_complete:
                run.cancel()
        log.info("agent.answer provider=%s model=%s first_token_ms=%s total_ms=%d", choice.name, choice.model,
                 round((first_token - started) * 1000) if first_token else None, _ms(started))

    async def answer(self, question: str, chat_id: str, provider_name: ProviderName | None = None) -> Answer:
        async for event in self.answer_stream(question, chat_id, provider_name):
            if isinstance(event, Answer):
                return event
        raise RuntimeError("answer_stream ended without an Answer")


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


class TutorHolder:
    """The app's one tutor, created on first use, and again after a failed start (say the embedded store was
    locked by an ingest), so the app recovers without a restart once the cause is gone."""

    def __init__(self, settings: Settings, factory=Tutor.from_settings):
        self.settings = settings
        self._factory = factory
        self._tutor: Tutor | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Tutor:
        async with self._lock:
            if self._tutor is None:
                try:
                    self._tutor = await asyncio.to_thread(self._factory, self.settings)
                except (StoreError, EmbeddingError) as exc:
                    raise TutorError("qdrant" if isinstance(exc, StoreError) else "embeddings", str(exc)) from None
            return self._tutor

    def close(self) -> None:
        if self._tutor is not None:
            self._tutor.close()
            self._tutor = None
