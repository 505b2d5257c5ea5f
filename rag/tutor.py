"""The tutor service: one code path for the Chainlit UI, the REST API and the tests.

`answer_stream` retrieves, decides "not covered" before any model is called, runs the agent with streaming
(an LLM, or the book-excerpts model), verifies citations as the text streams, then checks every sentence
against the passages (`rag.answer.grounding`) and ends with an `Answer` (`rag.answer.result`). A chat's memory is
the Agents SDK's SQLAlchemy session on the history database (`rag.chats`), keyed by chat id; nothing here is
shared between chats except the store and the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any, TypeVar, cast

import openai
from agents import Agent, AgentsException, Model, RunConfig, Runner
from openai.types.responses import ResponseTextDeltaEvent

from rag.answer.agent import NOT_COVERED, TutorContext, create_textbook_agent, in_english_terms, not_in_english
from rag.answer.excerpts import ExcerptComposer, ExcerptModel
from rag.answer.grounding import CheckedSentence, GroundingChecker
from rag.answer.judge import judge
from rag.answer.relevance import relevance
from rag.answer.result import Answer, Source, clean_question
from rag.chats.history import Asked, ChatMemory, History
from rag.config import Settings
from rag.db.database import DATABASE_ERRORS, Database, DatabaseUnavailable
from rag.errors import TutorError
from rag.identity import Role
from rag.llm.bundled import LocalLLMError, LocalLLMServer
from rag.llm.providers import (
    Models,
    Provider,
    ProviderName,
    allowed_provider,
    describe_llm_error,
    offered,
    provider,
)
from rag.search.batching import QueryBatcher
from rag.search.embeddings import Embedder, EmbeddingError
from rag.search.passage import Reading, SearchResult
from rag.search.retrieval import Retriever, search_queries
from rag.store import Store, StoreError, get_store
from rag.study.hints import Hinter, asks_anew
from rag.study.items import Item
from rag.study.records import StudyRecords
from rag.study.service import NothingAsked, Study
from rag.text.citations import CitationRewriter, renumber, verify
from rag.text.language import Foreign, QuestionLanguage

log = logging.getLogger(__name__)
T = TypeVar("T")

EMPTY_ANSWER = "The model returned no answer. The passages the textbook offers are listed below."
LOCAL_OWNER = "local"  # the owner of chats asked in code (tests, evaluation), not through the UI or REST

ModelBuilder = Callable[[Provider, str | None, float], Model]


class Tutor:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        build: ModelBuilder | None = None,
        database: Database | None = None,
    ):
        self.settings = settings
        self.store = store
        self.retriever = Retriever(store, embedder, settings.top_k, settings.score_threshold)
        self.queries = QueryBatcher(embedder.embed_queries)
        self._agents: dict[ProviderName, Agent[TutorContext]] = {}  # one per provider: built once, never changed
        self.checker = GroundingChecker(embedder.embed_texts)
        self.composer = ExcerptComposer(embedder.embed_texts, lambda: self.retriever.stats)
        self.local_server = LocalLLMServer(settings.local_llm_model)
        self._build = build or Models()
        self.database = database or Database(settings)
        self.history = History(self.database)
        records = StudyRecords(self.database)
        self.study = Study(self.retriever, self.retriever.index, embedder.embed_texts, self.checker, records)
        self.hinter = Hinter(records, self.checker, self.composer, lambda: self.retriever.stats, self.study.clock)
        self.language = QuestionLanguage()

    @classmethod
    def from_settings(cls, settings: Settings, database: Database | None = None) -> Tutor:
        """Open the store and load the embedding model (raises StoreError/EmbeddingError with the fix)."""
        store = get_store(settings)
        try:
            store.verify_connection()
            # One ONNX thread: a question is one short text, requests run side by side on the cores, and a pool
            # of intra-op threads spins after each call (it cost a third of a default answer's CPU).
            embedder = Embedder(settings.embedding_model, settings.model_cache_dir, threads=1)
            return cls(settings, store, embedder, database=database)
        except BaseException:
            store.close()  # an embedded store stays locked while open: release it for the next attempt
            raise

    def close(self) -> None:
        self.local_server.stop()
        self.store.close()

    async def _model(self, choice: Provider, context: TutorContext) -> Model:
        if choice.kind == "excerpts":
            return ExcerptModel(self.composer, context)
        base_url = None
        if choice.bundled:
            try:
                base_url = await asyncio.to_thread(self.local_server.start)
            except LocalLLMError as exc:
                raise TutorError("llm", str(exc)) from None
        return self._build(choice, base_url, self.settings.llm_timeout)

    async def _crash(self, choice: Provider) -> str | None:
        """Why the bundled server died, when it did: a crash must not read as "unreachable"."""
        if not choice.bundled:
            return None
        crash = await asyncio.to_thread(self.local_server.crash)
        if crash is not None:
            log.error("llm.local_server crashed: %s", crash)
        return str(crash) if crash else None

    # -- answering ------------------------------------------------------------------

    async def _search(self, question: str, memory: ChatMemory, reading: Reading | None = None) -> SearchResult:
        items = cast(list[dict[str, Any]], await memory.get_items())
        previous = [i["content"] for i in items if i.get("role") == "user" and isinstance(i.get("content"), str)]
        queries = search_queries(question, previous)
        if reading is not None and reading.selection:
            queries.append(reading.selection)  # the selection widens the search; the question leads
        embeddings = await self.queries.embed(queries)
        return await self._from_store(lambda: self.retriever.search(queries, embeddings=embeddings, reading=reading))

    async def _language(self, question: str) -> Foreign | None:
        """The question's language when it is not the book's (the book's words are read from the store once)."""
        return await self._from_store(lambda: self.language.foreign(question, self.retriever.stats))

    @staticmethod
    async def _from_store(work: Callable[[], T]) -> T:
        """`work` that reads the store, in a thread, with the store's failure said as the tutor's."""
        try:
            return await asyncio.to_thread(work)
        except StoreError as exc:
            raise TutorError("qdrant", str(exc)) from None

    async def answer_stream(
        self,
        question: str,
        chat_id: str,
        *,
        provider_name: ProviderName | None = None,
        owner: str = LOCAL_OWNER,
        role: Role = "instructor",
        step_id: str | None = None,
        reading: Reading | None = None,
    ) -> AsyncIterator[SearchResult | str | Answer]:
        """Yields the `SearchResult`, then text deltas (citations already verified), then the checked `Answer`,
        which is recorded in the chat's history. `owner` must own the chat (`ChatNotFound` otherwise) and may
        use `provider_name` as `role` (`ProfileNotAllowed` otherwise: the UI and REST pass the asker's role; code
        that asks for itself is trusted like an instructor); `step_id` is the chat message that shows the
        answer, where feedback attaches; `reading` the page the student reads, whose passages lead when they
        answer."""
        started = time.perf_counter()
        profile = allowed_provider(self.settings, role, provider_name)
        asked = Asked(clean_question(question), chat_id, owner, profile, step_id)
        await self.claim(chat_id, owner)
        memory = self.history.memory(chat_id)
        answer: Answer | None = None
        foreign = await self._language(asked.question)
        try:  # the chat's memory is read by the search and the agent run: the database may fail in either
            # a question in another language is searched by the English terms it holds
            result = await self._search(foreign.query if foreign and foreign.terms else asked.question, memory, reading)
            yield result
            if not result.covered or (foreign and not foreign.terms):
                answer = await self._refuse(asked.question, result, memory, started, foreign)
                yield answer.text
            else:
                allowed = offered(self.settings, role)
                generated = self._generate(asked.question, result, memory, allowed, profile, started, reading, foreign)
                async for event in generated:
                    if isinstance(event, Answer):
                        answer = event
                    else:
                        yield event
        except DATABASE_ERRORS as exc:
            raise DatabaseUnavailable(self.settings, exc) from None  # the chat's memory (the SDK's session)
        assert answer is not None
        try:
            await self.history.record(answer, asked, result, memory)
        except DatabaseUnavailable as exc:  # the database stopped (or its disk filled) after the answer was written
            log.exception("history.record failed chat=%s: the answer is shown but not kept", chat_id)
            answer = replace(answer, not_kept=str(exc))
        yield answer

    async def hint_stream(
        self,
        text: str,
        chat_id: str,
        *,
        owner: str = LOCAL_OWNER,
        step_id: str | None = None,
        reading: Reading | None = None,
    ) -> AsyncIterator[SearchResult | str | Answer]:
        """Hints mode (`rag.study.hints`): an attempt at the chat's open question gets feedback; a question gets
        the section that answers it, cited (one the book does not cover is refused, as an answer is). Yields
        like `answer_stream`, an attempt with no search."""
        started = time.perf_counter()
        question = clean_question(text)
        await self.claim(chat_id, owner)
        try:
            open_hints = (await self.study.records.chat(chat_id)).hints
            if open_hints is not None and not asks_anew(question):
                yield await self.hinter.attempt(question, chat_id, owner, open_hints, started)
                return
            memory = self.history.memory(chat_id)
            result = await self._search(question, memory, reading)
            yield result
            if result.covered:
                answer = await self.hinter.open(question, chat_id, owner, result, started)
            else:
                answer = await self._refuse(question, result, memory, started)
                yield answer.text
            await self.history.record(answer, Asked(question, chat_id, owner, "hints", step_id), result, memory)
        except DATABASE_ERRORS as exc:
            raise DatabaseUnavailable(self.settings, exc) from None  # the chat's memory (the SDK's session)
        yield answer

    async def more_help(
        self,
        chat_id: str,
        *,
        owner: str = LOCAL_OWNER,
        role: Role = "instructor",
        provider_name: ProviderName | None = None,
        step_id: str | None = None,
        reading: Reading | None = None,
    ) -> AsyncIterator[SearchResult | str | Answer]:
        """The open question's next hint; at the last step its full answer (`answer_stream`). Nothing when no
        question is open."""
        hints, answer = await self.hinter.more(chat_id, owner, time.perf_counter())
        if answer is not None:
            yield answer
        elif hints is not None:
            events = self.answer_stream(
                hints.question,
                chat_id,
                provider_name=provider_name,
                owner=owner,
                role=role,
                step_id=step_id,
                reading=reading,
            )
            async for event in events:
                yield event

    async def quiz(
        self,
        owner: str,
        n: int,
        *,
        section: str | None = None,
        topic: str | None = None,
        chat_id: str | None = None,
        reading: Reading | None = None,
    ) -> list[Item]:
        """A quiz (`rag.study.service.Study.quiz`); with `chat_id` (which `owner` must own), on the chat's latest
        question unless a section, topic or page says otherwise."""
        if chat_id is not None:
            await self.history.claim(chat_id, owner)
            if not (section or topic or reading):
                latest = await self.history.questions(chat_id, 1)
                if not latest:
                    raise NothingAsked(
                        "Say what to quiz you on: a chapter, a section, or a topic of the book (this chat has "
                        "no question yet)."
                    )
                topic = latest[0]
        return await self.study.quiz(owner, n, section=section, topic=topic, reading=reading, chat_id=chat_id)

    async def claim(self, chat_id: str, owner: str) -> None:
        """`owner` owns the chat, or now does if it is new: `ChatNotFound` if it is someone else's,
        `DatabaseUnavailable` when the database is down."""
        await self.history.claim(chat_id, owner)

    async def _refuse(
        self, question: str, result: SearchResult, memory: ChatMemory, started: float, foreign: Foreign | None = None
    ) -> Answer:
        """The book does not cover it, or the question is in another language with no term of the book's: say
        so, and keep the exchange in memory like any other."""
        text = not_in_english(foreign) if foreign and not foreign.terms else NOT_COVERED
        await memory.add_items([{"role": "user", "content": question}, {"role": "assistant", "content": text}])
        return Answer(
            text=text,
            sources=[],
            cited=False,
            passages=result.passages,
            covered=False,
            processing_time_ms=_ms(started),
            model="none (not covered)",
            query=result.query,
            coverage_reason=f"asked in {foreign.language}" if foreign else result.coverage.reason,
            language=foreign.language if foreign else "",
        )

    async def _generate(
        self,
        question: str,
        result: SearchResult,
        memory: ChatMemory,
        allowed: list[ProviderName],
        profile: ProviderName,
        started: float,
        reading: Reading | None = None,
        foreign: Foreign | None = None,
    ) -> AsyncIterator[str | Answer]:
        """The provider's answer streamed (falling back, before the first token, to another provider the asker
        may use), then checked. `reading` is where the student reads (the page, the selection they ask about);
        `foreign` the language of a question not in English: a provider that translates answers in it, one that
        cannot (book excerpts, the bundled model) answers what the question's English terms ask."""
        first = provider(self.settings, profile)
        names: list[ProviderName] = [first.name, *([first.fallback] if first.fallback in allowed else [])]
        # A follow-up searched "question + previous" as two vectors; the first, the question's own, leads the excerpts.
        context = TutorContext(
            self.retriever,
            list(result.passages[: first.passage_budget]),
            result.query,
            result.vector,
            reading,
            question,
        )
        for attempt, name in enumerate(names):
            choice = provider(self.settings, name)
            asks = foreign.query if foreign and not choice.translates else question
            context.question, context.language = asks, foreign.language if foreign and choice.translates else ""
            rewriter = CitationRewriter(0)
            raw: list[str] = []
            emitted = False
            try:
                run = self._run(
                    asks, context, choice=choice, memory=memory, rewriter=rewriter, raw=raw, started=started
                )
                async for delta in run:
                    emitted = True
                    yield delta
                break
            except (openai.OpenAIError, AgentsException, TimeoutError) as exc:
                message = await self._crash(choice) or describe_llm_error(exc, choice)
                if emitted or attempt == len(names) - 1:
                    raise TutorError("llm", message) from None
                log.warning("llm.fallback from=%s to=%s reason=%s", name, names[attempt + 1], message)
        if not rewriter.text.strip() and (crash := await self._crash(choice)):
            raise TutorError("llm", crash)  # a server that dies mid-answer can end the stream with no error
        if not rewriter.text.strip():
            yield rewriter.feed(EMPTY_ANSWER) + rewriter.finish()
            raw = [EMPTY_ANSWER]
        # The check is CPU work: in a thread, the event loop goes on streaming other students' answers.
        answer = await asyncio.to_thread(self._checked_answer, "".join(raw), context, choice, result, started)
        if foreign:  # an answer in the book's words says which of the question's it answered
            text = answer.text if context.language else f"{in_english_terms(foreign)}\n\n{answer.text}"
            answer = replace(answer, language=foreign.language, text=text)
        yield await self._judged(answer, choice, context, started)

    async def _judged(self, answer: Answer, choice: Provider, context: TutorContext, started: float) -> Answer:
        """The answer with the sentences the checker left not verified decided by the model that wrote it
        (`rag.answer.judge`), in one call; book excerpts and the bundled model (too small to judge) skip it."""
        if (
            choice.kind == "excerpts"
            or choice.bundled
            or not self.settings.grounding_judge
            or not any(s.verdict == "unverified" for s in answer.sentences)
        ):
            return answer
        model = await self._model(choice, context)
        passages = [s.passage.text for s in answer.sources]
        sentences = await judge(answer.sentences, passages, model, choice.answered_by, self.settings.llm_timeout)
        return replace(answer, sentences=sentences, processing_time_ms=_ms(started))

    def _checked_answer(
        self, raw: str, context: TutorContext, choice: Provider, result: SearchResult, started: float
    ) -> Answer:
        """Every sentence checked against the run's passages (citations added, moved or flagged), then the
        markers renumbered 1..n in order of first use, like the streamed text."""
        checked = self.checker.check(raw, [p.text for p in context.passages])
        text, order = verify(checked.text, len(context.passages))
        sources = [Source(i, context.passages[n - 1]) for i, n in enumerate(order, 1)]
        sentences = [
            CheckedSentence(
                text=renumber(s.text, order),
                cites=[order.index(n) + 1 for n in s.cites if n in order],
                verdict=s.verdict,
                score=s.score,
                reason=s.reason,
            )
            for s in checked.sentences
        ]
        cited = bool(sources)
        if not cited:
            sources = [Source(i, p) for i, p in enumerate(context.passages, 1)]
        answer = Answer(
            text=text,
            sources=sources,
            cited=cited,
            passages=context.passages,
            covered=True,
            processing_time_ms=_ms(started),
            model=choice.answered_by,
            query=result.query,
            sentences=sentences,
            coverage_reason=result.coverage.reason,
            # a question in another language is weighed by its English terms, as it was searched
            relevance=relevance(
                result.query if context.language else context.question or result.query, text, self.retriever.stats
            ),
        )
        log.info(
            "tutor.answer provider=%s grounded=%s unsupported=%d total_ms=%d",
            choice.name,
            answer.grounded,
            len(checked.unsupported),
            answer.processing_time_ms,
        )
        return answer

    async def _run(
        self,
        question: str,
        context: TutorContext,
        *,
        choice: Provider,
        memory: ChatMemory,
        rewriter: CitationRewriter,
        raw: list[str],
        started: float,
    ) -> AsyncIterator[str]:
        """Stream one agent run: the model's deltas, kept raw in `raw`, and yielded with verified citations."""
        model = await self._model(choice, context)
        if choice.name not in self._agents:
            self._agents[choice.name] = create_textbook_agent(choice)
        agent = self._agents[choice.name]
        run = Runner.run_streamed(
            agent,
            question,
            context=context,
            session=memory,
            run_config=RunConfig(model=model, tracing_disabled=not choice.tracing, workflow_name="textbook tutor"),
        )
        first_token = None
        events = aiter(run.stream_events())
        # LLM_TIMEOUT bounds the wait for the first text, every retry and tool call included.
        deadline = asyncio.get_running_loop().time() + self.settings.llm_timeout
        try:
            while True:
                try:
                    async with asyncio.timeout_at(None if raw else deadline):
                        event = await anext(events)
                except StopAsyncIteration:
                    break
                if event.type != "raw_response_event" or not isinstance(event.data, ResponseTextDeltaEvent):
                    continue  # tool calls, their argument deltas and other events never reach the text
                rewriter.passage_count = len(context.passages)
                raw.append(event.data.delta)
                if text := rewriter.feed(event.data.delta):
                    first_token = first_token or time.perf_counter()
                    yield text
            if tail := rewriter.finish():
                yield tail
        finally:
            if not run.is_complete:
                run.cancel()
        log.info(
            "agent.answer provider=%s model=%s first_token_ms=%s total_ms=%d",
            choice.name,
            choice.model,
            round((first_token - started) * 1000) if first_token else None,
            _ms(started),
        )

    async def answer(
        self,
        question: str,
        chat_id: str,
        *,
        provider_name: ProviderName | None = None,
        owner: str = LOCAL_OWNER,
        role: Role = "instructor",
        reading: Reading | None = None,
    ) -> Answer:
        events = self.answer_stream(
            question, chat_id, provider_name=provider_name, owner=owner, role=role, reading=reading
        )
        async for event in events:
            if isinstance(event, Answer):
                return event
        raise RuntimeError("answer_stream ended without an Answer")


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


class TutorHolder:
    """The app's one tutor, created on first use, and again after a failed start (say the embedded store was
    locked by an ingest), so the app recovers without a restart once the cause is gone."""

    def __init__(self, settings: Settings, factory: Callable[[Settings], Tutor] = Tutor.from_settings):
        self.settings = settings
        self._factory = factory
        self._tutor: Tutor | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Tutor:
        async with self._lock:
            if self._tutor is None:
                try:
                    self._tutor = await asyncio.to_thread(self._factory, self.settings)
                except (StoreError, EmbeddingError) as exc:  # each says its own service
                    raise TutorError(exc.kind, str(exc)) from None
            return self._tutor

    def close(self) -> None:
        if self._tutor is not None:
            self._tutor.close()
            self._tutor = None
