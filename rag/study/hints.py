"""Hints before answers: the first reply to a question names the section that answers it (cited) and asks for
the student's attempt; each "more help" goes one step further (the book's sentence that answers it, with its
key term held back; then the full cited answer). An attempt is compared with that sentence, with the
grounding checker's evidence, and told what matches and what the passage says."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from rag.answer.excerpts import ExcerptComposer
from rag.answer.grounding import GroundingChecker
from rag.answer.result import Answer, Source
from rag.search.passage import Passage, SearchResult
from rag.study.facts import BLANK, clean, facts_of
from rag.study.grading import Grade, grade
from rag.study.items import Item
from rag.study.records import Hints, StudyRecords, passage_data, passage_from
from rag.text.lexical import TermStats, content_terms, term, words

STEPS = 3  # the section; the key sentence with its key held back; the full answer
HINTS_MODEL = "hints: book"  # who wrote a hint: the tutor, from the book


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
    """The hints of a chat: kept in the chat's study state, so any app process continues them."""

    def __init__(
        self,
        records: StudyRecords,
        checker: GroundingChecker,
        composer: ExcerptComposer,
        stats: Callable[[], TermStats],
        clock: Callable[[], datetime],
    ):
        self.records, self.checker, self.composer, self.stats, self.clock = records, checker, composer, stats, clock

    async def open(self, question: str, chat_id: str, owner: str, result: SearchResult, started: float) -> Answer:
        """The first hint to a covered question: the section that answers it."""
        passages = result.passages
        lead = await asyncio.to_thread(self.composer.lead, question, passages, result.vector)
        passage = passages[lead.passage - 1] if lead else passages[0]
        sentence = clean(lead.text) if lead else ""
        key, _ = held_back(sentence, passage, self.stats(), question) if sentence else ("", "")
        hints = Hints(question, 1, sentence, key, passage_data(passage))
        await self._keep(chat_id, owner, hints)
        return _reply(section_hint(passage), passage, question, started)

    async def more(self, chat_id: str, owner: str, started: float) -> tuple[Hints | None, Answer | None]:
        """One step further: the key sentence with its key held back (an answer), or, at the last step, the
        open question (no answer: the tutor answers it in full), whose hints then end."""
        state = await self.records.chat(chat_id)
        hints = state.hints
        if hints is None:
            return None, None
        if hints.step + 1 >= STEPS or not hints.sentence:
            await self.records.keep(chat_id, owner, replace(state, hints=None), self.clock())
            return hints, None
        passage = passage_from(hints.passage)
        _, cloze = held_back(hints.sentence, passage, self.stats(), hints.question)
        await self._keep(chat_id, owner, replace(hints, step=hints.step + 1))
        return hints, _reply(sentence_hint(cloze), passage, hints.question, started)

    async def attempt(self, text: str, chat_id: str, owner: str, hints: Hints, started: float) -> Answer:
        """Feedback on an attempt at the open question; a right one ends its hints."""
        passage = passage_from(hints.passage)
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
