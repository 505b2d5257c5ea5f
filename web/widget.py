"""The book's tutor widget (Chainlit's Copilot in every page, mounted by `book/plugin`): how it signs in, and
what the chat asks of the page around it.

The widget signs in at `POST /api/v1/widget/token`.

Chainlit's Copilot widget does not call the header login the chat page uses (how zero config knows a visitor
by their cookie); it needs an access token, which it exchanges at Chainlit's /auth/jwt for the session cookie.
This route gives one to the browser's own identity, so a chat in the widget is the same visitor's or user's
as the chat page's, with one history: the visitor cookie with no login configured, the chat page's session
cookie with login (a widget without it is sent to log in). Only the app's own origin and ALLOWED_ORIGINS may
ask; the browser's CORS rules keep any other page from reading the answer in any case.

The chat calls two functions of the page (CopilotFunctions, answered by the plugin): `tutor_ready` when a chat
session starts or resumes, because the widget drops messages sent before it is connected and has no event
that says it is; and `tutor_reading` for where the student is when a message carries no page of its own.
A message typed in the widget can arrive before the page has answered `tutor_ready` (a loaded machine, a
quick student): the page is asked where the student is all the same; only a page that did not answer
`tutor_ready` (a Copilot embedded without the plugin) is not asked.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import parse_qs

import chainlit
from chainlit.context import context
from chainlit.server import jwt_auth as chainlit_jwt_auth
from chainlit.types import ThreadDict
from chainlit.user_session import user_session
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.search.passage import Reading
from web.dependencies import AccessDep
from web.display import relinked
from web.reading import ReadingIn
from web.rest import PREFIX

log = logging.getLogger(__name__)
router = APIRouter(prefix=PREFIX)
bundle_router = APIRouter()
BUNDLE = Path(chainlit.__file__).parent / "copilot" / "dist" / "index.js"
LOGIN_PATH = "/login"
READY, READING = "tutor_ready", "tutor_reading"  # the plugin's functions
CALL_SECONDS = 5  # the page answers at once; a page without the plugin never does
PLUGIN = "book_plugin"  # in the chat's session: whether the page answered `tutor_ready` (unset until it did)
CLIENT_PARAMETER = ("client", "book")  # the plugin adds it to every request the widget makes
_from_book: ContextVar[bool] = ContextVar("from_book", default=False)


def from_book() -> bool:
    """Whether the request being answered is the book widget's (`WidgetRequests`)."""
    return _from_book.get()


class WidgetRequests:
    """Marks the widget's requests (`?client=book`) for the callbacks that answer it differently: Chainlit's
    Copilot crashes (React error 310) when a chat profile is chosen after a message is shown, as its profile
    menu does by itself once it appears, so the widget is offered no profiles and answers with the role's
    default."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name, value = CLIENT_PARAMETER
        marked = scope["type"] == "http" and value in parse_qs(scope.get("query_string", b"").decode()).get(name, [])
        token = _from_book.set(marked)
        try:
            await self.app(scope, receive, send)
        finally:
            _from_book.reset(token)


@dataclass(frozen=True)
class Bundle:
    raw: bytes
    compressed: bytes
    etag: str


@cache
def _bundle() -> Bundle:
    raw = BUNDLE.read_bytes()
    return Bundle(raw, gzip.compress(raw, 6), '"' + hashlib.sha256(raw).hexdigest()[:20] + '"')


@bundle_router.get("/copilot/index.js", include_in_schema=False)
async def widget_bundle(request: Request) -> Response:
    """Chainlit's Copilot bundle, which every book page loads: 8.6 MB of JavaScript that Chainlit sends as it
    is, sent gzip-compressed (2.5 MB, compressed once per process), revalidated by its ETag."""
    found = await asyncio.to_thread(_bundle)
    headers = {"ETag": found.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(found.compressed, media_type="text/javascript", headers={**headers, "Content-Encoding": "gzip"})
    return Response(found.raw, media_type="text/javascript", headers=headers)


def in_book() -> bool:
    """Whether this chat is the book's widget rather than the chat page."""
    return context.session.client_type == "copilot"


async def tell_ready() -> None:
    """The chat session is connected: the plugin sends the messages it queued. A page that answers has the
    plugin, and is asked where the student reads (`page_being_read`); a Copilot embedded without it is not."""
    answered = await context.emitter.send_call_fn(READY, {}, timeout=CALL_SECONDS)
    user_session.set(PLUGIN, bool(answered))


def for_the_book(thread: ThreadDict) -> None:
    """A chat of the chat page, opened in the widget (in place: Chainlit shows the thread it resumed): the side
    elements of a chat answered before the chat page had its own panel would force themselves open over the
    book, so they go, and its answers' `[n]` (links to that panel) link into the book instead, as the widget's
    own answers do. Its chat profile goes too: the widget would switch to it
    and reload its settings while the messages render, which crashes Chainlit's Copilot (React error 310, as
    choosing a profile there does); the session still answers with it."""
    thread["elements"] = [e for e in thread.get("elements") or [] if e.get("display") != "side"]
    metadata = thread.get("metadata")
    if isinstance(metadata, dict):
        thread["metadata"] = {k: v for k, v in metadata.items() if k not in ("chat_profile", "chat_settings")}
    for step in thread.get("steps", []):
        if step.get("type") == "assistant_message" and step.get("output"):
            step["output"] = relinked(step["output"])


async def page_being_read() -> Reading | None:
    """Where the student is in the book, as the page says (the page, the heading in view, a selection); not asked
    of a page that left `tutor_ready` unanswered, which would leave every message waiting `CALL_SECONDS`."""
    if user_session.get(PLUGIN) is False:
        return None
    found = await context.emitter.send_call_fn(READING, {}, timeout=CALL_SECONDS)
    if not found:
        return None
    try:
        return ReadingIn.model_validate(found).reading()
    except ValidationError as exc:
        log.warning("widget.reading refused: %s", exc.errors()[0]["msg"])
        return None


class WidgetToken(BaseModel):
    accessToken: str = Field(description="For Chainlit's /auth/jwt, within five minutes.")


class LoginNeeded(BaseModel):
    detail: str
    login_url: str = Field(description="The tutor's login page, relative to the tutor's URL.")


@bundle_router.post("/auth/jwt", include_in_schema=False)
async def exchange_token(request: Request, access: AccessDep) -> Response:
    """Chainlit's /auth/jwt (the widget's sign-in), ahead of it: a widget token mints one session, so a copied
    one cannot mint more for days. Chainlit's widget sends its token again when it re-renders, so a repeat is
    answered as a success that sets no cookie and carries no token: the browser that signed in keeps its
    session, a copy gets none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and not await access.exchange_once(token.strip()):
        return JSONResponse({"success": True})
    return await chainlit_jwt_auth(request)


@router.post("/widget/token", response_model=WidgetToken, responses={401: {"model": LoginNeeded}, 403: {}})
async def widget_token(request: Request, access: AccessDep) -> dict | JSONResponse:
    """A token that signs the book's widget in as this browser's visitor or logged-in user."""
    origin = request.headers.get("origin")
    if origin and not access.origin_allowed(origin, {f"{request.url.scheme}://{request.headers.get('host', '')}"}):
        raise HTTPException(403, "This site may not embed the tutor: add its origin to ALLOWED_ORIGINS.")
    identity = access.identify(request.cookies, None) or getattr(request.state, "visitor", None)
    if identity is None:
        login = LoginNeeded(detail="Log in to the tutor to ask it about the book.", login_url=LOGIN_PATH)
        return JSONResponse(login.model_dump(), 401)
    return {"accessToken": access.widget_token(identity)}
