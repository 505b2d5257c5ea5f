"""Element files in the app's database (the `files` table): with PostgreSQL, every app process of a deployment
reads what any other wrote, with no shared disk. A panel is a few kilobytes of text, well within a row."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update

from rag.db.database import Database
from rag.db.schema import files
from web.storage.signed import SignedStorage


class DatabaseStorage(SignedStorage):
    def __init__(self, database: Database, secret: str):
        super().__init__(secret)
        self.database = database

    async def read(self, object_key: str) -> tuple[bytes, str]:
        engine = await self.database.ready()
        async with engine.connect() as connection:
            row = (
                await connection.execute(select(files.c.content, files.c.mime).where(files.c.objectKey == object_key))
            ).first()
        if row is None:
            raise FileNotFoundError(object_key)
        return bytes(row.content), row.mime

    async def write(self, object_key: str, content: bytes, mime: str, overwrite: bool) -> None:
        engine = await self.database.ready()
        values = {"content": content, "mime": mime, "createdAt": datetime.now(UTC).isoformat()}
        async with engine.begin() as connection:
            found = await connection.execute(select(files.c.objectKey).where(files.c.objectKey == object_key))
            if found.first() is None:
                await connection.execute(insert(files).values(objectKey=object_key, **values))
            elif overwrite:
                await connection.execute(update(files).where(files.c.objectKey == object_key).values(**values))

    async def delete_file(self, object_key: str) -> bool:
        engine = await self.database.ready()
        async with engine.begin() as connection:
            deleted = await connection.execute(delete(files).where(files.c.objectKey == object_key))
        return deleted.rowcount > 0
