"""Feedback on an answer, by the chat's owner only. Chainlit's own `PUT`/`DELETE /feedback` take any message
or feedback id from any logged-in caller, and feedback feeds the instructor's flagged answers; these routes,
ahead of Chainlit's, check that the message and the feedback are in the caller's own chats first.
"""

from __future__ import annotations

from chainlit.data import get_data_layer
from chainlit.types import DeleteFeedbackRequest, UpdateFeedbackRequest
from fastapi import APIRouter, HTTPException, Request

from web.datalayer import TutorDataLayer
from web.dependencies import AccessDep

router = APIRouter()
NOT_YOURS = "No such message in your chats."


def _layer_and_caller(request: Request, access: AccessDep) -> tuple[TutorDataLayer, str]:
    identity = access.identify(request.cookies, request.headers.get("authorization"))
    if identity is None:
        raise HTTPException(401, "Log in first.")
    layer = get_data_layer()
    assert isinstance(layer, TutorDataLayer), "app.py registers the tutor's data layer"
    return layer, identity.id


@router.put("/feedback", include_in_schema=False)
async def update_feedback(request: Request, access: AccessDep, update: UpdateFeedbackRequest) -> dict:
    layer, caller = _layer_and_caller(request, access)
    feedback = update.feedback
    thread = await layer.thread_of_step(feedback.forId, caller)
    if thread is None or feedback.threadId not in (None, thread):
        raise HTTPException(404, NOT_YOURS)
    if feedback.id and not await layer.feedback_is_callers(feedback.id, caller, missing_ok=True):
        raise HTTPException(404, NOT_YOURS)
    feedback.threadId = thread
    return {"success": True, "feedbackId": await layer.upsert_feedback(feedback)}


@router.delete("/feedback", include_in_schema=False)
async def delete_feedback(request: Request, access: AccessDep, payload: DeleteFeedbackRequest) -> dict:
    layer, caller = _layer_and_caller(request, access)
    if not await layer.feedback_is_callers(payload.feedbackId, caller, missing_ok=False):
        raise HTTPException(404, NOT_YOURS)
    await layer.delete_feedback(payload.feedbackId)
    return {"success": True}
