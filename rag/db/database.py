"""The one database behind history, feedback, the tutor's memory, study mode and the instructor view.

SQLite in DATA_DIR by default (zero config), PostgreSQL when DATABASE_URL is set; the schema (`rag.db.schema`)
is created by the app itself on first use, the same on both. The Agents SDK's session tables are created by the
SDK, in `ready()`. Its failures are said once, by the services that use it (`database_faults`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from agents.extensions.memory.sqlalchemy_session import SQLAlchemySession
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from rag.config import Settings, mask_url
from rag.db.schema import add_new_columns, metadata
from rag.errors import TutorError

P = ParamSpec("P")
T = TypeVar("T")


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
    """The database failed with `exc`; the message (`unavailable`) names it and what to check."""

    def __init__(self, settings: Settings, exc: BaseException):
        super().__init__("database", unavailable(settings, exc))


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
            raise DatabaseUnavailable(database.settings, exc) from None

    return run


def dialect_insert(connection: AsyncConnection) -> Callable[..., Any]:
    """The database's own INSERT, which has ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    return sqlite.insert if connection.dialect.name == "sqlite" else postgresql.insert


def sqlite_path(engine: AsyncEngine) -> Path | None:
    return Path(engine.url.database) if engine.dialect.name == "sqlite" and engine.url.database else None
