"""`POST /api/v1/ingest`: `python -m ingest` handing its work to this app, which holds the embedded store
(`ingest.handoff`). Not part of the public API: loopback callers only, with the token the app wrote to
`DATA_DIR/ingest.json`; a Qdrant server needs none of this (ingest opens it beside the app)."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from ingest.handoff import PATH, Busy
from ingest.pipeline import IngestOptions
from web.dependencies import EngineDep, HandoffDep

router = APIRouter()


class IngestRequest(BaseModel):
    source: str = Field(description="The book's docs folder on this machine.")
    base_url: str
    chunk_size: int = Field(gt=0)
    chunk_overlap: int = Field(ge=0)
    batch_size: int = Field(gt=0)
    exclude: list[str] = []
    recreate: bool = False


class IngestResult(BaseModel):
    failed: list[tuple[str, str]]
    summary: str


@router.post(PATH, response_model=IngestResult, include_in_schema=False)
async def ingest(body: IngestRequest, request: Request, engine: EngineDep, handoff: HandoffDep) -> dict:
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
    try:
        report = await asyncio.to_thread(handoff.run, opts, engine.store, engine.embedder)
    except Busy as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:  # --recreate, or chunk sizes that do not fit
        raise HTTPException(422, str(exc)) from None
    return IngestResult(failed=report.failed, summary=report.summary()).model_dump()


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
