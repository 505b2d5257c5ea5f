"""The instructor's report of a period, read in one connection (`rag.report.queries`), counted
(`rag.report.tallies`) and grouped (`rag.report.gaps`); and a flagged answer marked reviewed."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import update

from rag.db.database import Database, database_faults
from rag.db.schema import answers
from rag.report import queries, tallies
from rag.report.gaps import Nearest, gaps_of
from rag.report.shown import Flagged, Period, Report, shown_student

Passages = Callable[[list[str]], dict[str, dict]]  # passage ids -> their payloads


@database_faults
async def build_report(
    database: Database, period: Period, nearest: Nearest, passages: Passages, show_identities: bool = False
) -> Report:
    """Everything the page shows for the period. `nearest` finds a book section for a vector; `passages` reads
    passage payloads by id (for the texts of cited and flagged passages)."""
    engine = await database.ready()
    async with engine.connect() as connection:
        answered = await queries.answered(connection, period)
        gap_rows = await queries.gaps(connection, period)
        quiz_rows = await queries.quiz_results(connection, period)
        flagged_rows = await queries.flagged(connection, period)
        recent_rows = await queries.recent(connection, period)
    activity = tallies.Activity.of(answered)
    flagged_sources = [json.loads(row.sources) for row in flagged_rows]
    top = activity.sections.most_common(tallies.TOP)
    wanted = {activity.section_ids[key] for key, _ in top} | {s["id"] for group in flagged_sources for s in group}
    texts = {pid: payload.get("text", "") for pid, payload in passages(sorted(wanted)).items()}
    recent = tallies.answered(recent_rows, show_identities)
    return Report(
        period=period,
        questions=len(answered),
        refused=sum(not row.covered for row in answered),
        per_day=tallies.per_day(period, activity.days),
        per_chapter=activity.chapters.most_common(),
        gaps=gaps_of(gap_rows, nearest),
        sections=activity.top_sections(texts),
        pages=activity.top_pages(),
        flagged=[
            Flagged(
                row.id,
                row.createdAt[:16].replace("T", " "),
                shown_student(row.owner, show_identities),
                row.question,
                row.answer,
                row.comment or "",
                row.model,
                row.grounded,
                bool(row.reviewed),
                [{**s, "text": texts.get(s["id"], "")} for s in sources],
            )
            for row, sources in zip(flagged_rows, flagged_sources, strict=True)
        ],
        models=activity.models(),
        quiz=tallies.quiz(quiz_rows),
        off_point=tallies.off_point(recent, recent_rows),
        recent=recent,
    )


@database_faults
async def mark_reviewed(database: Database, answer_id: str, reviewed: bool = True) -> bool:
    engine = await database.ready()
    async with engine.begin() as connection:
        result = await connection.execute(update(answers).where(answers.c.id == answer_id).values(reviewed=reviewed))
    return bool(result.rowcount)


class Reports:
    """The instructor's side of the answers: a period's report, and a flagged answer marked reviewed."""

    def __init__(self, database: Database, nearest: Nearest, passages: Passages):
        self.database, self.nearest, self.passages = database, nearest, passages

    async def report(self, period: Period, show_identities: bool = False) -> Report:
        return await build_report(self.database, period, self.nearest, self.passages, show_identities)

    async def mark_reviewed(self, answer_id: str, reviewed: bool = True) -> bool:
        """False when no such answer."""
        return await mark_reviewed(self.database, answer_id, reviewed)
