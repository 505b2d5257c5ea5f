"""Study mode in the database: the items each student was asked, each attempt, each student's review schedule per
item, and each chat's study state (its quiz's queue, its hints). In the one database (`rag.db.database`),
so results survive restarts, are shared by every app process and move with `rag.migrate`."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from rag.db.database import Database, database_faults, dialect_insert
from rag.db.schema import quiz_attempts, quiz_items, review_cards, study_chats
from rag.search.passage import Passage
from rag.study.items import Item
from rag.study.schedule import Schedule


@dataclass(frozen=True)
class Hints:
    """A question in hints mode: how far the hints went, and the book's sentence that answers it."""

    question: str
    step: int  # hints given so far: 1 the section, 2 the key sentence with its key held back, 3 the answer
    sentence: str
    key: str
    passage: dict[str, Any]  # the answering passage (`Passage.kept`)


@dataclass(frozen=True)
class ChatStudy:
    """A chat's study state: the items still to ask (the next first) and an open hints question."""

    queue: tuple[str, ...] = ()
    hints: Hints | None = None


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class StudyRecords:
    def __init__(self, database: Database):
        self.database = database
        self.schedule = Schedule()

    @database_faults
    async def save(self, items: list[Item], owner: str, chat_id: str | None, now: datetime) -> list[Item]:
        """The items as asked, with their ids."""
        saved = [replace(item, id=str(uuid.uuid4())) for item in items]
        if not saved:
            return saved
        rows = [
            {
                "id": item.id,
                "owner": owner,
                "chatId": chat_id,
                "kind": item.kind,
                "question": item.question,
                "choices": json.dumps(list(item.choices)),
                "answer": item.answer,
                "key": item.key,
                "sentence": item.sentence,
                "section": item.section,
                "passage": json.dumps(item.passage.kept()),
                "createdAt": stamp(now),
            }
            for item in saved
        ]
        engine = await self.database.ready()
        async with engine.begin() as connection:
            await connection.execute(quiz_items.insert(), rows)
        return saved

    @database_faults
    async def item(self, item_id: str, owner: str) -> Item | None:
        """One of `owner`'s items; None for anyone else's (their existence is not theirs to know)."""
        found = await self._items(select(quiz_items).where(quiz_items.c.id == item_id, quiz_items.c.owner == owner))
        return found[0] if found else None

    @database_faults
    async def record(self, item: Item, owner: str, response: str, correct: bool, now: datetime) -> datetime:
        """An attempt, and the item's next review by the schedule; returns when it is due."""
        engine = await self.database.ready()
        async with engine.begin() as connection:
            card = (
                await connection.execute(select(review_cards.c.card).where(review_cards.c.itemId == item.id))
            ).scalar()
            scheduled = self.schedule.after(card, correct, now)
            await connection.execute(
                quiz_attempts.insert().values(
                    id=str(uuid.uuid4()),
                    itemId=item.id,
                    owner=owner,
                    response=response,
                    correct=correct,
                    createdAt=stamp(now),
                )
            )
            values = {"card": scheduled.card, "due": stamp(scheduled.due)}
            upsert = dialect_insert(connection)(review_cards).values(itemId=item.id, owner=owner, **values)
            await connection.execute(upsert.on_conflict_do_update(index_elements=["itemId"], set_=values))
        return scheduled.due

    @database_faults
    async def due(self, owner: str, now: datetime, limit: int) -> list[Item]:
        """`owner`'s items due for review at `now`, the longest due first."""
        query = (
            select(quiz_items)
            .join(review_cards, review_cards.c.itemId == quiz_items.c.id)
            .where(review_cards.c.owner == owner, review_cards.c.due <= stamp(now))
            .order_by(review_cards.c.due)
            .limit(limit)
        )
        return await self._items(query)

    @database_faults
    async def enrol(self, items: list[Item], owner: str, now: datetime) -> None:
        """These items of `owner`'s come up for review from `now`, as never answered yet."""
        if not items:
            return
        card = self.schedule.new(now)
        rows = [{"itemId": item.id, "owner": owner, "card": card.card, "due": stamp(card.due)} for item in items]
        engine = await self.database.ready()
        async with engine.begin() as connection:
            await connection.execute(review_cards.insert(), rows)

    @database_faults
    async def retire(self, item_ids: list[str], owner: str) -> None:
        """These items of `owner`'s stop coming back for review (their attempts stay, for the instructor)."""
        engine = await self.database.ready()
        async with engine.begin() as connection:
            await connection.execute(
                delete(review_cards).where(review_cards.c.owner == owner, review_cards.c.itemId.in_(item_ids))
            )

    @database_faults
    async def asked(self, owner: str, sections: list[str]) -> list[str]:
        """The terms of the items `owner` was asked from these pages: not to ask again."""
        query = select(quiz_items.c.key).where(quiz_items.c.owner == owner, quiz_items.c.section.in_(sections))
        engine = await self.database.ready()
        async with engine.connect() as connection:
            return [row.key for row in await connection.execute(query)]

    @database_faults
    async def chat(self, chat_id: str) -> ChatStudy:
        engine = await self.database.ready()
        async with engine.connect() as connection:
            query = select(study_chats.c.state).where(study_chats.c.chatId == chat_id)
            found = (await connection.execute(query)).scalar()
        if not found:
            return ChatStudy()
        data = json.loads(found)
        hints = Hints(**data["hints"]) if data.get("hints") else None
        return ChatStudy(tuple(data.get("queue", ())), hints)

    @database_faults
    async def keep(self, chat_id: str, owner: str, state: ChatStudy, now: datetime) -> None:
        values = {"owner": owner, "state": json.dumps(asdict(state)), "updatedAt": stamp(now)}
        engine = await self.database.ready()
        async with engine.begin() as connection:
            upsert = dialect_insert(connection)(study_chats).values(chatId=chat_id, **values)
            await connection.execute(upsert.on_conflict_do_update(index_elements=["chatId"], set_=values))

    async def _items(self, query: Any) -> list[Item]:
        engine = await self.database.ready()
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [
            Item(
                kind=row["kind"],
                question=row["question"],
                answer=row["answer"],
                sentence=row["sentence"],
                passage=Passage.from_kept(json.loads(row["passage"])),
                choices=tuple(json.loads(row["choices"])),
                key=row["key"],
                id=row["id"],
            )
            for row in rows
        ]
