"""History on a real database, SQLite (the default) and a real PostgreSQL 15 server: chat ownership, the
tutor's memory across restarts, recorded answers, and Chainlit's data layer (threads, pages, search,
feedback, element files)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from chainlit.context import init_http_context
from chainlit.types import Feedback, Pagination, ThreadFilter
from chainlit.user import User
from sqlalchemy import select

from harness.postgres import Postgres
from rag.answer.result import Answer
from rag.chats.history import ChatNotFound, History
from rag.config import load_settings
from rag.db.database import Database
from rag.db.schema import answers
from rag.errors import TutorError
from rag.health import check_database
from tests.conftest import build_engine
from web.datalayer import TutorDataLayer
from web.storage import DatabaseStorage, FolderStorage, storage_for


@pytest.fixture(scope="module")
def postgres():
    server = Postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path):
    if request.param == "sqlite":
        return load_settings(data_dir=tmp_path / "data")
    return load_settings(data_dir=tmp_path / "data", database_url=request.getfixturevalue("postgres").new_database())


def run(coroutine, *databases: Database):
    """One event loop for a whole scenario (pooled PostgreSQL connections belong to their loop); the engines are
    disposed inside it."""

    async def scenario():
        init_http_context()  # outside a websocket session Chainlit's data layer writes at once instead of queueing
        try:
            return await coroutine
        finally:
            for database in databases:
                await database.close()

    return asyncio.run(scenario())


def test_a_chat_belongs_to_who_started_it(settings, sample_store, embedder):
    engine = build_engine(sample_store, embedder, settings=settings, pooled=True)

    async def scenario():
        await engine.answers.answer("What is a ROS 2 node?", "chat-a", owner="alice")
        with pytest.raises(ChatNotFound):
            await engine.answers.answer("Tell me what Alice asked", "chat-a", owner="mallory")
        return await engine.answers.answer("and how do I launch it?", "chat-a", owner="alice")

    again = run(scenario(), engine.database)
    assert again.query == "and how do I launch it? + What is a ROS 2 node?"


def test_memory_and_answers_survive_a_restart(settings, sample_store, embedder):
    first_process = build_engine(sample_store, embedder, settings=settings, pooled=True)
    run(first_process.answers.answer("What is a ROS 2 node?", "chat-r", owner="bob"), first_process.database)
    # A new process: a new engine on the same database.
    restarted = build_engine(sample_store, embedder, settings=settings, pooled=True)

    async def scenario():
        follow_up = await restarted.answers.answer("and how do I launch it?", "chat-r", owner="bob")
        sql = await restarted.database.ready()
        async with sql.connect() as connection:
            rows = (await connection.execute(select(answers).order_by(answers.c.createdAt))).mappings().all()
        return follow_up, rows

    follow_up, (first, second) = run(scenario(), restarted.database)
    assert follow_up.query.endswith("+ What is a ROS 2 node?")
    assert first["question"] == "What is a ROS 2 node?" and first["owner"] == "bob" and first["covered"]
    assert json.loads(first["sources"])[0]["id"] and first["model"] == "excerpts: book-excerpts"
    assert first["grounded"] == 1.0 and second["chatId"] == "chat-r"


def test_memory_keeps_a_question_only_with_its_answer(settings):
    """The run's items are written together when the answer is done; a new chat is not read at all."""
    database = Database(settings)
    history = History(database)

    async def scenario():
        await history.claim("chat-m", "dana")
        memory = history.memory("chat-m")
        assert memory.read  # known to be empty: nothing to read
        await memory.add_items([{"role": "user", "content": "What is a node?"}])
        assert [i["content"] for i in await memory.get_items()] == ["What is a node?"]
        await memory.add_items([{"role": "assistant", "content": "A process."}])
        async with (await database.ready()).begin() as connection:  # as `History.record` writes it
            await memory.write(connection)
        abandoned = history.memory("chat-m")  # the next question, cancelled before its answer
        await abandoned.add_items([{"role": "user", "content": "Never answered"}])
        later = History(database).memory("chat-m")  # another process
        return [i["content"] for i in await later.get_items()]

    assert run(scenario(), database) == ["What is a node?", "A process."]


def test_not_covered_answers_are_recorded_too(settings, sample_store, embedder):
    engine = build_engine(sample_store, embedder, settings=settings, pooled=True)

    async def scenario():
        await engine.answers.answer("How do I bake sourdough bread?", "chat-n", owner="carol")
        sql = await engine.database.ready()
        async with sql.connect() as connection:
            return (await connection.execute(select(answers))).mappings().one()

    recorded = run(scenario(), engine.database)
    assert not recorded["covered"] and recorded["coverage"] and recorded["model"] == "none (not covered)"


# -- Chainlit's data layer ----------------------------------------------------------------------------------


@pytest.fixture
def layer(settings):
    """SQLite keeps element files in DATA_DIR, PostgreSQL in its `files` table."""
    database = Database(settings)
    return TutorDataLayer(database, storage_for(settings, database, "s" * 32))


def step(thread_id: str, step_id: str, output: str, created: str, kind: str = "assistant_message") -> dict:
    return {
        "id": step_id,
        "threadId": thread_id,
        "name": "Tutor",
        "type": kind,
        "output": output,
        "createdAt": created,
        "streaming": False,
        "tags": ["t"],
        "modes": {"m": "x"},
        "metadata": {"k": 1},
    }


def test_threads_page_search_and_feedback(layer):
    async def scenario():
        user = await layer.create_user(User(identifier="dana", metadata={"role": "student"}))
        other = await layer.create_user(User(identifier="erin", metadata={}))
        for i in range(25):
            thread = f"thread-{i:02d}"
            await layer.update_thread(thread, name=f"Question {i}", user_id=user.id, tags=["Book excerpts"])
            await layer.create_step(step(thread, f"s-{i}", f"answer about topic {i}", f"2026-01-01T00:00:{i:02d}Z"))
        await layer.update_thread("not-hers", name="Erin's", user_id=other.id)
        first = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=user.id))
        second = await layer.list_threads(
            Pagination(first=10, cursor=first.pageInfo.endCursor), ThreadFilter(userId=user.id)
        )
        found = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=user.id, search="TOPIC 7"))
        await layer.upsert_feedback(Feedback(forId="s-3", value=0, threadId="thread-03", comment="wrong units"))
        flagged = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=user.id, feedback=0))
        thread = await layer.get_thread("thread-03")
        return first, second, found, flagged, thread

    first, second, found, flagged, thread = run(scenario(), layer.database)
    assert [t["id"] for t in first.data] == [f"thread-{i:02d}" for i in range(24, 14, -1)]  # most recent first
    assert first.pageInfo.hasNextPage and second.data[0]["id"] == "thread-14"
    assert [t["id"] for t in found.data] == ["thread-07"] and [t["id"] for t in flagged.data] == ["thread-03"]
    assert thread["tags"] == ["Book excerpts"] and thread["steps"][0]["metadata"] == {"k": 1}
    assert thread["steps"][0]["modes"] == {"m": "x"}  # stored as JSON and read back (Chainlit's issue 2750)
    assert thread["steps"][0]["feedback"]["comment"] == "wrong units"


def test_a_visitor_cannot_fill_the_disk_over_the_chat_socket(layer, settings):
    """What Chainlit stores as a message arrives, before the app refuses it: a message over the question limit
    is not stored, nor messages past the owner's daily budget; metadata and the chat's name are bounded. Sending
    600 messages of 4,000 characters grows the history by the budget, not by 2.4 MB."""
    from web.datalayer import MAX_THREAD_NAME_CHARS, STORED_PER_DAY

    now = datetime.now(UTC).isoformat()

    async def stored(thread: str) -> int:
        found = await layer.execute_sql(
            'SELECT SUM(LENGTH("output")) AS n FROM steps WHERE "threadId" = :t', {"t": thread}
        )
        return int(found[0]["n"] or 0) if isinstance(found, list) else 0

    async def scenario():
        user = await layer.create_user(User(identifier="mallory", metadata={"role": "student"}))
        await layer.update_thread("flood", name="x" * 1_000_000, user_id=user.id)
        huge = {**step("flood", "huge", "y" * 1_000_000, now, "user_message"), "metadata": {"pad": "z" * 100_000}}
        await layer.create_step(huge)
        await layer.create_step(
            {**step("flood", "meta", "What is a node?", now, "user_message"), "metadata": huge["metadata"]}
        )
        for i in range(600):
            await layer.create_step(step("flood", f"m-{i}", "w" * 4000, now, "user_message"))
        thread = await layer.get_thread("flood")
        return thread, await stored("flood")

    thread, total = run(scenario(), layer.database)
    ids = {s["id"] for s in thread["steps"]}
    assert "huge" not in ids and len(thread["name"]) == MAX_THREAD_NAME_CHARS
    assert next(s for s in thread["steps"] if s["id"] == "meta")["metadata"] == {}
    assert STORED_PER_DAY - 4000 <= total <= STORED_PER_DAY and "m-599" not in ids


def test_elements_are_stored_and_read_through_signed_urls(layer, settings):
    import chainlit as cl

    async def scenario():
        user = await layer.create_user(User(identifier="fay", metadata={}))
        await layer.update_thread("thread-e", name="Q", user_id=user.id)
        await layer.create_step(step("thread-e", "s-e", "an answer [1]", "2026-01-01T00:00:00Z"))
        element = cl.Text(name="[1]", content="**Nodes** run code.", display="side", for_id="s-e")
        element.thread_id = "thread-e"
        await layer.create_element(element)
        thread = await layer.get_thread("thread-e")
        content = await layer.storage.read(thread["elements"][0]["objectKey"])
        await layer.delete_thread("thread-e")
        with pytest.raises(FileNotFoundError):  # deleting the thread deleted its file
            await layer.storage.read(thread["elements"][0]["objectKey"])
        return thread, content

    thread, content = run(scenario(), layer.database)
    [stored] = thread["elements"]
    url = stored["url"]
    assert url.startswith("/api/v1/files/") and "signature=" in url and stored["forId"] == "s-e"
    assert content[0] == b"**Nodes** run code."
    expected = FolderStorage if settings.database_url is None else DatabaseStorage
    assert isinstance(layer.storage, expected)


def test_a_signed_url_opens_only_its_own_file(tmp_path):
    storage = FolderStorage(tmp_path, "secret" * 8)
    run(storage.upload_file("u/e/[1]", "passage", mime="text/plain"))
    url = run(storage.get_read_url("u/e/[1]"))
    expires, signature = (part.split("=")[1] for part in url.split("?")[1].split("&"))
    assert storage.verify("u/e/[1]", int(expires), signature)
    assert run(storage.read("u/e/[1]")) == (b"passage", "text/plain")
    assert not storage.verify("u/e/[2]", int(expires), signature)  # another file with the same signature
    assert not storage.verify("u/e/[1]", int(time.time()) - 1, storage.sign("u/e/[1]", int(time.time()) - 1))
    with pytest.raises(ValueError):
        storage.path("../../etc/passwd")
    # The words a student's question matched are theirs alone, whatever this process's umask (0022 here).
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "u" / "e").iterdir()} == {"0o600"}
    assert oct((tmp_path / "u").stat().st_mode & 0o777) == oct((tmp_path / "u" / "e").stat().st_mode & 0o777) == "0o700"


def test_history_moves_to_postgresql_and_back(make_engine, tmp_path, postgres, env, capsys):
    """The migration guide's commands: SQLite -> PostgreSQL, then back into a fresh SQLite file."""
    from rag.migrate import main as migrate

    env(DATA_DIR=str(tmp_path / "data"))
    engine = make_engine()

    async def chat():
        await engine.answers.answer("What is a ROS 2 node?", "moved", owner="gil")
        await engine.answers.answer("and how do I launch it?", "moved", owner="gil")
        items = await engine.study.quiz("gil", 3, section="01-ros2-basics/01-nodes-and-topics.md")
        await engine.study.answer("gil", items[0].id, "a wrong answer")
        await engine.study.begin("moved", "gil", items)

    run(chat(), engine.database)
    target = postgres.new_database()
    assert migrate(["--to", target]) == 0
    out = capsys.readouterr().out
    assert "answers                 2 ->        2" in out and "agent_messages          4 ->        4" in out
    assert "quiz_attempts           1 ->        1" in out and "review_cards            1 ->        1" in out
    assert "study_chats             1 ->        1" in out
    assert migrate(["--to", target]) == 2  # never into a database that already holds history
    env(DATABASE_URL=target)
    on_postgres = make_engine()
    follow_up = run(
        on_postgres.answers.answer("and what about parameters?", "moved", owner="gil"), on_postgres.database
    )
    assert "and how do I launch it?" in follow_up.query  # the memory moved with it
    on_postgres.study.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)
    due = run(on_postgres.study.due("gil"), on_postgres.database)
    assert len(due) == 1  # the missed item comes back for review, from PostgreSQL
    assert migrate(["--to", f"sqlite:///{tmp_path / 'back.db'}"]) == 0  # the way back
    assert "answers                 3 ->        3" in capsys.readouterr().out


def test_a_database_that_stops_mid_chat_is_a_database_error(sample_store, embedder, tmp_path):
    """PostgreSQL stopped between two questions of a chat: the next one fails naming the database (the chat
    and the REST stream say so), never an unexplained crash; /health says it too."""
    server = Postgres()
    settings = load_settings(data_dir=tmp_path / "data", database_url=server.new_database())
    engine = build_engine(sample_store, embedder, settings=settings)

    async def scenario():
        await engine.answers.answer("What is a ROS 2 node?", "chat-down", owner="erin")
        server.stop()
        with pytest.raises(TutorError) as follow_up:
            await engine.answers.answer("and how do I launch it?", "chat-down", owner="erin")
        with pytest.raises(TutorError) as new_chat:
            await engine.answers.answer("What is a topic?", "chat-new", owner="erin")
        return follow_up.value, new_chat.value, await check_database(engine.database)

    follow_up, new_chat, health = asyncio.run(scenario())
    assert follow_up.kind == new_chat.kind == "database" and "DATABASE_URL" in str(follow_up)
    assert health.status == "FAIL" and "DATABASE_URL" in health.detail


def test_a_database_that_stops_mid_answer_ends_the_answer_saying_so(sample_store, embedder, tmp_path):
    """PostgreSQL stopped (immediate, as a crash) after the answer's first words: the answer ends, either with the
    database error or shown and marked as not kept, naming DATABASE_URL; never a stream that just stops."""
    server = Postgres()
    settings = load_settings(data_dir=tmp_path / "data", database_url=server.new_database())
    engine = build_engine(sample_store, embedder, settings=settings)

    async def scenario():
        # the schema exists, the chat is erin's
        await engine.answers.answer("What is a ROS 2 node?", "chat-mid", owner="erin")
        events = []
        try:
            async for event in await engine.answers.ask("What is a topic?", "chat-mid", owner="erin"):
                events.append(event)
                if isinstance(event, str) and len(events) == 2:
                    server.stop()
        except TutorError as exc:
            events.append(exc)
        return events

    last = asyncio.run(scenario())[-1]
    if isinstance(last, TutorError):
        assert last.kind == "database" and "DATABASE_URL" in str(last)
    else:
        assert isinstance(last, Answer) and "DATABASE_URL" in last.not_kept and last.text


def test_over_the_rest_stream_a_database_stopped_mid_answer_ends_it_with_the_reason(
    sample_store, embedder, tmp_path, env
):
    """The same over `/api/v1/chat/stream`: the stream's last event is the answer marked not kept, or the error."""
    import json as json_

    from tests.api_client import api_client

    server = Postgres()
    env(DATA_DIR=str(tmp_path / "data"), DATABASE_URL=server.new_database())
    engine = build_engine(sample_store, embedder)
    client = api_client(lambda: engine)
    assert client.post("/api/v1/chat", json={"content": "What is a ROS 2 node?"}).status_code == 200
    events = []
    with client.stream("POST", "/api/v1/chat/stream", json={"content": "What is a topic?"}) as response:
        for line in response.iter_lines():
            if line.startswith("event:"):
                events.append(line.split(": ", 1)[1])
                if events.count("delta") == 1:
                    server.stop()
            elif line.startswith("data:"):
                last = json_.loads(line.split(": ", 1)[1])
    assert events[0] == "delta" and events[-1] in ("answer", "error")
    if events[-1] == "answer":
        assert not last["kept"] and "DATABASE_URL" in last["not_kept"] and last["answer"]
    else:
        assert "DATABASE_URL" in last["detail"] and last["service"] == "database"


def test_a_database_an_older_version_made_gets_the_new_columns(settings):
    """An `answers` table without the relevance columns (as the last version created it), with a row in it: the
    columns are added on first use, and the old row stays, with NULL there."""
    from sqlalchemy import Column, MetaData, Table, insert, inspect

    from rag.db.schema import metadata

    old = MetaData()
    Table(
        "answers",
        old,
        *(Column(c.name, c.type, nullable=c.nullable) for c in answers.columns if c.name not in ("topic", "offPoint")),
    )
    row = {
        c.name: (False if c.type.python_type is bool else 0 if c.type.python_type in (int, float) else "x")
        for c in answers.columns
        if c.name not in ("topic", "offPoint", "vector", "similarity", "grounded")
    }

    async def scenario(database: Database):
        async with database.engine.begin() as connection:
            await connection.run_sync(old.create_all)
            await connection.execute(insert(old.tables["answers"]).values(**row))
        sql = await database.ready()
        async with sql.connect() as connection:
            names = await connection.run_sync(lambda sync: {c["name"] for c in inspect(sync).get_columns("answers")})
            kept = (await connection.execute(select(answers.c.id, answers.c.offPoint))).all()
        return names, kept

    database = Database(settings)
    names, kept = run(scenario(database), database)
    assert {"topic", "offPoint"} <= names and set(metadata.tables["answers"].columns.keys()) <= names
    assert kept == [("x", None)]


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs: a disk that fills, for real (mounting needs root, as CI runs)."""
    import subprocess

    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_is_said_by_the_answer_and_by_health(sample_store, embedder, small_disk):
    """The disk of the SQLite history fills: the next answer ends saying so (the database error, or shown and
    marked as not kept), naming DATA_DIR; health fails, naming the fix, where it used to say 200."""
    settings = load_settings(data_dir=small_disk)
    engine = build_engine(sample_store, embedder, settings=settings)

    async def scenario():
        await engine.answers.answer("What is a ROS 2 node?", "chat-full", owner="erin")
        with open(small_disk / "filler", "wb", buffering=0) as filler:  # the rest of the disk, nothing held back
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass
        try:
            answer: Answer | TutorError = await engine.answers.answer("What is a topic?", "chat-full", owner="erin")
        except TutorError as exc:
            answer = exc
        return answer, await check_database(engine.database)

    answer, health = run(scenario(), engine.database)
    if isinstance(answer, TutorError):  # the chat's memory, written as the answer ends, failed first
        assert answer.kind == "database" and "DATA_DIR" in str(answer)
    else:
        assert answer.text and "DATA_DIR" in answer.not_kept
    assert health.status == "FAIL" and "DATA_DIR" in health.detail
