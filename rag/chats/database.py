"""The one database behind history, feedback, the tutor's memory and the instructor view.

SQLite in DATA_DIR by default (zero config), PostgreSQL when DATABASE_URL is set; the schema is created by the
app itself on first use, the same on both, and a column a newer version adds (always nullable) is added to a
database an older version created. Chainlit's tables (users, threads, steps, elements, feedbacks) keep
Chainlit's column names; JSON goes into TEXT columns so one schema serves both databases. `chats` records who
owns a chat (the REST API's `chat_id` included); `answers` records every answer with what the instructor view
needs; `files` holds element files when the database is shared. The Agents SDK's session tables
(`agent_sessions`, `agent_messages`) are created by the SDK, in `ready()`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    event,
    inspect,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from rag.config import Settings, mask_url
from rag.errors import TutorError

P = ParamSpec("P")
T = TypeVar("T")
metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Text, primary_key=True),
    Column("identifier", Text, nullable=False, unique=True),
    Column("metadata", Text, nullable=False),
    Column("createdAt", Text),
)
threads = Table(
    "threads",
    metadata,
    Column("id", Text, primary_key=True),
    Column("createdAt", Text),
    Column("name", Text),
    Column("userId", Text, ForeignKey("users.id", ondelete="CASCADE")),
    Column("userIdentifier", Text),
    Column("tags", Text),
    Column("metadata", Text),
    Index("threads_user", "userId", "createdAt"),
)
steps = Table(
    "steps",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("threadId", Text, ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("parentId", Text),
    Column("command", Text),
    Column("modes", Text),
    Column("streaming", Boolean, nullable=False),
    Column("waitForAnswer", Boolean),
    Column("isError", Boolean),
    Column("metadata", Text),
    Column("tags", Text),
    Column("input", Text),
    Column("output", Text),
    Column("createdAt", Text),
    Column("start", Text),
    Column("end", Text),
    Column("generation", Text),
    Column("showInput", Text),
    Column("defaultOpen", Boolean),
    Column("autoCollapse", Boolean),
    Column("language", Text),
    Column("icon", Text),
    Index("steps_thread", "threadId", "createdAt"),
)
elements = Table(
    "elements",
    metadata,
    Column("id", Text, primary_key=True),
    Column("threadId", Text, ForeignKey("threads.id", ondelete="CASCADE")),
    Column("type", Text),
    Column("url", Text),
    Column("chainlitKey", Text),
    Column("name", Text, nullable=False),
    Column("display", Text),
    Column("objectKey", Text),
    Column("size", Text),
    Column("page", Integer),
    Column("language", Text),
    Column("forId", Text),
    Column("mime", Text),
    Column("props", Text),
    Column("autoPlay", Boolean),
    Column("playerConfig", Text),
    Index("elements_thread", "threadId"),
)
feedbacks = Table(
    "feedbacks",
    metadata,
    Column("id", Text, primary_key=True),
    Column("forId", Text, nullable=False, index=True),
    Column("threadId", Text, ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("value", Integer, nullable=False),
    Column("comment", Text),
)
files = Table(  # element files (citation panels) when DATABASE_URL is set: web.storage.database
    "files",
    metadata,
    Column("objectKey", Text, primary_key=True),
    Column("mime", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("createdAt", Text, nullable=False),
)
ended_sessions = Table(  # logged-out sessions and used one-time links: rag.logins
    "ended_sessions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("endedAt", Text, nullable=False, index=True),
)
chats = Table(
    "chats",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("createdAt", Text, nullable=False),
)
answers = Table(
    "answers",
    metadata,
    Column("id", Text, primary_key=True),
    Column("chatId", Text, nullable=False, index=True),
    Column("owner", Text, nullable=False),
    Column("stepId", Text, index=True),  # the chat step that feedback on it attaches to (the run answering)
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("sources", Text, nullable=False),  # JSON: [{"n", "id", "section", "path", "url"}]
    Column("model", Text, nullable=False),
    Column("profile", Text, nullable=False),  # the provider asked, also for a question refused before any model
    Column("covered", Boolean, nullable=False),
    Column("coverage", Text, nullable=False),
    Column("similarity", Float),  # the best passage's similarity to the question: far below = off-topic
    Column("grounded", Float),
    Column("claims", Integer, nullable=False),
    Column("unsupported", Integer, nullable=False),
    Column("topic", Float),  # rag.answer.relevance: the share of the question's topic the answer holds
    Column("offPoint", Text),  # why a covered answer does not answer the question ("" when it does)
    Column("language", Text),  # the question's language when not the book's (English): not a coverage gap
    Column("vector", LargeBinary),  # the question's embedding (float32), to group questions by meaning
    Column("ms", Integer, nullable=False),
    Column("createdAt", Text, nullable=False, index=True),
    Column("reviewed", Boolean, nullable=False, default=False),
)
# Study mode (rag.study): quiz items as they were asked, each attempt, each student's review schedule per item,
# and a chat's study state (its quiz's queue, its hints).
quiz_items = Table(
    "quiz_items",
    metadata,
    Column("id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("chatId", Text),
    Column("kind", Text, nullable=False),
    Column("question", Text, nullable=False),
    Column("choices", Text, nullable=False),  # JSON list ([] for free response and fill-in)
    Column("answer", Text, nullable=False),
    Column("key", Text, nullable=False),  # the term it asks about: not asked again
    Column("sentence", Text, nullable=False),  # the book's sentence that makes the answer right
    Column("section", Text, nullable=False),  # the page's path in the docs
    Column("passage", Text, nullable=False),  # JSON: the cited passage (id, title, breadcrumb, url, text, ...)
    Column("createdAt", Text, nullable=False),
    Index("quiz_items_owner", "owner", "createdAt"),
)
quiz_attempts = Table(
    "quiz_attempts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("itemId", Text, ForeignKey("quiz_items.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("owner", Text, nullable=False),
    Column("response", Text, nullable=False),
    Column("correct", Boolean, nullable=False),
    Column("createdAt", Text, nullable=False, index=True),
)
review_cards = Table(
    "review_cards",
    metadata,
    Column("itemId", Text, ForeignKey("quiz_items.id", ondelete="CASCADE"), primary_key=True),
    Column("owner", Text, nullable=False),
    Column("card", Text, nullable=False),  # the scheduler's card (JSON)
    Column("due", Text, nullable=False),
    Index("review_cards_due", "owner", "due"),
)
study_chats = Table(
    "study_chats",
    metadata,
    Column("chatId", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("state", Text, nullable=False),  # JSON: rag.study.records.ChatStudy
    Column("updatedAt", Text, nullable=False),
)


def database_url(settings: Settings) -> str:
    """DATABASE_URL with an async driver, or SQLite at DATA_DIR/tutor.db (an absolute path, fixed at start)."""
    if settings.database_url is None:
        path = (settings.data_dir / "tutor.db").resolve()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)  # every student's questions: the owner's alone (SQLite gives its -wal the same)
        path.chmod(0o600)
        return f"sqlite+aiosqlite:///{path}"
    url = make_url(settings.database_url)
    driver = {"postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
    return url.set(drivername=driver.get(url.drivername, url.drivername)).render_as_string(hide_password=False)


def create_engine(settings: Settings, pooled: bool = True) -> AsyncEngine:
    """`pooled=False`: a connection per use, for callers that run one event loop after another (a pooled
    connection belongs to the loop that opened it)."""
    url = database_url(settings)
    pool = {} if pooled else {"poolclass": NullPool}
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **pool)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(connection: Any, _: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
            cursor.execute("PRAGMA synchronous = NORMAL")  # with WAL: safe from crashes, no fsync per commit
            cursor.execute("PRAGMA foreign_keys = ON")  # deleting a thread deletes its steps
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **pool)


class Database:
    """The engine, with the schema created once, on first use."""

    def __init__(self, settings: Settings, pooled: bool = True):
        self.settings = settings
        self.engine = create_engine(settings, pooled)
        self._ready = False
        self._lock = asyncio.Lock()

    async def ready(self) -> AsyncEngine:
        if not self._ready:
            async with self._lock:
                if not self._ready:
                    # The Agents SDK adds a connect listener to the engine its first session sees; adding one
                    # while other tasks connect breaks SQLAlchemy ("deque mutated during iteration"), so it
                    # happens here, before anything else uses the engine. That session also creates the SDK's
                    # tables, once: the chats' own sessions need not check for them on every question.
                    await SQLAlchemySession("schema", engine=self.engine, create_tables=True).get_items()
                    async with self.engine.begin() as connection:
                        await connection.run_sync(metadata.create_all)
                        await connection.run_sync(add_new_columns)
                    self._ready = True
        return self.engine

    async def close(self) -> None:
        await self.engine.dispose()


def add_new_columns(connection: Connection) -> None:
    """The nullable columns `metadata` declares that an existing table lacks, added: `create_all` only creates
    missing tables, and the rows an older version wrote stay valid with NULL there."""
    inspector = inspect(connection)
    preparer = connection.dialect.identifier_preparer
    for table in metadata.sorted_tables:
        have = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have and column.nullable:
                kind = column.type.compile(dialect=connection.dialect)
                connection.exec_driver_sql(
                    f"ALTER TABLE {preparer.quote(table.name)} ADD COLUMN {preparer.quote(column.name)} {kind}"
                )


# What a database that is down raises: SQLAlchemy's errors, and the OSErrors asyncpg raises unwrapped when it
# cannot connect ("Multiple exceptions: [Errno 111] ...").
DATABASE_ERRORS = (SQLAlchemyError, OSError)


def unavailable(settings: Settings, exc: BaseException) -> str:
    """What to say when the database fails: which one (password masked) and what to check."""
    where = mask_url(database_url(settings))
    check = (
        "Check DATABASE_URL and that the database server runs."
        if settings.database_url
        else "Check that the disk holding DATA_DIR has room and the folder is writable (or set DATABASE_URL)."
    )
    return f"The chat history database ({where}) is unavailable: {exc!r:.200}. {check}"


class DatabaseUnavailable(TutorError):
    """The database failed; the message (`unavailable`) names it and what to check."""

    def __init__(self, message: str):
        super().__init__("database", message)


def database_faults(work: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """A service's database work (a method of an object holding `database`, or a function whose first argument
    is the `Database`) with its database errors said once, here, as `DatabaseUnavailable`: no caller wraps it."""

    @functools.wraps(work)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await work(*args, **kwargs)
        except DATABASE_ERRORS as exc:
            holder: Any = args[0]
            database = holder if isinstance(holder, Database) else holder.database
            raise DatabaseUnavailable(unavailable(database.settings, exc)) from None

    return run


def dialect_insert(connection: AsyncConnection) -> Callable[..., Any]:
    """The database's own INSERT, which has ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    return sqlite.insert if connection.dialect.name == "sqlite" else postgresql.insert


def sqlite_path(engine: AsyncEngine) -> Path | None:
    return Path(engine.url.database) if engine.dialect.name == "sqlite" and engine.url.database else None
