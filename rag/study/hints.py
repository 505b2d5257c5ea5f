"""Hints before answers: the first reply to a question names the section that answers it (cited) and asks for
the student's attempt; each "more help" goes one step further (the book's sentence that answers it, with its
key term held back; then the full cited answer). An attempt is compared with that sentence, with the
grounding checker's evidence, and told what matches and what the passage says. The full answer is the tutor's
(`rag.tutor.Tutor.ask`), handed in by the engine as `FullAnswer`."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from rag.answer.excerpts import ExcerptComposer
from rag.answer.grounding import GroundingChecker
from rag.answer.refusal import refusal
from rag.answer.result import Answer, Source, clean_question
from rag.chats.history import Asked, History
from rag.db.database import DATABASE_ERRORS, DatabaseUnavailable
from rag.identity import LOCAL_OWNER, Role
from rag.llm.specs import ProviderName
from rag.search.finder import Finder
from rag.search.passage import Passage, Reading, SearchResult
from rag.study.facts import BLANK, clean, facts_of
from rag.study.grading import Grade, grade
from rag.study.items import Item
from rag.study.records import Hints, StudyRecords
from rag.text.lexical import TermStats, content_terms, term, words

STEPS = 3  # the section; the key sentence with its key held back; the full answer
HINTS_MODEL = "hints: book"  # who wrote a hint: the tutor, from the book


Events = AsyncIterator[SearchResult | str | Answer]


class FullAnswer(Protocol):
    """The tutor's answer (`rag.tutor.Tutor.ask`): the last hint is the full answer."""

    async def __call__(
        self,
        question: str,
        chat_id: str,
        *,
        provider_name: ProviderName | None,
        owner: str,
        role: Role,
        step_id: str | None,
        reading: Reading | None,
    ) -> Events: ...


def section_hint(passage: Passage) -> str:
    return (
        f"The answer is in **{passage.breadcrumb}** [1]. Have a go: write what you think the answer is, "
        "or ask for **More help**."
    )


def sentence_hint(cloze: str) -> str:
    return (
        f"Here is the sentence of the book that answers it, with its key term held back: “{cloze}” [1] "
        "What goes in the blank?"
    )


def held_back(sentence: str, passage: Passage, stats: TermStats | None, question: str = "") -> tuple[str, str]:
    """The sentence's key term (the one the book marks, or else its rarest word) and the sentence without it. A
    term the question names is never the one held back: "What is the zero moment point?" knows that name; what
    the book says of it is the blank."""
    plain = clean(sentence)
    asked = set(content_terms(question))
    for fact in facts_of(passage.text):
        if fact.sentence == plain and fact.kind != "row" and not set(content_terms(fact.key)) & asked:
            return fact.key, fact.cloze
    candidates = [w for w in words(plain) if len(w) > 3 and content_terms(w) and not set(content_terms(w)) & asked]
    if not candidates:
        return "", plain
    key = max(candidates, key=lambda w: stats.idf(term(w)) if stats else len(w))
    cloze = re.sub(rf"(?<!\w){re.escape(key)}(?!\w)", BLANK, plain, flags=re.IGNORECASE)
    return key, cloze


def judge_attempt(
    attempt: str, sentence: str, key: str, passage: Passage, step: int, checker: GroundingChecker
) -> Grade:
    """An attempt against the answering sentence: after the sentence was shown with its key held back, the key
    is what is asked; before, the attempt is compared with the sentence."""
    if step >= 2 and key:
        return grade(Item("fill", "", key, sentence, passage), attempt, checker)
    return grade(Item("free", "", sentence, sentence, passage), attempt, checker)


def asks_anew(text: str) -> bool:
    """A message in hints mode that asks a (new) question rather than attempting the open one."""
    return text.rstrip().endswith("?")


class Hinter:
    """Hints mode: kept in the chat's study state, so any app process continues a chat's hints."""

    def __init__(
        self,
        records: StudyRecords,
        history: History,
        finder: Finder,
        checker: GroundingChecker,
        composer: ExcerptComposer,
        clock: Callable[[], datetime],
        full_answer: FullAnswer,
    ):
        self.records, self.history, self.finder, self.clock = records, history, finder, clock
        self.checker, self.composer, self.full_answer = checker, composer, full_answer

    def stats(self) -> TermStats:
        return self.finder.retriever.stats

    async def stream(
        self,
        text: str,
        chat_id: str,
        *,
        owner: str = LOCAL_OWNER,
        step_id: str | None = None,
        reading: Reading | None = None,
    ) -> Events:
        """An attempt at the chat's open question gets feedback; a question gets the section that answers it,
        cited (one the book does not cover is refused, as an answer is). Yields like the tutor's answers; an
        attempt with no search."""
        started = time.perf_counter()
        question = clean_question(text)
        await self.history.claim(chat_id, owner)
        try:
            open_hints = (await self.records.chat(chat_id)).hints
            if open_hints is not None and not asks_anew(question):
                yield await self._attempt(question, chat_id, owner, open_hints, started)
                return
            memory = self.history.memory(chat_id)
            result = await self.finder.search(question, await memory.asked(), reading)
            yield result
            if result.covered:
                answer = await self._open(question, chat_id, owner, result, started)
            else:
                answer = refusal(question, result, started)
                await memory.remember(question, answer.text)
                yield answer.text
            await self.history.record(answer, Asked(question, chat_id, owner, "hints", step_id), result, memory)
        except DATABASE_ERRORS as exc:
            raise DatabaseUnavailable(self.history.database.settings, exc) from None  # the SDK's chat memory
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
    ) -> Events:
        """The open question's next hint; at the last step its full answer. Nothing when no question is open."""
        hints, answer = await self._next(chat_id, owner, time.perf_counter())
        if answer is not None:
            yield answer
        elif hints is not None:
            events = await self.full_answer(
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

    async def _open(self, question: str, chat_id: str, owner: str, result: SearchResult, started: float) -> Answer:
        """The first hint to a covered question: the section that answers it."""
        passages = result.passages
        lead = await asyncio.to_thread(self.composer.lead, question, passages, result.vector)
        passage = passages[lead.passage - 1] if lead else passages[0]
        sentence = clean(lead.text) if lead else ""
        key, _ = held_back(sentence, passage, self.stats(), question) if sentence else ("", "")
        hints = Hints(question, 1, sentence, key, passage.kept())
        await self._keep(chat_id, owner, hints)
        return _reply(section_hint(passage), passage, question, started)

    async def _next(self, chat_id: str, owner: str, started: float) -> tuple[Hints | None, Answer | None]:
        """One step further: the key sentence with its key held back (an answer), or, at the last step, the
        open question (no answer: the tutor answers it in full), whose hints then end."""
        state = await self.records.chat(chat_id)
        hints = state.hints
        if hints is None:
            return None, None
        if hints.step + 1 >= STEPS or not hints.sentence:
            await self.records.keep(chat_id, owner, replace(state, hints=None), self.clock())
            return hints, None
        passage = Passage.from_kept(hints.passage)
        _, cloze = held_back(hints.sentence, passage, self.stats(), hints.question)
        await self._keep(chat_id, owner, replace(hints, step=hints.step + 1))
        return hints, _reply(sentence_hint(cloze), passage, hints.question, started)

    async def _attempt(self, text: str, chat_id: str, owner: str, hints: Hints, started: float) -> Answer:
        """Feedback on an attempt at the open question; a right one ends its hints."""
        passage = Passage.from_kept(hints.passage)
        graded = await asyncio.to_thread(
            judge_attempt, text, hints.sentence, hints.key, passage, hints.step, self.checker
        )
        if graded.correct:
            state = await self.records.chat(chat_id)
            await self.records.keep(chat_id, owner, replace(state, hints=None), self.clock())
        follow = "" if graded.correct else " Try again, or ask for **More help**."
        return _reply(graded.feedback + follow, passage, hints.question, started, open_=not graded.correct)

    async def _keep(self, chat_id: str, owner: str, hints: Hints) -> None:
        state = await self.records.chat(chat_id)
        await self.records.keep(chat_id, owner, replace(state, hints=hints), self.clock())


def _reply(text: str, passage: Passage, question: str, started: float, open_: bool = True) -> Answer:
    """A hint or feedback as an answer citing its passage as [1]: the tutor's guidance, not a claim to check;
    while the hints are `open_`, it offers more help."""
    return Answer(
        offers=("more_help",) if open_ else (),
        text=text,
        sources=[Source(1, passage)],
        cited=True,
        passages=[passage],
        covered=True,
        processing_time_ms=round((time.perf_counter() - started) * 1000),
        model=HINTS_MODEL,
        query=question,
    )
