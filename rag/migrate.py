"""`python -m rag.migrate --to postgresql://...`: copy the history to another database (and back).

Copies every table the app keeps (users, threads, steps, elements, feedbacks, chat owners, recorded answers, the
tutor's memory, and study mode's quiz items, attempts, review schedules and chat states) from the configured
database (DATABASE_URL, or the local SQLite file) to `--to`, creating the schema there first. The target must be
empty; the source is only read, so going back is running the copy the other way. Ends with the row count of
each table on both sides, and exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy import MetaData, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from rag.config import ConfigError, load_settings, mask_url
from rag.db.database import Database

# Parents before children, so foreign keys hold while copying.
TABLES = (
    "users",
    "threads",
    "steps",
    "elements",
    "feedbacks",
    "chats",
    "answers",
    "cited_passages",
    "agent_sessions",
    "agent_messages",
    "ended_sessions",
    "quiz_items",
    "quiz_attempts",
    "review_cards",
    "study_chats",
)
BATCH = 500


async def _tables(engine: AsyncEngine) -> MetaData:
    reflected = MetaData()
    async with engine.connect() as connection:
        await connection.run_sync(lambda sync: reflected.reflect(sync, only=lambda name, _: name in TABLES))
    return reflected


async def _counts(engine: AsyncEngine, tables: MetaData) -> dict[str, int]:
    async with engine.connect() as connection:
        return {
            name: (await connection.execute(select(func.count()).select_from(tables.tables[name]))).scalar_one()
            for name in TABLES
            if name in tables.tables
        }


async def _prepare(database: Database) -> MetaData:
    """The full schema, the Agents SDK's tables included (`Database.ready` creates them), in an empty database."""
    return await _tables(await database.ready())


async def copy(source: Database, target: Database) -> tuple[dict[str, int], dict[str, int]]:
    """Copy every row; returns the counts per table (source, target)."""
    source_tables, target_tables = await _prepare(source), await _prepare(target)
    if any((await _counts(target.engine, target_tables)).values()):
        raise ValueError("the target database already holds history: migrate into an empty database")
    async with source.engine.connect() as reading, target.engine.begin() as writing:
        for name in TABLES:
            if name not in source_tables.tables:
                continue
            destination = target_tables.tables[name]
            result = await reading.stream(select(source_tables.tables[name]))
            async for rows in result.mappings().partitions(BATCH):
                await writing.execute(destination.insert(), [dict(row) for row in rows])
        if target.engine.dialect.name == "postgresql":  # ids copied as they were: move the sequence past them
            await writing.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('agent_messages', 'id'), "
                    "COALESCE((SELECT MAX(id) FROM agent_messages), 0) + 1, false)"
                )
            )
    return await _counts(source.engine, source_tables), await _counts(target.engine, target_tables)


async def run(to: str) -> int:
    settings = load_settings()
    source, target = Database(settings), Database(load_settings(database_url=to))
    try:
        before, after = await copy(source, target)
    finally:
        await source.close()
        await target.close()
    print(f"from {mask_url(str(source.engine.url))} to {mask_url(str(target.engine.url))}")
    for name in before:
        print(f"  {name:<16} {before[name]:>8} -> {after.get(name, 0):>8}")
    return 0 if before == after else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rag.migrate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--to", required=True, help="the target database URL (postgresql://... or sqlite:///...)")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args.to))
    except (ConfigError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
