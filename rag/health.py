"""The health checks: one OK/WARN/FAIL `Check` per dependency, each FAIL saying the fix.

`python -m rag.check` prints them; `/api/v1/health` answers with them.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text

from rag.config import Settings, mask_url
from rag.db.database import DATABASE_ERRORS, Database, sqlite_path, unavailable
from rag.llm.bundled import LocalLLMError, LocalLLMServer
from rag.llm.providers import Provider, ProviderName, choose_provider, describe_llm_error, provider
from rag.store import Store, StoreError, get_store

INGEST_HINT = "build it with `python -m ingest --source samples/textbook/docs` (or `make run`, which does it for you)"


@dataclass(frozen=True)
class Check:
    status: Literal["OK", "WARN", "FAIL"]
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<5} {self.name}: {self.detail}"


def check_qdrant(store: Store) -> Check:
    """Is the store reachable? The same check ingest runs before it writes anything."""
    try:
        store.verify_connection()
    except StoreError as exc:
        return Check("FAIL", "Qdrant reachable", str(exc))
    return Check("OK", "Qdrant reachable", store.description)


def check_collection(store: Store, settings: Settings) -> list[Check]:
    try:
        spec = store.collection_spec()
        if spec is None:
            return [
                Check("WARN", "Collection present", f"{settings.qdrant_collection} does not exist yet: {INGEST_HINT}")
            ]
        points = store.count()
    except StoreError as exc:
        return [Check("FAIL", "Collection present", str(exc))]
    checks = [
        Check("OK", "Collection present", settings.qdrant_collection),
        Check("OK" if points else "WARN", "Point count", f"{points}" + ("" if points else f": empty, {INGEST_HINT}")),
    ]
    if spec.embedding_model == settings.embedding_model:
        checks.append(Check("OK", "Embedding model matches", f"{spec.embedding_model} ({spec.dim}-d)"))
    else:
        checks.append(
            Check(
                "FAIL",
                "Embedding model matches",
                f"the collection holds {spec.embedding_model} vectors but EMBEDDING_MODEL is "
                f"{settings.embedding_model}: set EMBEDDING_MODEL={spec.embedding_model} or re-ingest "
                "with `python -m ingest --recreate`",
            )
        )
    return checks


# A check answers quickly or counts as down: a hanging model must not hang the health endpoint.
HEALTH_TIMEOUT = 3.0
# Below this much free space on the disk of the SQLite history, answers may no longer be kept: the database fails.
MIN_FREE_BYTES = 20 * 1024 * 1024
# The bundled server answers one request at a time: a token may wait for a student's answer to finish.
BUNDLED_TIMEOUT = 30.0


def check_llm(choice: Provider, timeout: float = HEALTH_TIMEOUT, server: LocalLLMServer | None = None) -> Check:
    """The provider answers and lists its model; the bundled one generates a token; excerpts need nothing.

    `server` is the app's running bundled server; without one, a server is started for the check and stopped."""
    name = f"LLM provider {choice.name}"
    if choice.kind == "excerpts":
        return Check("OK", name, f"{choice.label}: {choice.where}")
    if choice.bundled:
        own = server is None
        server = server or LocalLLMServer(choice.model)
        try:
            return check_bundled(choice, server)
        finally:
            if own:
                server.stop()
    import openai  # only when a remote provider is checked; keeps `python -m ingest` quick to start

    key = choice.api_key.get_secret_value() if choice.api_key else "not-needed"
    client = openai.OpenAI(base_url=choice.base_url, api_key=key, timeout=timeout, max_retries=0)
    try:
        ids = [m.id for m in client.models.list()]
    except openai.OpenAIError as exc:
        return Check("FAIL", name, describe_llm_error(exc, choice))
    finally:
        client.close()
    if not any(i == choice.model or i.endswith("/" + choice.model) for i in ids):
        return Check(
            "FAIL",
            name,
            f"{mask_url(choice.base_url)} does not list model {choice.model} (it has: "
            f"{', '.join(ids[:8]) or 'none'}); fix the model name",
        )
    return Check("OK", name, f"{choice.answered_by} ({choice.where})")


def check_bundled(choice: Provider, server: LocalLLMServer) -> Check:
    """One generated token: a server that starts and lists its model can still die at the first token (a
    llama.cpp built for instructions this CPU lacks), so listing is not enough."""
    import openai

    name = f"LLM provider {choice.name}"
    try:
        base_url = server.start()
    except LocalLLMError as exc:
        return Check("FAIL", name, str(exc))
    client = openai.OpenAI(base_url=base_url, api_key="not-needed", timeout=BUNDLED_TIMEOUT, max_retries=0)
    try:
        client.chat.completions.create(
            model=choice.model, messages=[{"role": "user", "content": "Hello"}], max_tokens=1, temperature=0
        )
    except openai.OpenAIError as exc:
        crash = server.crash()
        return Check("FAIL", name, str(crash) if crash else describe_llm_error(exc, choice))
    finally:
        client.close()
    return Check("OK", name, f"bundled {choice.model} generated a token (a server started by the app)")


async def check_database(database: Database, timeout: float = HEALTH_TIMEOUT) -> Check:
    """Does the history database answer, and (SQLite) has its disk room for more? Every question reads and writes
    it: a full disk answers reads and loses every answer."""
    try:
        async with asyncio.timeout(timeout):
            engine = await database.ready()
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except DATABASE_ERRORS as exc:  # TimeoutError, the wait's, is an OSError too
        return Check("FAIL", "database", unavailable(database.settings, exc))
    where = mask_url(str(database.engine.url))
    path = sqlite_path(database.engine)
    if path is not None and (free := shutil.disk_usage(path.parent).free) < MIN_FREE_BYTES:
        return Check(
            "FAIL",
            "database",
            f"The disk holding the chat history ({where}) has {free // 1024} KB free: answers are not kept. "
            "Free space there, or set DATA_DIR to a folder on a disk with room.",
        )
    return Check("OK", "database", where)


def store_checks(store: Store, settings: Settings) -> list[Check]:
    """Reachable, and (if so) a collection of this tutor's model that holds points."""
    reachable = check_qdrant(store)
    return [reachable, *check_collection(store, settings)] if reachable.status == "OK" else [reachable]


def run_checks(settings: Settings, provider_name: ProviderName | None = None) -> list[Check]:
    """The store, and the configured provider (or `provider_name`)."""
    try:
        store = get_store(settings)
    except StoreError as exc:
        checks = [Check("FAIL", "Qdrant reachable", str(exc))]
    else:
        try:
            checks = store_checks(store, settings)
        finally:
            store.close()
    choice = provider(settings, provider_name) if provider_name else choose_provider(settings)
    return [*checks, asyncio.run(check_database(Database(settings, pooled=False))), check_llm(choice)]
