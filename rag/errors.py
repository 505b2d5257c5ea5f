"""The engine's one error base: a service the tutor needs has failed.

Each failure says which service (`kind`) and, in its message, what happened and what to do. The web layer
translates any of them once, to a 503 with that message; the chat shows it; the commands print it.
"""

from __future__ import annotations

from typing import Literal

Service = Literal["qdrant", "llm", "embeddings", "database", "redis"]


class ServiceError(RuntimeError):
    """A failure of `kind` with a message meant for the user."""

    kind: Service = "llm"


class TutorError(ServiceError):
    """A failure to show the user: `kind` says which service failed, the message what to do."""

    def __init__(self, kind: Service, message: str):
        super().__init__(message)
        self.kind: Service = kind
