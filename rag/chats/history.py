"""What the tutor keeps of each chat in the database: who owns it, its memory for the model, and its answers.

Ownership is claimed by the first question: a `chat_id` another identity owns is "not found", never appended to
(the REST API lets callers choose ids). The model's memory is the Agents SDK's SQLAlchemy session in the same
database, so any app process of a deployment can continue any chat. Each answer is recorded with its question,
sources, model, coverage and grounding, for feedback and the instructor view.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from agents import TResponseInputItem
from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession
from agents.memory import SessionSettings
from sqlalchemy import func, insert, select
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncConnection

from rag.db.database import Database, database_faults, dialect_insert
from rag.db.schema import answers, chats, cited_passages, steps, threads
from rag.search.passage import Passage

if TYPE_CHECKING:
    from rag.answer.result import Answer
    from rag.search.passage import SearchResult

HISTORY_ITEMS = 8  # the last four question/answer pairs go back to the model
Exchange = tuple[str, str]  # a question and the reply it got
KNOWN_OWNERS = 10_000  # chats whose owner this process has checked: their later questions skip the query


@dataclass(frozen=True)
class Asked:
    """Who asked what, in which chat and of which profile: what an answer is recorded with."""

    question: str
    chat_id: str
    owner: str
    profile: str
    step_id: str | None = None  # the chat step feedback on the answer attaches to


@dataclass(frozen=True)
class ChatThread:
    """One of a user's chats in the chat UI's history (a Chainlit thread): the app's sidebar and the book's
    widget list the same ones."""

    id: str
    name: str
    active: str  # when its last message was written (ISO 8601)


class ChatNotFound(LookupError):
    """The chat belongs to someone else (said as "not found": its existence is not theirs to know)."""


def _remember(known: OrderedDict[str, Any], key: str, value: Any) -> None:
    """Keep `key` among the KNOWN_OWNERS most recently used ones."""
    known[key] = value
    known.move_to_end(key)
    if len(known) > KNOWN_OWNERS:
        known.popitem(last=False)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ChatMemory(SQLAlchemySession):
    """The SDK's SQLAlchemy session of one chat, for one question.

    The search and the agent run both read the chat's items: they are read once (and not at all for a chat
    this process has just created). The run adds the question, then the answer: both are written by `write()`
    when the answer is done, in the transaction that records the answer (`History.record`), two statements where
    the SDK's own write takes six and a transaction per call. A question whose answer never came (cancelled,
    failed) is not remembered.
    """

    read: dict[int | None, list[TResponseInputItem]]
    pending: list[TResponseInputItem]

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        if limit is None and self.session_settings is not None:
            limit = self.session_settings.limit  # what the SDK's session reads for "no limit given"
        if limit not in self.read:
            self.read[limit] = await super().get_items(limit)
        items = self.read[limit] + self.pending
        return items[-limit:] if limit else items

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        self.pending = self.pending + list(items)

    async def asked(self) -> list[str]:
        """The questions of the chat so far, oldest first (what a follow-up may lean on)."""
        items = cast(list[dict[str, Any]], await self.get_items())
        return [i["content"] for i in items if i.get("role") == "user" and isinstance(i.get("content"), str)]

    async def remember(self, question: str, reply: str) -> None:
        """A question and the reply no model wrote (a refusal), kept like any exchange."""
        await self.add_items([{"role": "user", "content": question}, {"role": "assistant", "content": reply}])

    async def write(self, connection: AsyncConnection) -> None:
        """The pending items into the SDK's tables, in the caller's transaction: the chat's session row made
        or touched, the items appended (the SDK reads them back in the order of their ids)."""
        items, self.pending, self.read = self.pending, [], {}
        if not items:
            return
        touch = {"updated_at": sql_text("CURRENT_TIMESTAMP")}
        session_row = dialect_insert(connection)(self._sessions).values(session_id=self.session_id)
        await connection.execute(session_row.on_conflict_do_update(index_elements=["session_id"], set_=touch))
        rows = [{"session_id": self.session_id, "message_data": json.dumps(i, separators=(",", ":"))} for i in items]
        await connection.execute(insert(self._messages), rows)

    async def pop_item(self) -> TResponseInputItem | None:
        if self.pending:
            return self.pending.pop()
        self.read = {}
        return await super().pop_item()

    async def clear_session(self) -> None:
        self.read, self.pending = {}, []
        await super().clear_session()


class History:
    def __init__(self, database: Database):
        self.database = database
        self._owners: OrderedDict[str, str] = OrderedDict()  # a chat's owner never changes once claimed
        self._new: OrderedDict[str, None] = OrderedDict()  # chats claimed here whose memory is still empty
        self._memory = ChatMemory(
            "prototype", engine=database.engine, session_settings=SessionSettings(limit=HISTORY_ITEMS)
        )

    def memory(self, chat_id: str, earlier: Sequence[Exchange] | None = None) -> ChatMemory:
        """The model's memory of a chat; its tables exist once the database is `ready()` (as `claim` makes it).
        With `earlier`, the conversation as the client holds it (an OpenAI-style client sends it whole with each
        question) is the memory instead of what was stored: the client may have edited or trimmed it.

        A copy of one session with another id: the SDK's session builds its table definitions anew for each
        instance (about 4 ms of CPU per question, and statements SQLAlchemy cannot reuse compiled); everything
        else in it is the engine's and the settings', which all chats share."""
        memory = copy.copy(self._memory)
        memory.session_id = chat_id
        memory.read, memory.pending = {}, []
        if chat_id in self._new:
            del self._new[chat_id]
            memory.read = {HISTORY_ITEMS: []}
        if earlier is not None:
            items: list[TResponseInputItem] = []
            for question, reply in earlier:
                items += [{"role": "user", "content": question}, {"role": "assistant", "content": reply}]
            memory.read = {HISTORY_ITEMS: items[-HISTORY_ITEMS:]}
        return memory

    @database_faults
    async def claim(self, chat_id: str, owner: str) -> None:
        """Make `owner` the owner of a new chat, or check they own an existing one."""
        known = self._owners.get(chat_id)
        if known is not None:
            if known != owner:
                raise ChatNotFound(chat_id)
            return
        engine = await self.database.ready()
        async with engine.begin() as connection:
            new = dialect_insert(connection)(chats).values(id=chat_id, owner=owner, createdAt=now())
            found: str | None = owner
            if (await connection.execute(new.on_conflict_do_nothing(index_elements=["id"]))).rowcount == 1:
                _remember(self._new, chat_id, None)
            else:  # an existing chat, or one claimed at the same moment by another request
                found = (await connection.execute(select(chats.c.owner).where(chats.c.id == chat_id))).scalar()
        _remember(self._owners, chat_id, str(found))
        if found != owner:
            raise ChatNotFound(chat_id)

    @database_faults
    async def threads(self, owner: str, limit: int) -> list[ChatThread]:
        """`owner`'s chats in the chat UI (the app's or the book widget's), most recently active first."""
        active = func.coalesce(func.max(steps.c.createdAt), threads.c.createdAt).label("active")
        query = (
            select(threads.c.id, threads.c.name, active)
            .outerjoin(steps, steps.c.threadId == threads.c.id)
            .where(threads.c.userIdentifier == owner)
            .group_by(threads.c.id, threads.c.name, threads.c.createdAt)
            .order_by(active.desc(), threads.c.id.desc())
            .limit(limit)
        )
        engine = await self.database.ready()
        async with engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [ChatThread(row.id, row.name or "", str(row.active or "")) for row in rows]

    @database_faults
    async def questions(self, chat_id: str, limit: int) -> list[str]:
        """The chat's latest questions, the latest first."""
        query = (
            select(answers.c.question)
            .where(answers.c.chatId == chat_id)
            .order_by(answers.c.createdAt.desc())
            .limit(limit)
        )
        engine = await self.database.ready()
        async with engine.connect() as connection:
            return [row.question for row in await connection.execute(query)]

    @database_faults
    async def cited(self, passage_id: str) -> Passage | None:
        """A passage an answer cited, as it was then (None when no answer cited it)."""
        engine = await self.database.ready()
        async with engine.connect() as connection:
            query = select(cited_passages.c.passage).where(cited_passages.c.id == passage_id)
            kept = (await connection.execute(query)).scalar()
        return Passage.from_kept(json.loads(kept)) if kept else None

    @database_faults
    async def record(
        self, answer: Answer, asked: Asked, search: SearchResult | None = None, memory: ChatMemory | None = None
    ) -> str:
        """Store one answer with what the instructor view reads, and in the same transaction the question and
        answer in the chat's `memory`; returns its id."""
        answer_id = str(uuid.uuid4())
        sources = [s.record() for s in answer.sources if answer.cited]
        claims = [s for s in answer.sentences if s.supported is not None]
        engine = await self.database.ready()
        async with engine.begin() as connection:
            await _keep_cited(connection, [s.passage for s in answer.sources if answer.cited])
            if memory is not None:
                await memory.write(connection)
            await connection.execute(
                insert(answers).values(
                    id=answer_id,
                    chatId=asked.chat_id,
                    owner=asked.owner,
                    stepId=asked.step_id,
                    question=asked.question,
                    answer=answer.text,
                    sources=json.dumps(sources),
                    model=answer.model,
                    profile=asked.profile,
                    covered=answer.covered,
                    coverage=answer.coverage_reason,
                    grounded=answer.grounded,
                    claims=len(claims),
                    unsupported=sum(s.flagged for s in claims),
                    topic=answer.relevance.topic if answer.relevance else None,
                    offPoint=answer.relevance.reason if answer.relevance else None,
                    language=answer.language or None,
                    similarity=search.best_similarity if search else None,
                    vector=np.asarray(search.vector, dtype=np.float32).tobytes() if search and search.vector else None,
                    ms=answer.processing_time_ms,
                    createdAt=now(),
                    reviewed=False,
                )
            )
        return answer_id


async def _keep_cited(connection: AsyncConnection, passages: list[Passage]) -> None:
    """The cited passages as they are now: a passage's id follows its content, so one kept row never changes."""
    if not passages:
        return
    rows = [{"id": p.id, "passage": json.dumps(p.kept()), "createdAt": now()} for p in passages]
    new = dialect_insert(connection)(cited_passages).values(rows)
    await connection.execute(new.on_conflict_do_nothing(index_elements=["id"]))
