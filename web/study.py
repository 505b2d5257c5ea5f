"""Study mode over REST, for other clients and for checking (`rag.study`):

- `POST /api/v1/quiz`: a quiz on a page of the book (`section`: its path or URL) or on a chat's latest question
  (`chat_id`, which must be the caller's), its items with their answer keys and the passages they cite;
- `POST /api/v1/quiz/{id}/answer`: one of the caller's items graded, kept with its next review, and after a
  wrong answer another item of the same section;
- `GET /api/v1/review`: the caller's items due for review.

The same identities, ownership and rate limit as `/chat`: another identity's item or chat is "not found".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rag.study.items import Item
from rag.study.service import Graded, NothingAsked, PageNotFound, QuizError
from web.dependencies import AccessDep, StudyDep
from web.rest import ERRORS, PREFIX, UUID_PATTERN, CitedPassage, caller, within_limit

router = APIRouter(prefix=PREFIX)


class QuizRequest(BaseModel):
    # The schema says what the validator below checks: a page or a chat, at least one of them given.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["section"], "properties": {"section": {"type": "string"}}},
                {"required": ["chat_id"], "properties": {"chat_id": {"type": "string"}}},
            ]
        }
    )

    section: str | None = Field(
        None, min_length=1, max_length=2000, description="A page of the book: its path in the docs or its URL."
    )
    chat_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9._:-]{1,128}$", description="Quiz on this chat's latest question (yours)."
    )
    n: int = Field(5, ge=1, le=20, description="How many items at most.")

    @model_validator(mode="after")
    def _says_what(self) -> QuizRequest:
        if self.section is None and self.chat_id is None:
            raise ValueError("give `section` (a page's path or URL) or `chat_id` (a chat with a question)")
        return self


class QuizSource(CitedPassage):
    n: int


class ItemOut(BaseModel):
    id: str
    kind: str = Field(description="free (in your own words), choice (multiple choice) or fill (fill in the blank)")
    question: str
    choices: list[str] | None
    answer: str = Field(description="The answer key.")
    sentence: str = Field(description="The book's sentence that makes the answer right.")
    cites: list[int] = Field(description="The sources the answer key cites.")
    sources: list[QuizSource]


class QuizResponse(BaseModel):
    items: list[ItemOut]


class AnswerRequest(BaseModel):
    response: str = Field(max_length=4000, description="The answer: words, or a choice's text or letter (A-D).")


class AnswerResponse(BaseModel):
    correct: bool
    feedback: str = Field(description="What matches and what the book says, citing [1].")
    cites: list[int]
    sources: list[QuizSource]
    due: datetime = Field(description="When the item comes back for review.")
    follow_up: ItemOut | None = Field(description="After a wrong answer: another item of the same section.")


def item_json(item: Item) -> ItemOut:
    return ItemOut(
        id=item.id,
        kind=item.kind,
        question=item.question,
        choices=list(item.choices) or None,
        answer=item.answer,
        sentence=item.sentence,
        cites=[1],
        sources=[QuizSource(n=1, **CitedPassage.fields(item.passage))],
    )


@router.post("/quiz", response_model=QuizResponse, responses=ERRORS)
async def quiz(body: QuizRequest, request: Request, access: AccessDep, study: StudyDep) -> dict:
    """A quiz of the book's own sentences: a free-response item first, then multiple choice and fill-in."""
    identity = caller(request, access)
    await within_limit(request, access, identity)
    try:
        items = await study.quiz(identity.id, body.n, section=body.section, chat_id=body.chat_id)
    except (PageNotFound, NothingAsked) as exc:  # no such page, or no question in the chat to quiz on
        raise HTTPException(404, str(exc)) from None
    except QuizError as exc:
        raise HTTPException(422, str(exc)) from None
    return QuizResponse(items=[item_json(item) for item in items]).model_dump()


@router.post("/quiz/{item_id}/answer", response_model=AnswerResponse, responses=ERRORS)
async def answer(
    item_id: Annotated[str, Path(pattern=UUID_PATTERN, description="An item of one of your quizzes.")],
    body: AnswerRequest,
    request: Request,
    access: AccessDep,
    study: StudyDep,
) -> dict:
    """Grade an answer: the key in any case or inflection is right; a free response is compared with the book."""
    identity = caller(request, access)
    await within_limit(request, access, identity)  # as an answer typed in the chat is
    return graded_out(await study.answer(identity.id, item_id, body.response)).model_dump()


def graded_out(graded: Graded) -> AnswerResponse:
    """A graded answer as REST and the MCP server give it."""
    return AnswerResponse(
        correct=graded.grade.correct,
        feedback=graded.grade.feedback,
        cites=[1],
        sources=item_json(graded.item).sources,
        due=graded.due,
        follow_up=item_json(graded.follow_up) if graded.follow_up else None,
    )


@router.get("/review", response_model=QuizResponse, responses=ERRORS)
async def review(request: Request, access: AccessDep, study: StudyDep) -> dict:
    """Your items due for review now: the ones you missed come back first, then at growing intervals."""
    identity = caller(request, access)
    due = await study.due(identity.id)
    return QuizResponse(items=[item_json(item) for item in due]).model_dump()
