"""`POST /api/v1/ingest`: `python -m ingest` handing its work to this app, which holds the embedded store
(`ingest.handoff`). Not part of the public API: loopback callers only, with the token the app wrote to
`DATA_DIR/ingest.json`; a Qdrant server needs none of this (ingest opens it beside the app)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ingest.handoff import BUSY, PATH, Busy
from ingest.pipeline import IngestOptions
from web.dependencies import EngineDep, HandoffDep

router = APIRouter()
log = logging.getLogger(__name__)


class IngestRequest(BaseModel):
    source: str = Field(description="The book's docs folder on this machine.")
    base_url: str
    chunk_size: int = Field(gt=0)
    chunk_overlap: int = Field(ge=0)
    batch_size: int = Field(gt=0)
    exclude: list[str] = []
    recreate: bool = False


@router.post(PATH, include_in_schema=False)
async def ingest(body: IngestRequest, request: Request, engine: EngineDep, handoff: HandoffDep) -> StreamingResponse:
    """The ingest's progress as JSON lines (`{"done", "total"}` per page), then its report (`{"failed",
    "summary"}`) or what stopped it (`{"error"}`)."""
    host = request.client.host if request.client else ""
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if handoff is None or not _loopback(host) or not handoff.admits(token):
        raise HTTPException(403, "Only `python -m ingest` on this machine, with the app's token, may ingest here.")
    opts = IngestOptions(
        Path(body.source),
        body.base_url,
        body.chunk_size,
        body.chunk_overlap,
        body.batch_size,
        tuple(body.exclude),
        body.recreate,
    )
    if not opts.source.is_dir():
        raise HTTPException(422, f"--source {body.source} is not a folder the app can read.")
    if handoff.busy():
        raise HTTPException(409, BUSY)
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def say(event: dict) -> None:
        loop.call_soon_threadsafe(lines.put_nowait, json.dumps(event) + "\n")

    def work() -> None:
        try:
            report = handoff.run(
                opts, engine.store, engine.embedder, lambda done, total: say({"done": done, "total": total})
            )
            say({"failed": report.failed, "summary": report.summary()})
        except (Busy, ValueError) as exc:  # another ingest came first; --recreate, or chunk sizes that do not fit
            say({"error": str(exc)})
        except Exception as exc:
            log.exception("a handed-off ingest failed")
            say({"error": f"{type(exc).__name__}: {exc}"})
        finally:
            loop.call_soon_threadsafe(lines.put_nowait, None)

    async def stream() -> AsyncIterator[str]:
        running = asyncio.create_task(asyncio.to_thread(work))  # goes on if the command is interrupted
        while (line := await lines.get()) is not None:
            yield line
        await running

    return StreamingResponse(stream(), media_type="application/x-ndjson")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
