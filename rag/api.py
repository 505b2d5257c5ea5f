"""REST API: /api/v1/chat, /api/v1/chat/stream (server-sent events) and /api/v1/health.

Mounted on Chainlit's FastAPI app by `app.py`; the tutor comes from `app.state.tutors` (a `TutorHolder`).
Failures of Qdrant or the LLM answer 503 with the reason; the server stays up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, field_validator
from sse_starlette.sse import EventSourceResponse

from rag.check import check_llm, check_qdrant
from rag.providers import choose_provider
from rag.tutor import Answer, Tutor, TutorError, clean_question

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")


class ChatRequest(BaseModel):
    content: str
    chat_id: str | None = None

    @field_validator("content")
    @classmethod
    def _clean(cls, value: str) -> str:
        return clean_question(value)


def answer_json(answer: Answer, chat_id: str) -> dict:
    return {
        "answer": answer.text,
        "sources": [
            {
                "n": s.n,
                "title": s.passage.title,
                "section": s.passage.breadcrumb,
                "url": s.passage.url,
                "path": s.passage.source_path,
                "score": round(s.passage.similarity, 4),
                "text": s.passage.text,
            }
            for s in answer.sources
        ],
        "cited": answer.cited,
        "covered": answer.covered,
        "coverage": answer.coverage_reason,
        "sentences": [
            {"text": s.text, "cites": s.cites, "supported": s.supported, "score": round(s.score, 3)}
            for s in answer.sentences
        ],
        "grounded": None if answer.grounded is None else round(answer.grounded, 3),
        "processing_time_ms": answer.processing_time_ms,
        "model": answer.model,
        "chat_id": chat_id,
    }


async def _tutor(request: Request) -> Tutor:
    try:
        return await request.app.state.tutors.get()
    except TutorError as exc:
        raise HTTPException(503, detail=str(exc)) from None


@router.post("/chat")
async def chat(body: ChatRequest, request: Request) -> dict:
    tutor, chat_id = await _tutor(request), body.chat_id or str(uuid.uuid4())
    try:
        answer = await tutor.answer(body.content, chat_id)
    except TutorError as exc:
        raise HTTPException(503, detail=str(exc)) from None
    return answer_json(answer, chat_id)


@router.post("/chat/stream")
async def chat_stream(body: ChatRequest, request: Request) -> EventSourceResponse:
    tutor, chat_id = await _tutor(request), body.chat_id or str(uuid.uuid4())

    async def events() -> AsyncIterator[dict]:
        try:
            async for event in tutor.answer_stream(body.content, chat_id):
                if isinstance(event, str):
                    yield {"event": "delta", "data": json.dumps({"text": event})}
                elif isinstance(event, Answer):
                    yield {"event": "answer", "data": json.dumps(answer_json(event, chat_id))}
        except TutorError as exc:
            yield {"event": "error", "data": json.dumps({"status": 503, "detail": str(exc), "service": exc.kind})}

    return EventSourceResponse(events())


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    try:
        tutor = await request.app.state.tutors.get()
    except TutorError as exc:
        return JSONResponse({"status": f"down: {exc.kind}", exc.kind: {"ok": False, "detail": str(exc)}}, 503)
    qdrant, llm = await asyncio.gather(
        asyncio.to_thread(check_qdrant, tutor.store),
        asyncio.to_thread(check_llm, choose_provider(tutor.settings), tutor.settings.qdrant_timeout),
    )
    status = {
        "qdrant": {"ok": qdrant.status == "OK", "detail": qdrant.detail},
        "llm": {"ok": llm.status == "OK", "detail": llm.detail},
    }
    down = [name for name, s in status.items() if not s["ok"]]
    return JSONResponse(
        {"status": "ok" if not down else f"down: {', '.join(down)}", **status}, status_code=503 if down else 200
    )


def mount_api(app: FastAPI) -> None:
    """Add the API routes ahead of Chainlit's catch-all GET route, which would otherwise answer /api/v1/health."""
    before = list(app.router.routes)
    app.include_router(router)
    ours = [route for route in app.router.routes if not any(route is old for old in before)]
    app.router.routes[:] = ours + before
