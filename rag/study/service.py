"""Study mode's quizzes: built from the book for a page, a chapter, a topic, the page open in the book widget or
the chat's own questions; graded with the grounding checker's evidence; each result kept with the item's
review schedule; a wrong answer followed by another item of the same section. One code path for the chat,
REST and the tests (hints are `rag.study.hints`)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from rag.answer.grounding import GroundingChecker
from rag.chats.history import History
from rag.search.book import Book, BookIndex
from rag.search.passage import Passage, Reading
from rag.search.retrieval import Retriever
from rag.study.facts import clean, normalized
from rag.study.grading import Grade, grade
from rag.study.items import Chapter, Item, ItemBuilder
from rag.study.records import StudyRecords

QUIZ_ITEMS = 5
MAX_ITEMS = 20
Clock = Callable[[], datetime]


class QuizError(ValueError):
    """Nothing to quiz on: the message says why and what to ask for instead."""


class PageNotFound(QuizError):
    """The page a quiz was asked for is not in the book."""


class NothingAsked(QuizError):
    """A quiz on a chat's latest question, in a chat with no question yet."""


class ItemNotFound(LookupError):
    """No such item of the caller's (another's is "not found" too)."""


@dataclass(frozen=True)
class Graded:
    item: Item
    grade: Grade
    answered: datetime
    due: datetime  # when the item comes back for review
    follow_up: Item | None = None  # after a wrong answer: another item of the same section


def _still_says(book: Book, item: Item) -> bool:
    """Whether the book still holds the item's passage, or at least its sentence on the same page."""
    passages = book.pages.get(item.section, [])
    return any(p.id == item.passage.id or item.sentence in clean(p.text) for p in passages)


# "quiz me on", "test me about", "quiz:": how a student asks for a quiz, before its topic.
_ASKS_FOR_A_QUIZ = re.compile(
    r"^\s*(?:please\s+)?(?:(?:quiz|test|question)\s+me|quiz)(?:\s+(?:on|about|in|over|with))?\b[\s:,.!?-]*",
    re.IGNORECASE,
)


def topic_of(request: str) -> str:
    """What a request for a quiz names ("quiz me on ROS 2 topics" -> "ROS 2 topics"); "" for nothing."""
    return _ASKS_FOR_A_QUIZ.sub("", request).strip(" .!?")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Study:
    def __init__(
        self,
        retriever: Retriever,
        index: BookIndex,
        embed: Callable[[list[str]], np.ndarray],
        checker: GroundingChecker,
        records: StudyRecords,
        history: History,
        clock: Clock = utc_now,
    ):
        self.retriever, self.index, self.checker, self.records, self.clock = retriever, index, checker, records, clock
        self.history = history
        self.builder = ItemBuilder(embed, checker)
        self._chapters: tuple[Book | None, dict[str, Chapter]] = (None, {})  # of one snapshot of the book

    # -- quizzes --------------------------------------------------------------------------------------------

    async def quiz(
        self,
        owner: str,
        n: int = QUIZ_ITEMS,
        *,
        section: str | None = None,
        topic: str | None = None,
        reading: Reading | None = None,
        chat_id: str | None = None,
    ) -> list[Item]:
        """Up to `n` items on a page (`section`: its path, URL or document id), a `topic` (a chapter's name, a
        page, or anything the book covers), or the page being read, saved as `owner`'s; `QuizError` says why
        there are none. With `chat_id` (which `owner` must own: `ChatNotFound`), on the chat's latest question
        unless a section, topic or page says otherwise."""
        if chat_id is not None:
            await self.history.claim(chat_id, owner)
            topic = topic if section or topic or reading else await self._latest(chat_id)
        passages = await asyncio.to_thread(self._passages, section, topic, reading)
        asked = await self.records.asked(owner, sorted({p.source_path for p in passages}))
        items = await asyncio.to_thread(self._build, passages, min(n, MAX_ITEMS), asked)
        if not items:
            raise QuizError(
                "This part of the book has nothing to quiz on yet (no definitions, key terms or tables), or you "
                "have been asked all of it: pick another section."
            )
        return await self.records.save(items, owner, chat_id, self.clock())

    async def answer(self, owner: str, item_id: str, response: str) -> Graded:
        """Grade `owner`'s response, keep it with the item's next review, and after a wrong answer add another
        item of the same section."""
        item = await self.records.item(item_id, owner)
        if item is None:
            raise ItemNotFound(item_id)
        graded = await asyncio.to_thread(grade, item, response, self.checker)
        now = self.clock()
        due = await self.records.record(item, owner, response, graded.correct, now)
        follow_up = None if graded.correct else await self._follow_up(owner, item)
        return Graded(item, graded, now, due, follow_up)

    async def item(self, item_id: str, owner: str) -> Item | None:
        """One of `owner`'s items; None for another's or none."""
        return await self.records.item(item_id, owner)

    async def due(self, owner: str, limit: int = MAX_ITEMS) -> list[Item]:
        """`owner`'s items due for review now. An item whose sentence the book no longer holds (the page was edited
        or removed since) is retired instead: it would ask what the book no longer says. Where its page is still
        in the book, an item on the page's new text takes its place, due now."""
        items = await self.records.due(owner, self.clock(), limit)
        book = await asyncio.to_thread(lambda: self.index.book)
        gone = [item for item in items if not _still_says(book, item)]
        if not gone:
            return items
        await self.records.retire([item.id for item in gone], owner)
        rebuilt = [new for item in gone if (new := await self._rebuild(book, owner, item))]
        await self.records.enrol(rebuilt, owner, self.clock())
        retired = {item.id for item in gone}
        return [item for item in items if item.id not in retired] + rebuilt

    # -- a chat's quiz: its items one by one -------------------------------------------------------------------

    async def begin(self, chat_id: str, owner: str, items: list[Item]) -> Item | None:
        """A chat's quiz (or review) starts: its items are asked one by one; returns the first."""
        state = await self.records.chat(chat_id)
        await self.records.keep(chat_id, owner, replace(state, queue=tuple(i.id for i in items)), self.clock())
        return items[0] if items else None

    async def current(self, chat_id: str, owner: str) -> Item | None:
        """The item the chat waits for an answer to; None when no quiz is under way."""
        state = await self.records.chat(chat_id)
        return await self.records.item(state.queue[0], owner) if state.queue else None

    async def respond(
        self, chat_id: str, owner: str, response: str, item_id: str | None = None
    ) -> tuple[Graded, Item | None]:
        """The chat's current item graded (`item_id`: only if it is that one, as a choice button says), and the
        next one (after a wrong answer, one of the same section)."""
        state = await self.records.chat(chat_id)
        if not state.queue or item_id not in (None, state.queue[0]):
            raise ItemNotFound("no such item waiting for an answer")
        graded = await self.answer(owner, state.queue[0], response)
        queue = ((graded.follow_up.id,) if graded.follow_up else ()) + state.queue[1:]
        await self.records.keep(chat_id, owner, replace(state, queue=queue), self.clock())
        return graded, await self.records.item(queue[0], owner) if queue else None

    async def end(self, chat_id: str, owner: str) -> None:
        """The chat's quiz stops; what was answered stays."""
        state = await self.records.chat(chat_id)
        await self.records.keep(chat_id, owner, replace(state, queue=()), self.clock())

    async def _latest(self, chat_id: str) -> str:
        latest = await self.history.questions(chat_id, 1)
        if not latest:
            raise NothingAsked(
                "Say what to quiz you on: a chapter, a section, or a topic of the book (this chat has no question yet)."
            )
        return latest[0]

    async def _follow_up(self, owner: str, item: Item) -> Item | None:
        asked = await self.records.asked(owner, [item.section])
        return await self._another(self.index.book.pages.get(item.section, []), owner, [*asked, item.key])

    async def _rebuild(self, book: Book, owner: str, item: Item) -> Item | None:
        """An item in place of a retired one, from its page's text now (its own term may be asked again)."""
        asked = [key for key in await self.records.asked(owner, [item.section]) if key != item.key]
        return await self._another(book.pages.get(item.section, []), owner, asked)

    async def _another(self, passages: Sequence[Passage], owner: str, asked: Sequence[str]) -> Item | None:
        """One new item from `passages`, saved as `owner`'s; None when they have nothing left to ask."""
        built = await asyncio.to_thread(self._build, passages, 1, asked)
        saved = await self.records.save(built, owner, None, self.clock())
        return saved[0] if saved else None

    # -- what to quiz on -----------------------------------------------------------------------------------

    def _passages(self, section: str | None, topic: str | None, reading: Reading | None) -> list[Passage]:
        book = self.index.book
        if section:
            page = book.page(section)
            if page is None:
                raise PageNotFound(f"No page of the book is at “{section[:200]}”: give a page's path or URL.")
            return book.pages[page]
        if reading is not None and (page := book.page(reading.doc_id)):
            passages = book.pages[page]
            return sorted(passages, key=lambda p: p.anchor != reading.anchor)  # the section being read first
        if topic and topic.strip():
            return self._topic(topic.strip())
        raise QuizError("Say what to quiz you on: a chapter, a section, or a topic of the book.")

    def _topic(self, topic: str) -> list[Passage]:
        """A page or a chapter the topic names, or else the passages the book has on it."""
        book = self.index.book
        if page := book.page(topic):
            return book.pages[page]
        wanted = normalized(topic)
        for label, paths in book.chapters.items():
            if wanted and (wanted == normalized(label) or f" {wanted} " in f" {normalized(label)} "):
                return [p for path in paths for p in book.pages[path]]
        found = self.retriever.search(topic)
        if not found.covered:
            raise QuizError(f"The book does not cover “{topic[:200]}”, so there is nothing to quiz you on.")
        # The page most of the passages found are on (the best one's, in a tie), those passages first.
        votes = Counter(p.source_path for p in found.passages)
        best = max(found.passages, key=lambda p: votes[p.source_path]).source_path
        hits = {p.id for p in found.passages}
        return sorted(book.pages.get(best, found.passages), key=lambda p: p.id not in hits)

    def _build(self, passages: Sequence[Passage], n: int, asked: Sequence[str]) -> list[Item]:
        if not passages:
            return []
        return self.builder.build(passages, self._chapter(passages[0]), n, asked)

    def _chapter(self, passage: Passage) -> Chapter:
        """The passage's chapter, made once per snapshot of the book (a new snapshot drops the old chapters)."""
        book = self.index.book
        if self._chapters[0] is not book:
            self._chapters = (book, {})
        chapters = self._chapters[1]
        if passage.chapter not in chapters:
            chapters[passage.chapter] = Chapter.of(book.chapter_of(passage.source_path))
        return chapters[passage.chapter]
