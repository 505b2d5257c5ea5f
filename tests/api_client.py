"""The REST API on a FastAPI app that, like Chainlit's, answers every other GET with its page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.chats.database import Database
from rag.config import load_settings
from rag.tutor import Tutor, TutorHolder
from web.access import Access
from web.api import mount_api


def api_client(tutor_factory: Callable[[], Tutor], client_host: str = "127.0.0.1") -> TestClient:
    app = FastAPI()

    @app.get("/{full_path:path}")
    async def page(full_path: str) -> dict:
        return {"page": full_path}

    settings = load_settings()
    mount_api(app, Access.from_settings(settings, Database(settings)))
    app.state.tutors = TutorHolder(settings, factory=lambda _: tutor_factory())
    return TestClient(app, client=(client_host, 50000))
