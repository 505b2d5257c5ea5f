"""What every REST route shares: who is calling, the question rate limit, and the error responses (documented
for the OpenAPI document, with local paths kept out of their texts)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from rag.identity import Identity
from rag.search.passage import Passage
from web.access import Access

PREFIX = "/api/v1"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# An absolute path on this machine: standing alone, or as a URL with no host (`sqlite:///srv/data/tutor.db`,
# `file:///...`); not the path part of a URL, which follows a host, nor a `~/` path of the student's machine.
_LOCAL_PATH = re.compile(r"(?:(?<=://)|(?<=:///)|(?<![\w:/.@~-]))/(?:[\w.+-]+/)+[\w.+-]*")


class CitedPassage(BaseModel):
    """A passage of the book as every REST answer cites it: an answer's source, a quiz item's, a passage looked up
    by id. Each of those adds its own fields to these."""

    section: str = Field(description="Where it sits: Title › Section › Subsection.")
    url: str
    path: str = Field(description="Its page's path in the docs.")
    text: str

    @staticmethod
    def fields(passage: Passage) -> dict[str, str]:
        return {"section": passage.breadcrumb, "url": passage.url, "path": passage.source_path, "text": passage.text}


NO_CHAT = "No chat with this chat_id."  # another identity's chat is "not found" too
NO_ITEM = "No such item in your quizzes."


class ErrorResponse(BaseModel):
    detail: str | list[dict]


# 400: a body that is not text at all; 401: login is configured and no valid token was sent; 403: a profile the
# caller may not use; 404: a chat or item that is another identity's (or none); 413: too large; 422: not a valid
# request; 429: over the rate limit; 503: a service down.
ERRORS: dict[int | str, dict] = {code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 422, 429, 503)}


def public(message: str) -> str:
    """An error text fit for anyone who can reach the API: local paths replaced."""
    return _LOCAL_PATH.sub("<path on the server>", message)


def caller(request: Request, access: Access) -> Identity:
    """The identity asking: 401 when login is configured and the request carries no valid token."""
    identity = access.identify(request.cookies, request.headers.get("authorization"))
    identity = identity or getattr(request.state, "visitor", None)
    if identity is None:
        raise HTTPException(
            401,
            "Log in first: send `Authorization: Bearer <API token>` (docs/accounts.md).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return identity


async def within_limit(request: Request, access: Access, identity: Identity) -> None:
    """429 with Retry-After when the caller is over the question rate limit (per identity and per address)."""
    limited = await access.limiter.check(identity.id, request.client.host if request.client else None)
    if limited is not None:
        wait = str(math.ceil(limited.wait))
        where = " from this address" if limited.by == "address" else ""
        raise HTTPException(429, f"Too many questions{where}: wait {wait} s.", headers={"Retry-After": wait})


def allowed_methods(routers: Iterable[APIRouter], path: str) -> list[str]:
    """The methods these routers answer at `path` (their catch-all routes, named "unknown", aside): a 405's
    Allow header, or none for a path they do not serve."""
    return sorted(
        method
        for api in routers
        for route in api.routes
        if getattr(route, "path", None) == path and getattr(route, "name", "") != "unknown"
        for method in getattr(route, "methods", ())
    )
