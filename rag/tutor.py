"""The tutor: a question answered from the book, one code path for the Chainlit UI, the REST API and the tests
(`rag.engine` assembles it with the other services: hints and quizzes are study's).

`ask` retrieves, decides "not covered" before any model is called, runs the agent with streaming
(an LLM, or the book-excerpts model), verifies citations as the text streams, then checks every sentence
against the passages (`rag.answer.grounding`) and ends with an `Answer` (`rag.answer.result`). A chat's memory is
the Agents SDK's SQLAlchemy session on the history database (`rag.chats`), keyed by chat id; nothing here is
shared between chats except the store and the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace

import openai
from agents import Agent, AgentsException, Model, RunConfig, Runner
from openai.types.responses import ResponseTextDeltaEvent

from rag.answer.agent import TutorContext, create_textbook_agent, in_english_terms
from rag.answer.excerpts import ExcerptComposer, ExcerptModel
from rag.answer.grounding import CheckedSentence, GroundingChecker
from rag.answer.judge import judge
from rag.answer.refusal import refusal
from rag.answer.relevance import relevance
from rag.answer.result import Answer, Source, clean_question
from rag.chats.history import Asked, ChatMemory, Exchange, History
from rag.config import Settings
from rag.db.database import DATABASE_ERRORS, DatabaseUnavailable
from rag.errors import TutorError
from rag.identity import LOCAL_OWNER, Role
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
from rag.search.finder import Finder
from rag.search.passage import Reading, SearchResult
from rag.text.citations import CitationRewriter, renumber, verify
from rag.text.language import Foreign

log = logging.getLogger(__name__)

EMPTY_ANSWER = "The model returned no answer. The passages the textbook offers are listed below."

ModelBuilder = Callable[[Provider, str | None, float], Model]
Events = AsyncIterator[SearchResult | str | Answer]


class Tutor:
    def __init__(
        self,
        settings: Settings,
        finder: Finder,
        history: History,
        checker: GroundingChecker,
        composer: ExcerptComposer,
        local_server: LocalLLMServer,
        build: ModelBuilder | None = None,
    ):
        self.settings, self.finder, self.history = settings, finder, history
        self.retriever = finder.retriever
        self.checker, self.composer, self.local_server = checker, composer, local_server
        self._build = build or Models()
        self._agents: dict[ProviderName, Agent[TutorContext]] = {}  # one per provider: built once, never changed

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

    async def ask(
        self,
        question: str,
        chat_id: str,
        *,
        provider_name: ProviderName | None = None,
        owner: str = LOCAL_OWNER,
        role: Role = "instructor",
        step_id: str | None = None,
        reading: Reading | None = None,
        earlier: Sequence[Exchange] | None = None,
    ) -> Events:
        """Who asks is checked now, so REST refuses with a status before a stream starts: `owner` must own the chat
        (`ChatNotFound` otherwise) and may use `provider_name` as `role` (`ProfileNotAllowed` otherwise: the UI
        and REST pass the asker's role; code that asks for itself is trusted like an instructor). The answer's
        events come as they are read: the `SearchResult`, then text deltas (citations already verified), then
        the checked `Answer`, which is recorded in the chat's history. `step_id` is the chat message that shows
        the answer, where feedback attaches; `reading` the page the student reads, whose passages lead when they
        answer; `earlier` the conversation so far as the client holds it, the chat's memory instead of the stored
        one (`History.memory`)."""
        started = time.perf_counter()
        profile = allowed_provider(self.settings, role, provider_name)
        asked = Asked(clean_question(question), chat_id, owner, profile, step_id)
        await self.history.claim(chat_id, owner)
        memory = self.history.memory(chat_id, earlier)
        return self._events(asked, memory, profile, offered(self.settings, role), reading, started)

    async def _events(
        self,
        asked: Asked,
        memory: ChatMemory,
        profile: ProviderName,
        allowed: list[ProviderName],
        reading: Reading | None,
        started: float,
    ) -> Events:
        answer: Answer | None = None
        foreign = await self.finder.foreign(asked.question)
        try:  # the chat's memory is read by the search and the agent run: the database may fail in either
            # a question in another language is searched by the English terms it holds
            searched = foreign.query if foreign and foreign.terms else asked.question
            result = await self.finder.search(searched, await memory.asked(), reading)
            yield result
            if not result.covered or (foreign and not foreign.terms):
                answer = refusal(asked.question, result, started, foreign)
                await memory.remember(asked.question, answer.text)
                yield answer.text
            else:
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
            log.exception("history.record failed chat=%s: the answer is shown but not kept", asked.chat_id)
            answer = replace(answer, not_kept=str(exc))
        yield answer

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
        events = await self.ask(question, chat_id, provider_name=provider_name, owner=owner, role=role, reading=reading)
        async for event in events:
            if isinstance(event, Answer):
                return event
        raise RuntimeError("an answer's events ended without an Answer")


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
