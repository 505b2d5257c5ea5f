"""Login sessions that end: logout, a user's removal and a change of their role end a session at once, on
every process of the deployment.

A session token (Chainlit's signed JWT) lives for days and carries the role it was issued for. So each login
gets a random session id in the token, and every request that shows a token checks it against the deployment:
the session was not logged out (`ended_sessions`, in the database every process shares), the user still
exists, and their role is still the one the token claims (the users file, or INSTRUCTORS for OAuth).

The same table makes the instructor view's links one-time (`end`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from rag.config import Settings
from rag.db.database import Database, dialect_insert
from rag.db.schema import ended_sessions
from rag.identity import Identity, UsersFile, role_of

# Longer than any token lives (Chainlit's user_session_timeout, 15 days), so an ended id is never forgotten
# while a token that carries it is still valid.
KEEP_ENDED = timedelta(days=60)


class Logins:
    """Login sessions (not the chat's memory, nor Chainlit's socket session): whether one still holds, and
    ending one."""

    def __init__(self, settings: Settings, database: Database):
        self.settings, self.database = settings, database

    async def current(self, identity: Identity) -> bool:
        """Whether a token's session still holds: not ended, its user still there, in the same role."""
        if identity.anonymous:
            return True  # a visitor's token names only their own browser: nothing to end or demote
        if not identity.session or self._role_now(identity) != identity.role:
            return False
        return not await self.ended(identity.session)

    async def end(self, id_: str) -> bool:
        """Record a session (or a one-time link) as ended; False if it had ended already."""
        engine = await self.database.ready()
        now = datetime.now(UTC)
        async with engine.begin() as connection:
            await connection.execute(delete(ended_sessions).where(ended_sessions.c.endedAt < _stamp(now - KEEP_ENDED)))
            insert = dialect_insert(connection)(ended_sessions).values(id=id_, endedAt=_stamp(now))
            result = await connection.execute(insert.on_conflict_do_nothing(index_elements=["id"]))
        return result.rowcount == 1

    async def ended(self, session: str) -> bool:
        """Whether a session (or a one-time link) was recorded as ended."""
        engine = await self.database.ready()
        async with engine.connect() as connection:
            found = await connection.execute(select(ended_sessions.c.id).where(ended_sessions.c.id == session))
            return found.first() is not None

    def _role_now(self, identity: Identity) -> str | None:
        """The user's role today; None when they are gone (removed from the users file)."""
        if identity.login == "oauth":
            return role_of(identity.id, self.settings)
        if identity.login == "password" and self.settings.users_file is not None:
            return UsersFile(self.settings.users_file).role(identity.id)
        return None


def _stamp(moment: datetime) -> str:
    return moment.isoformat()
