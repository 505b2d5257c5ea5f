"""The REST API on a FastAPI app that, like Chainlit's, answers every other GET with its page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.config import load_settings
from rag.db.database import Database
from rag.engine import Engine
from rag.identity import LINK_PATH, instructor_link
from web.access import Access
from web.api import mount_api


def api_client(engine_factory: Callable[[], Engine]) -> TestClient:
    app = FastAPI()

    @app.get("/{full_path:path}")
    async def page(full_path: str) -> dict:
        return {"page": full_path}

    settings = load_settings()
    # A connection per use: a test client outside `with` runs each request in an event loop of its own, and a
    # pooled connection reused from a closed loop's request fails in aiosqlite's thread.
    mount_api(app, settings, Database(settings, pooled=False), lambda _: engine_factory())
    return TestClient(app, client=("127.0.0.1", 50000))


def open_instructor_view(client: TestClient) -> TestClient:
    """With no login configured: the client opens the one-time link the app prints, as the maintainer does."""
    access: Access = client.app.state.access  # type: ignore[attr-defined]  # TestClient.app is the FastAPI app
    token = instructor_link(access.secret, str(client.base_url)).split("token=", 1)[1]
    assert client.post(LINK_PATH, data={"token": token}, follow_redirects=False).status_code == 303
    return client
