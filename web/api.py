"""REST API: /api/v1/chat, /api/v1/chat/stream (server-sent events), /api/v1/health and the element files.

Mounted on Chainlit's FastAPI app by `app.py`; the engine's services come from `app.state.engines` (an
`EngineHolder`, `web.dependencies`), who may do what from `app.state.access` (an `Access`). Callers are
identities like browsers: the visitor cookie in zero config, a bearer token when login is configured (401
without). A chat belongs to its creator (another
identity's `chat_id` is 404); questions are rate-limited per identity (429 with Retry-After). Failures of Qdrant,
the LLM or the database answer 503 with the reason; the server stays up. Bodies are capped in size, invalid
input gets 422 without the input echoed back, unknown paths and methods under /api/v1 get JSON 404/405 (not
Chainlit's page), and error texts never show local file paths.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from sse_starlette.sse import EventSourceResponse

from ingest.handoff import Handoff
from rag.answer.result import MAX_QUESTION_CHARS, Answer, clean_question
from rag.chats.history import ChatNotFound
from rag.config import Settings
from rag.db.database import Database
from rag.engine import Engine, EngineHolder
from rag.errors import ServiceError, TutorError
from rag.health import check_database, check_llm, store_checks
from rag.llm.providers import ProfileNotAllowed, ProviderName, choose_provider
from rag.search.passage import SearchResult
from rag.study.service import ItemNotFound
from rag.tutor import Tutor
from web.access import Access
from web.book import PATH as BOOK_PATH
from web.book import BookSite
from web.dependencies import AccessDep, AnswersDep, CitationsDep, EnginesDep, HistoryDep
from web.feedback import router as feedback_router
from web.ingesting import router as ingest_router
from web.instructor import PAGE as INSTRUCTOR_PAGE
from web.instructor import router as instructor_router
from web.mcp_server import PATH as MCP_PATH
from web.mcp_server import BookServer, McpDoor
from web.middleware import BodyLimit, EndedLogins, LoginAttempts, OfflinePage, SecurityHeaders, VisitorCookies
from web.openai_compat import MAX_BODY_BYTES as OPENAI_MAX_BODY_BYTES
from web.openai_compat import PREFIX as OPENAI_PREFIX
from web.openai_compat import router as openai_router
from web.outputs import NO_PASSAGE, ChatResponse, PassageOut, answer_json, passage_out
from web.reading import ReadingIn
from web.rest import ERRORS, NO_CHAT, NO_ITEM, PREFIX, UUID_PATTERN, allowed_methods, caller, public, within_limit
from web.study import router as study_router
from web.widget import WidgetRequests, bundle_router
from web.widget import router as widget_router

log = logging.getLogger(__name__)
router = APIRouter(prefix=PREFIX)

MAX_BODY_BYTES = 64 * 1024  # a 4,000-character question in JSON is far below this


class ChatRequest(BaseModel):
    # The schema states the limits; `clean_question` enforces them, with messages that say what to do.
    content: str = Field(
        description="The question: up to 4,000 characters, control characters removed.",
        json_schema_extra={"maxLength": MAX_QUESTION_CHARS, "pattern": r"[^\s\x00-\x1f\x7f\x85\ufeff]"},
    )
    chat_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._:-]{1,128}$",
        description="Pass back the chat_id of an answer to ask a follow-up question in the same chat.",
    )
    profile: ProviderName | None = Field(
        None, description="Who answers: a provider you may use (403 lists them); unset: your default."
    )
    reading: ReadingIn | None = Field(None, description="The page being read: its passages lead when they answer.")

    @field_validator("content")
    @classmethod
    def _clean(cls, value: str) -> str:
        return clean_question(value)


class ChatOut(BaseModel):
    id: str
    name: str
    active: str = Field(description="when its last message was written (ISO 8601)")


class ChatsOut(BaseModel):
    chats: list[ChatOut]


class ServiceHealth(BaseModel):
    ok: bool
    detail: str


class HealthResponse(BaseModel):
    status: str
    qdrant: ServiceHealth
    llm: ServiceHealth | None = None
    database: ServiceHealth | None = None
    rate_limits: ServiceHealth | None = None


async def _ask(
    request: Request, body: ChatRequest, access: Access, answers: Tutor
) -> tuple[AsyncIterator[SearchResult | str | Answer], str]:
    """The answer's events and its chat: who asks is checked, within their rate limit, before any stream starts
    (a chat of another's or a profile not theirs raises, which the app answers with 404 or 403)."""
    identity = caller(request, access)
    await within_limit(request, access, identity)
    chat_id = body.chat_id or str(uuid.uuid4())
    events = await answers.ask(
        body.content,
        chat_id,
        provider_name=body.profile,
        owner=identity.id,
        role=identity.role,
        reading=body.reading.reading() if body.reading else None,
    )
    return events, chat_id


@router.post("/chat", response_model=ChatResponse, responses=ERRORS)
async def chat(body: ChatRequest, request: Request, response: Response, access: AccessDep, answers: AnswersDep) -> dict:
    """Ask a question; the answer comes with its sources and each sentence checked against them. An answer the
    history could not keep says so in `kept` and in the `X-Answer-Kept: false` header."""
    events, chat_id = await _ask(request, body, access, answers)
    answer = [event async for event in events if isinstance(event, Answer)]
    response.headers["X-Answer-Kept"] = "false" if answer[-1].not_kept else "true"
    return answer_json(answer[-1], chat_id)


@router.post(
    "/chat/stream",
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "delta events, then answer"}},
)
async def chat_stream(
    body: ChatRequest, request: Request, access: AccessDep, answers: AnswersDep
) -> EventSourceResponse:
    """The same answer as server-sent events: `delta` events with text, then one `answer` event (or `error`)."""
    answer_events, chat_id = await _ask(request, body, access, answers)

    async def events() -> AsyncIterator[dict]:
        try:
            async for event in answer_events:
                if isinstance(event, str):
                    yield {"event": "delta", "data": json.dumps({"text": event})}
                elif isinstance(event, Answer):
                    yield {"event": "answer", "data": json.dumps(answer_json(event, chat_id))}
        except TutorError as exc:
            error = {"status": 503, "detail": public(str(exc)), "service": exc.kind}
            yield {"event": "error", "data": json.dumps(error)}

    return EventSourceResponse(events())


@router.get("/passages/{passage_id}", response_model=PassageOut, responses=ERRORS)
async def passage(
    passage_id: Annotated[str, Path(pattern=UUID_PATTERN, description="A source's passage id (a UUID).")],
    request: Request,
    access: AccessDep,
    citations: CitationsDep,
) -> dict:
    """One passage of the book, as an answer's citation opens it (the book widget marks it in the page): as the
    book holds it, or as it was when the answer cited it, if the book has changed since (`current` false)."""
    caller(request, access)
    opened = await citations.open(passage_id)
    if opened is None:
        raise HTTPException(404, NO_PASSAGE)
    return passage_out(passage_id, opened).model_dump()


@router.get("/chats", response_model=ChatsOut, responses=ERRORS)
async def chat_list(
    request: Request, access: AccessDep, history: HistoryDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> dict:
    """The caller's chats in the chat UI, the app's and the book widget's alike, most recently active first."""
    identity = caller(request, access)
    found = await history.threads(identity.id, limit)
    return ChatsOut(chats=[ChatOut(id=t.id, name=t.name, active=t.active) for t in found]).model_dump()


@router.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
async def health(engines: EnginesDep, access: AccessDep) -> JSONResponse:
    """200 when the store holds the book, the model answers, and the database and the rate limits' store (Redis,
    with REDIS_URL) do; 503 naming what is down and the fix."""
    try:
        engine = await engines.get()
    except TutorError as exc:
        unusable = {"ok": False, "detail": public(str(exc))}
        return JSONResponse({"status": f"down: {exc.kind}", "qdrant": unusable}, 503)
    checks, llm, database, (limits_ok, limits) = await asyncio.gather(
        asyncio.to_thread(store_checks, engine.store, engine.settings),
        asyncio.to_thread(check_llm, choose_provider(engine.settings), server=engine.local_server),
        check_database(engine.database),
        access.limiter.reachable(),
    )
    failed = [c for c in checks if c.status != "OK"]
    qdrant = {"ok": not failed, "detail": public(failed[0].detail if failed else checks[0].detail)}
    status = {
        "qdrant": qdrant,
        "llm": {"ok": llm.status == "OK", "detail": public(llm.detail)},
        "database": {"ok": database.status == "OK", "detail": public(database.detail)},
        "rate_limits": {"ok": limits_ok, "detail": public(limits)},
    }
    down = [name for name, s in status.items() if not s["ok"]]
    body = {"status": "ok" if not down else f"down: {', '.join(down)}", **status}
    return JSONResponse(body, status_code=503 if down else 200)


@router.get("/files/{object_key:path}", include_in_schema=False)
async def element_file(object_key: str, access: AccessDep, expires: int = 0, signature: str = "") -> Response:
    """A stored element (a cited passage of an earlier answer), for a URL the data layer signed."""
    storage = access.storage
    if not storage.verify(object_key, expires, signature):
        raise HTTPException(403, "This link has expired or is not valid: reopen the chat.")
    try:
        content, mime = await storage.read(object_key)
    except (FileNotFoundError, ValueError):
        raise HTTPException(404, "This file is no longer stored.") from None
    return Response(content, media_type=mime, headers={"Cache-Control": "private, max-age=3600"})


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def unknown(path: str, request: Request) -> JSONResponse:
    """Anything else under /api/v1: 405 for a known path with another method, else 404 (never the chat page)."""
    if allowed := allowed_methods([router, widget_router, study_router], request.url.path):
        return JSONResponse({"detail": "Method not allowed"}, 405, headers={"Allow": ", ".join(allowed)})
    return JSONResponse({"detail": f"No such endpoint: {PREFIX}/{path[:100]}"}, 404)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    """Any route whose store, model, embeddings or database failed: 503 with what to do (the one translation)."""
    return JSONResponse({"detail": public(str(exc))}, 503)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    """A chat or a quiz item that is not the caller's (another identity's is "not found" too)."""
    return JSONResponse({"detail": NO_CHAT if isinstance(exc, ChatNotFound) else NO_ITEM}, 404)


async def _not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """A profile the caller's role may not use: 403 naming the ones it may."""
    return JSONResponse({"detail": str(exc)}, 403)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with where and why, never the input itself (it may be huge, or someone else's text)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors]
    return JSONResponse({"detail": detail}, 422)


@dataclass(frozen=True)
class Mounted:
    """What the app keeps of `mount_api`: who may do what, the engine, and (embedded store) the ingest handoff."""

    access: Access
    engines: EngineHolder
    handoff: Handoff | None


def mount_api(
    app: FastAPI, settings: Settings, database: Database, factory: Callable[[Settings], Engine] | None = None
) -> Mounted:
    """The one app factory, for Chainlit's app and the tests' alike: who may do what (`Access`) and the engine
    (`factory`, by default the store and models the settings name, on `database`), kept on the app's state for the
    routes (`web.dependencies`); the API routes and the book ahead of Chainlit's catch-all GET route, which would
    otherwise answer /api/v1/health (and ahead of Chainlit's feedback routes, which ours replace), the middlewares
    and the error handlers."""
    access = Access.from_settings(settings, database)
    engines = EngineHolder(settings, factory or (lambda s: Engine.from_settings(s, database)))
    handoff = None if settings.uses_cloud else Handoff(settings.data_dir)  # `web.ingesting`
    app.state.access, app.state.engines, app.state.handoff = access, engines, handoff
    before = list(app.router.routes)
    app.include_router(instructor_router)
    app.include_router(feedback_router)
    app.include_router(widget_router)
    app.include_router(bundle_router)
    app.include_router(study_router)
    app.include_router(ingest_router)
    app.include_router(router)
    app.include_router(openai_router)
    mcp = BookServer(engines, access)
    door = McpDoor(mcp, access)  # an ASGI app: Starlette's Route passes it the request's scope as it is
    app.add_route(MCP_PATH, door, methods=["GET", "POST", "DELETE"], include_in_schema=False)  # type: ignore[arg-type]
    _run_with(app, mcp.session_manager.run)
    if access.settings.book_dir is not None:
        app.mount(BOOK_PATH, BookSite(access.settings.book_dir))
    ours = [route for route in app.router.routes if not any(route is old for old in before)]
    app.router.routes[:] = ours + before
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(ChatNotFound, _not_found)
    app.add_exception_handler(ItemNotFound, _not_found)
    app.add_exception_handler(ProfileNotAllowed, _not_allowed)
    app.add_middleware(BodyLimit, prefix=PREFIX + "/", max_bytes=MAX_BODY_BYTES)
    app.add_middleware(BodyLimit, prefix=MCP_PATH, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(BodyLimit, prefix=OPENAI_PREFIX + "/", max_bytes=OPENAI_MAX_BODY_BYTES)
    app.add_middleware(VisitorCookies, access=access)
    app.add_middleware(LoginAttempts, access=access)
    app.add_middleware(EndedLogins, access=access)
    app.add_middleware(
        SecurityHeaders, unframed=(INSTRUCTOR_PAGE, f"{PREFIX}/instructor"), own_frames=(BOOK_PATH + "/",)
    )
    app.add_middleware(WidgetRequests)
    app.add_middleware(
        OfflinePage, skip=(BOOK_PATH + "/", INSTRUCTOR_PAGE, PREFIX + "/", MCP_PATH, OPENAI_PREFIX + "/")
    )
    return Mounted(access, engines, handoff)


def _run_with(app: FastAPI, running: Callable[[], AbstractAsyncContextManager[None]]) -> None:
    """`running` held open for as long as the app serves, inside its own lifespan (Chainlit's, or none)."""
    lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def both(served: Any) -> AsyncIterator[Any]:
        async with running(), lifespan(served) as state:
            yield state

    app.router.lifespan_context = both
