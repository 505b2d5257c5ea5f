"""The report's reads of the history database, one query a function: each returns the rows of the period the
report needs, nothing computed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from rag.db.schema import answers, feedbacks, quiz_attempts, quiz_items
from rag.report.shown import LOW_GROUNDING, RECENT, Period

Rows = Sequence[Any]
# An answer as the instructor reads it, in the flagged list and the recent one alike.
SHOWN = (answers.c.createdAt, answers.c.owner, answers.c.question, answers.c.answer, answers.c.sources, answers.c.model)


def _in(period: Period) -> Any:
    since, until = period.bounds
    return and_(answers.c.createdAt >= since, answers.c.createdAt < until)


async def answered(connection: AsyncConnection, period: Period) -> Rows:
    """Every answer of the period with what the tallies count: its sources, profile, model, coverage, claims
    and unsupported sentences, and the student's vote (0 down, 1 up, None)."""
    votes = select(feedbacks.c.forId, func.min(feedbacks.c.value).label("value")).group_by(feedbacks.c.forId)
    votes_sub = votes.subquery()
    query = (
        select(
            answers.c.createdAt,
            answers.c.sources,
            answers.c.profile,
            answers.c.model,
            answers.c.covered,
            answers.c.claims,
            answers.c.unsupported,
            votes_sub.c.value,
        )
        .select_from(answers.outerjoin(votes_sub, votes_sub.c.forId == answers.c.stepId))
        .where(_in(period))
        .order_by(answers.c.createdAt)  # oldest first: a renamed page is shown by its latest name
    )
    return (await connection.execute(query)).all()


async def gaps(connection: AsyncConnection, period: Period) -> Rows:
    """The questions the book could not answer, with their vectors: refused, or with few sentences supported."""
    query = select(answers.c.question, answers.c.covered, answers.c.similarity, answers.c.vector).where(
        _in(period),
        answers.c.vector.is_not(None),
        answers.c.language.is_(None),  # asked in another language: the book may well cover it
        or_(answers.c.covered.is_(False), answers.c.grounded < LOW_GROUNDING),
    )
    return (await connection.execute(query)).all()


async def quiz_results(connection: AsyncConnection, period: Period) -> Rows:
    """Every quiz attempt of the period with its item's section, passage, question, key and sentence."""
    since, until = period.bounds
    query = (
        select(
            quiz_items.c.section,
            quiz_items.c.passage,
            quiz_items.c.question,
            quiz_items.c.answer,
            quiz_items.c.sentence,
            quiz_attempts.c.correct,
        )
        .join(quiz_items, quiz_items.c.id == quiz_attempts.c.itemId)
        .where(quiz_attempts.c.createdAt >= since, quiz_attempts.c.createdAt < until)
        .order_by(quiz_attempts.c.createdAt)  # oldest first: a renamed page is shown by its latest name
    )
    return (await connection.execute(query)).all()


async def flagged(connection: AsyncConnection, period: Period) -> Rows:
    """The answers a student voted down, the unreviewed first, then the newest."""
    query = (
        select(answers.c.id, *SHOWN, answers.c.grounded, answers.c.reviewed, feedbacks.c.comment)
        .join(feedbacks, feedbacks.c.forId == answers.c.stepId)
        .where(_in(period), feedbacks.c.value == 0)
        .order_by(answers.c.reviewed, answers.c.createdAt.desc())
    )
    return (await connection.execute(query)).all()


async def recent(connection: AsyncConnection, period: Period) -> Rows:
    """The period's newest `RECENT` answers, the newest first."""
    query = (
        select(*SHOWN, answers.c.covered, answers.c.unsupported, answers.c.offPoint, answers.c.grounded)
        .where(_in(period))
        .order_by(answers.c.createdAt.desc())
        .limit(RECENT)
    )
    return (await connection.execute(query)).all()
