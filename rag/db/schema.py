"""The app's tables, in one schema that serves SQLite and PostgreSQL alike.

Chainlit's tables (users, threads, steps, elements, feedbacks) keep Chainlit's column names; JSON goes into TEXT
columns. `chats` records who owns a chat (the REST API's `chat_id` included); `answers` records every answer with
what the instructor view needs; `files` holds element files when the database is shared; the study tables hold
quiz items, attempts, review cards and each chat's study state. A column a newer version adds (always nullable)
is added to a database an older version created (`add_new_columns`). The Agents SDK's session tables
(`agent_sessions`, `agent_messages`) are the SDK's own.
"""

from __future__ import annotations

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
    inspect,
)

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
# Every passage an answer cited, as it was: a passage's id follows its content (`ingest.chunking.point_id`), so
# a row never changes, and a citation opens its passage after the book changed (rag.chats.citations).
cited_passages = Table(
    "cited_passages",
    metadata,
    Column("id", Text, primary_key=True),
    Column("passage", Text, nullable=False),  # JSON: `Passage.kept()`
    Column("createdAt", Text, nullable=False),
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
