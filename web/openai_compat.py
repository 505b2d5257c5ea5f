"""An OpenAI-compatible endpoint, for what speaks `/v1/chat/completions` (Open WebUI, LibreChat, every OpenAI SDK):
the tutor's profiles are the models, and a completion is the tutor's answer, through `Tutor.ask` as REST asks.

- `GET /v1/models`: the profiles the caller may use (a role's, as the chat page offers them).
- `POST /v1/chat/completions`: the last message is the question; the earlier ones, as the client sends them, are
  the chat's memory. Streamed as OpenAI streams (SSE `chat.completion.chunk`s, then `[DONE]`) or not. The text
  keeps its `[n]` markers and ends with its sources and any sentence the book does not support; the same sources
  come as data in `sources`, which such clients show or ignore.
- The caller, the rate limit, the body limit and the profiles are REST's; a user's API token is the bearer key.
  Failures are said the OpenAI way, `{"error": {"message", "type", "param", "code"}}`, so its clients raise
  their own exceptions for them (401, 403, 404, 429, 503).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any, Literal, cast, get_args

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.answer.grounding import public_verdict
from rag.answer.result import MAX_QUESTION_CHARS, Answer, QuestionError, clean_question
from rag.chats.history import ChatNotFound, Exchange
from rag.errors import ServiceError, TutorError
from rag.llm.providers import ProfileNotAllowed, offered, provider
from rag.llm.specs import ProviderName
from web.dependencies import AccessDep, AnswersDep
from web.rest import allowed_methods, caller, public, within_limit

PREFIX = "/v1"
PROFILES: tuple[str, ...] = get_args(ProviderName)
MAX_BODY_BYTES = 512 * 1024  # a long conversation, sent whole with every question
CHATS = uuid.UUID("6f3c1f0e-8a52-4c3e-9b0d-2f4e7a1c5d90")  # the namespace of the chat ids made from conversations


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict] = {code: {"model": ErrorOut} for code in (400, 401, 403, 404, 413, 429, 503)}
# status -> (type, code), as OpenAI's API says them
_KINDS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "model_not_allowed"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    503: ("server_error", "service_unavailable"),
}


def error(status: int, message: str, headers: dict[str, str] | None = None, param: str | None = None) -> JSONResponse:
    kind, code = _KINDS.get(status, ("invalid_request_error", None))
    body = ErrorOut(error=ErrorBody(message=message, type=kind, param=param, code=code))
    return JSONResponse(body.model_dump(), status, headers=headers)


class OpenAIRoute(APIRoute):
    """A route whose every failure is said the OpenAI way, here, once (the app's handlers say REST's)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(part) for part in first.get("loc", ())[1:])
                return error(400, f"{where}: {first.get('msg', 'invalid')}", param=where or None)
            except StarletteHTTPException as exc:  # FastAPI's own (a body it cannot read) and ours
                return error(exc.status_code, str(exc.detail), dict(exc.headers or {}))
            except ProfileNotAllowed as exc:
                return error(403, str(exc))
            except ChatNotFound:
                return error(404, "No such conversation.")
            except ServiceError as exc:
                return error(503, public(str(exc)))

        return route


router = APIRouter(prefix=PREFIX, route_class=OpenAIRoute)


class ModelOut(BaseModel):
    id: ProviderName
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "textbook-tutor"
    name: str = Field(description="the profile's name, as the chat page shows it")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool calls...: read by no one here
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Annotated[str, Field(max_length=100_000)] | list[Part] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content if part.type == "text" and part.text)
        return self.content or ""


class CompletionRequest(BaseModel):
    # temperature, max_tokens, tools...: accepted and left alone, the tutor decides how it answers
    model_config = ConfigDict(extra="allow")
    model: str = Field(max_length=100, description="a profile GET /v1/models lists")
    messages: list[Message] = Field(min_length=1, max_length=500)
    stream: bool = False


class SourceRef(BaseModel):
    n: int
    title: str
    section: str
    url: str


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Completion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage = Usage()
    sources: list[SourceRef] = Field(description="the passages the answer's [n] markers cite")


@router.get("/models", response_model=ModelList, responses=ERRORS)
async def models(request: Request, access: AccessDep) -> dict:
    """The profiles the caller may use, as models."""
    identity = caller(request, access)
    settings = access.settings
    names = offered(settings, identity.role)
    return ModelList(data=[ModelOut(id=name, name=provider(settings, name).label) for name in names]).model_dump()


@router.post(
    "/chat/completions",
    response_model=Completion,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": "chunks when `stream` is true"}},
)
async def completions(body: CompletionRequest, request: Request, access: AccessDep, answers: AnswersDep) -> Any:
    """The tutor's answer to the last message, the earlier ones its memory: whole, or streamed."""
    identity = caller(request, access)
    if body.model not in PROFILES:
        raise HTTPException(404, f"The model `{body.model[:100]}` does not exist: GET {PREFIX}/models lists yours.")
    profile = cast(ProviderName, body.model)
    question, earlier = _conversation(body.messages)
    await within_limit(request, access, identity)
    chat_id = str(uuid.uuid5(CHATS, f"{identity.id}\n{earlier[0][0] if earlier else question}"))
    events = await answers.ask(
        question, chat_id, provider_name=profile, owner=identity.id, role=identity.role, earlier=earlier
    )
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if not body.stream:
        answer = [event async for event in events if isinstance(event, Answer)][-1]
        return Completion(
            id=completion_id,
            created=created,
            model=body.model,
            choices=[Choice(message=AssistantMessage(content=answer.text + footer(answer)))],
            sources=_sources(answer),
        ).model_dump()

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> dict:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": body.model}
        return {"data": json.dumps({**data, "choices": [choice], **extra})}

    async def stream() -> AsyncIterator[dict]:
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for event in events:
                if isinstance(event, str):
                    yield chunk({"content": event})
                elif isinstance(event, Answer):
                    yield chunk({"content": footer(event)})
                    sources = [s.model_dump() for s in _sources(event)]
                    yield chunk({}, "stop", sources=sources)
        except TutorError as exc:
            kind, code = _KINDS[503]
            yield {"data": json.dumps({"error": {"message": public(str(exc)), "type": kind, "code": code}})}
        yield {"data": "[DONE]"}

    return EventSourceResponse(stream())


@router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
async def unknown(path: str, request: Request) -> JSONResponse:
    """Anything else under /v1: 405 for a known path with another method; else (embeddings, images...) 404."""
    if allowed := allowed_methods([router], request.url.path):
        return error(405, "Method not allowed", {"Allow": ", ".join(allowed)})
    return error(404, f"No such endpoint: {PREFIX}/{path[:100]}; the tutor serves /v1/models and /v1/chat/completions.")


def _conversation(messages: list[Message]) -> tuple[str, list[Exchange]]:
    """The question (the last message, the student's) and the exchanges before it. System and tool messages
    are the client's, not the student's: they never reach the tutor (its instructions are its own)."""
    said = [m for m in messages if m.role in ("user", "assistant")]
    if not said or said[-1].role != "user":
        raise HTTPException(400, "The last message must be the student's (role `user`): it is the question.")
    try:
        question = clean_question(said[-1].text)
    except QuestionError as exc:
        raise HTTPException(400, str(exc)) from None
    earlier = [  # as long as a question may be, and a reply four times that: what a model reads is paid for
        (asked.text[:MAX_QUESTION_CHARS], reply.text[: 4 * MAX_QUESTION_CHARS])
        for asked, reply in zip(said[:-1], said[1:-1], strict=False)
        if asked.role == "user" and reply.role == "assistant"
    ]
    return question, earlier


def _sources(answer: Answer) -> list[SourceRef]:
    cited = answer.sources if answer.cited else []
    return [SourceRef(n=s.n, title=s.passage.title, section=s.passage.breadcrumb, url=s.passage.url) for s in cited]


def footer(answer: Answer) -> str:
    """What a client that shows only the text must still see: where each [n] points, and the sentences the book
    does not support (the chat page greys them; here they are named)."""
    lines = [f"[{s.n}] [{s.section}]({s.url})" if s.url else f"[{s.n}] {s.section}" for s in _sources(answer)]
    flagged = [s.text for s in answer.sentences if public_verdict(s) == "unsupported"]
    parts = ["Sources:\n" + "\n".join(f"- {line}" for line in lines)] if lines else []
    parts += [f"⚠ Not found in the book: “{text}”" for text in flagged]
    return "".join(f"\n\n{part}" for part in parts)
