"""Chainlit's SQLAlchemy data layer on the tutor's database, with what it lacks for SQLite, PostgreSQL and a
long history.

- It shares the app's engine, and the schema exists before its first query (`rag.db.database`).
- Lists and dicts (thread tags, step modes: the study mode a message was sent in) are stored as JSON text, which
  both databases take, and read back as they were; Chainlit binds them as they are (its issue 2750), which SQLite
  refuses (and then silently drops the thread).
- `list_threads` reads one page of thread rows in SQL. Chainlit's loads every step and element of all the
  user's threads to show the sidebar, which takes seconds at a thousand threads.
- An unknown thread is "not found" (404), not an error (500); whose a message or feedback is, for
  `web.feedback`.
- Chainlit stores a chat message as it arrives, before the app sees it. So what a visitor sends is checked here
  first: a message longer than a question may be (as REST) is not stored, nor any beyond `STORED_PER_DAY`
  characters of one owner's messages in a day; its metadata and the chat's name are bounded. A visitor cannot
  fill the disk over the chat socket.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.types import PageInfo, PaginatedResponse, Pagination, ThreadDict, ThreadFilter
from sqlalchemy.ext.asyncio import async_sessionmaker

from rag.answer.result import MAX_QUESTION_CHARS
from rag.db.database import Database
from web.storage import SignedStorage

if TYPE_CHECKING:
    from chainlit.step import StepDict

log = logging.getLogger(__name__)

# Characters of chat messages one owner may store in 24 hours: a few hundred questions of a long day.
STORED_PER_DAY = 500_000
MAX_METADATA_CHARS = 2_000  # a message's metadata (JSON) beyond this is stored empty
MAX_THREAD_NAME_CHARS = 200  # a chat is named after its first message, cut to this


def _json(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def _parsed(value: Any, default: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return default
    return default if value is None else value


class TutorDataLayer(SQLAlchemyDataLayer):
    def __init__(self, database: Database, storage: SignedStorage):
        super().__init__(conninfo=database.engine.url.render_as_string(hide_password=False), storage_provider=storage)
        self.database, self.storage = database, storage
        self.engine = database.engine  # one engine for the whole app, not a second pool
        self.async_session = async_sessionmaker(bind=self.engine, expire_on_commit=False)

    async def execute_sql(self, query: str, parameters: dict) -> list[dict[str, Any]] | int | None:
        await self.database.ready()
        return await super().execute_sql(query, parameters)

    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict | None = None,
        tags: list[str] | None = None,
    ) -> None:
        name = name[:MAX_THREAD_NAME_CHARS] if name else name
        await super().update_thread(thread_id, name=name, user_id=user_id, metadata=metadata)
        if tags is not None:
            await self.execute_sql(
                'UPDATE threads SET "tags" = :tags WHERE "id" = :id', {"tags": _json(tags), "id": thread_id}
            )

    async def get_thread_author(self, thread_id: str) -> str:
        """The thread's owner; "" for no such thread, which Chainlit's routes answer with 404."""
        found = await self.execute_sql('SELECT "userIdentifier" FROM threads WHERE "id" = :id', {"id": thread_id})
        return str(found[0]["userIdentifier"] or "") if isinstance(found, list) and found else ""

    async def thread_of_step(self, step_id: str, owner: str) -> str | None:
        """The thread of a message in one of `owner`'s chats; None for another's message or none at all."""
        found = await self.execute_sql(
            'SELECT s."threadId" AS thread FROM steps s JOIN threads t ON t."id" = s."threadId" '
            'WHERE s."id" = :id AND t."userIdentifier" = :owner',
            {"id": step_id, "owner": owner},
        )
        return str(found[0]["thread"]) if isinstance(found, list) and found else None

    async def feedback_is_callers(self, feedback_id: str, owner: str, missing_ok: bool) -> bool:
        """Whether the feedback is on one of `owner`'s chats (or, with `missing_ok`, does not exist yet)."""
        found = await self.execute_sql(
            'SELECT t."userIdentifier" AS owner FROM feedbacks f JOIN threads t ON t."id" = f."threadId" '
            'WHERE f."id" = :id',
            {"id": feedback_id},
        )
        if not isinstance(found, list) or not found:
            return missing_ok
        return found[0]["owner"] == owner

    async def create_step(self, step_dict: StepDict) -> None:
        step: dict[str, Any] = {k: _json(v) if k in ("tags", "modes") else v for k, v in step_dict.items()}
        step.pop("feedback", None)  # kept in its own table
        if step.get("type") == "user_message":
            if refused := await self._refused(step):
                log.warning("datalayer.refused step=%s thread=%s: %s", step.get("id"), step.get("threadId"), refused)
                return
            if len(json.dumps(step.get("metadata") or {})) > MAX_METADATA_CHARS:
                step["metadata"] = {}
        await super().create_step(step)

    async def _refused(self, step: dict[str, Any]) -> str:
        """Why a visitor's message is not stored ("" when it is): longer than a question may be, or beyond its
        owner's characters for the day (its chat's owner; a chat with none yet counts alone)."""
        size = len(step.get("output") or "")
        if size > MAX_QUESTION_CHARS:
            return f"{size} characters, over the {MAX_QUESTION_CHARS} a question may have"
        since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        found = await self.execute_sql(
            'SELECT COALESCE(SUM(LENGTH(s."output")), 0) AS stored FROM steps s '
            'JOIN threads t ON t."id" = s."threadId" '
            'WHERE s."type" = \'user_message\' AND s."createdAt" >= :since AND (t."id" = :thread OR '
            't."userIdentifier" = (SELECT "userIdentifier" FROM threads WHERE "id" = :thread))',
            {"since": since, "thread": step.get("threadId")},
        )
        stored = int(found[0]["stored"]) if isinstance(found, list) and found else 0
        return (
            f"its owner stored {stored} characters today, the limit is {STORED_PER_DAY}"
            if stored + size > STORED_PER_DAY
            else ""
        )

    async def get_all_user_threads(
        self, user_id: str | None = None, thread_id: str | None = None
    ) -> list[ThreadDict] | None:
        found = await super().get_all_user_threads(user_id=user_id, thread_id=thread_id)
        modes = await self._modes([thread["id"] for thread in found or []])
        for thread in found or []:
            thread["tags"] = _parsed(thread.get("tags"), [])
            thread["metadata"] = _parsed(thread.get("metadata"), {})
            for step in thread.get("steps", []):
                step["metadata"] = _parsed(step.get("metadata"), {})
                step["tags"] = _parsed(step.get("tags"), None)
                step["modes"] = _parsed(modes.get(step["id"]), None)  # Chainlit's query leaves them out
                step["generation"] = _parsed(step.get("generation"), None)
        return found

    async def _modes(self, thread_ids: list[str]) -> dict[str, Any]:
        """The modes each step of these threads was sent in, by step id."""
        if not thread_ids:
            return {}
        keys = {f"t{i}": thread for i, thread in enumerate(thread_ids)}
        found = await self.execute_sql(
            f'SELECT "id", "modes" FROM steps WHERE "modes" IS NOT NULL AND "threadId" IN '
            f"({', '.join(':' + key for key in keys)})",
            keys,
        )
        return {row["id"]: row["modes"] for row in found} if isinstance(found, list) else {}

    async def list_threads(self, pagination: Pagination, filters: ThreadFilter) -> PaginatedResponse:
        """A page of the user's threads, most recently active first; search looks in the messages."""
        if not filters.userId:
            raise ValueError("userId is required")
        conditions = ['t."userId" = :user_id']
        parameters: dict[str, Any] = {"user_id": filters.userId}
        if filters.search:
            conditions.append(
                'EXISTS (SELECT 1 FROM steps s2 WHERE s2."threadId" = t."id" AND LOWER(s2."output") LIKE :search)'
            )
            parameters["search"] = f"%{filters.search.lower()}%"
        if filters.feedback is not None:
            conditions.append(
                'EXISTS (SELECT 1 FROM feedbacks f WHERE f."threadId" = t."id" AND f."value" = :feedback)'
            )
            parameters["feedback"] = int(filters.feedback)
        ordered = await self.execute_sql(
            f"""SELECT t."id" AS id, COALESCE(MAX(s."createdAt"), t."createdAt") AS active
                FROM threads t LEFT JOIN steps s ON s."threadId" = t."id"
                WHERE {" AND ".join(conditions)}
                GROUP BY t."id", t."createdAt"
                ORDER BY active DESC, t."id" DESC""",
            parameters,
        )
        ids = [row["id"] for row in ordered] if isinstance(ordered, list) else []
        start = ids.index(pagination.cursor) + 1 if pagination.cursor in ids else 0
        page = ids[start : start + pagination.first]
        rows: dict[str, dict[str, Any]] = {}
        if page:
            keys = {f"id{i}": thread for i, thread in enumerate(page)}
            found = await self.execute_sql(
                f"""SELECT "id", "createdAt", "name", "userId", "userIdentifier", "tags", "metadata" FROM threads
                    WHERE "id" IN ({", ".join(":" + key for key in keys)})""",
                keys,
            )
            rows = {row["id"]: row for row in found} if isinstance(found, list) else {}
        threads = [
            ThreadDict(
                id=row["id"],
                createdAt=row["createdAt"],
                name=row["name"],
                userId=row["userId"],
                userIdentifier=row["userIdentifier"],
                tags=_parsed(row["tags"], []),
                metadata=_parsed(row["metadata"], {}),
                steps=[],
                elements=[],
            )
            for row in (rows[i] for i in page if i in rows)
        ]
        return PaginatedResponse(
            pageInfo=PageInfo(
                hasNextPage=start + pagination.first < len(ids),
                startCursor=page[0] if page else None,
                endCursor=page[-1] if page else None,
            ),
            data=threads,
        )
