"""Typed FastAPI dependencies: what a route needs from the app, instead of untyped `request.app.state` reads.

`mount_api` puts the `Access` on the app's state and `app.py` the `EngineHolder`; routes ask for the engine's
services by type (`rag.engine`), each of which translates its own failures.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ingest.handoff import Handoff
from rag.chats.citations import Citations
from rag.chats.history import History
from rag.engine import Engine, EngineHolder
from rag.report.service import Reports
from rag.study.service import Study
from rag.tutor import Tutor
from web.access import Access


def _access(request: Request) -> Access:
    return request.app.state.access


def _engines(request: Request) -> EngineHolder:
    return request.app.state.engines


def _handoff(request: Request) -> Handoff | None:
    return request.app.state.handoff


AccessDep = Annotated[Access, Depends(_access)]
EnginesDep = Annotated[EngineHolder, Depends(_engines)]
HandoffDep = Annotated[Handoff | None, Depends(_handoff)]  # None with a Qdrant server


async def _engine(engines: EnginesDep) -> Engine:
    """The app's engine; a failed start raises a ServiceError, which the app answers with 503."""
    return await engines.get()


EngineDep = Annotated[Engine, Depends(_engine)]


def _answers(engine: EngineDep) -> Tutor:
    return engine.answers


def _study(engine: EngineDep) -> Study:
    return engine.study


def _history(engine: EngineDep) -> History:
    return engine.history


def _citations(engine: EngineDep) -> Citations:
    return engine.citations


def _reports(engine: EngineDep) -> Reports:
    return engine.reports


AnswersDep = Annotated[Tutor, Depends(_answers)]
StudyDep = Annotated[Study, Depends(_study)]
HistoryDep = Annotated[History, Depends(_history)]
CitationsDep = Annotated[Citations, Depends(_citations)]
ReportsDep = Annotated[Reports, Depends(_reports)]
