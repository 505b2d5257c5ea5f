"""Typed FastAPI dependencies: what a route needs from the app, instead of untyped `request.app.state` reads.

`mount_api` puts the `Access` on the app's state and `app.py` the `TutorHolder`; routes ask for them by type.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.tutor import Tutor, TutorHolder
from web.access import Access


def _access(request: Request) -> Access:
    return request.app.state.access


def _tutors(request: Request) -> TutorHolder:
    return request.app.state.tutors


AccessDep = Annotated[Access, Depends(_access)]
TutorsDep = Annotated[TutorHolder, Depends(_tutors)]


async def _tutor(tutors: TutorsDep) -> Tutor:
    """The app's tutor; a failed start raises a ServiceError, which the app answers with 503."""
    return await tutors.get()


TutorDep = Annotated[Tutor, Depends(_tutor)]
