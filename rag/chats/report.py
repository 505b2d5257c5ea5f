"""What the instructor view shows, read from the history database: activity, coverage gaps, the most cited
sections, flagged answers, supported answers off the point, and the quality of each model.

Coverage gaps are the questions the book could not answer (refused as not covered, or answered with a low
share of supported sentences), grouped by meaning with the question embeddings recorded at answer time (no
model runs here), each group with the book section nearest to it: the list of sections to write.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import and_, func, or_, select, update

from rag.db.database import Database, database_faults
from rag.db.schema import answers, feedbacks, quiz_attempts, quiz_items

# Below this share of supported sentences an answer counts as a gap, as a refusal does.
LOW_GROUNDING = 0.5
# A section whose quiz answers are right less often than this, over at least this many attempts, is weak: the
# view links it to the coverage gaps, since a section students keep missing may need rewriting.
WEAK_SHARE = 0.5
WEAK_ATTEMPTS = 3
MISSED = 3  # the most missed items shown per section
# Questions this close in meaning (cosine to a group's centre) are one gap.
GROUP_SIMILARITY = 0.5
# A refused question this far from every passage is about something else entirely: one "off-topic" group.
OFF_TOPIC_SIMILARITY = 0.3
EXAMPLES = 5
TOP = 10
RECENT = 1000  # answers of the period read for the list of recent questions
SHOWN = 50  # of those, the newest the filter keeps

Nearest = Callable[[list[float]], "tuple[str, str] | None"]  # a vector -> (section, url) of the book


@dataclass(frozen=True)
class Period:
    since: date
    until: date  # inclusive

    @classmethod
    def last(cls, days: int, today: date | None = None) -> Period:
        today = today or date.today()
        return cls(today - timedelta(days=days - 1), today)

    @property
    def bounds(self) -> tuple[str, str]:
        """ISO timestamps bracketing the period, comparable with the stored UTC `createdAt` strings."""
        return self.since.isoformat(), (self.until + timedelta(days=1)).isoformat()


@dataclass
class Gap:
    count: int
    refused: int
    low_grounding: int
    examples: list[str]
    section: str = ""
    url: str = ""
    off_topic: bool = False  # questions about something else than the book, gathered in one group


@dataclass
class Cited:
    label: str
    url: str
    count: int
    text: str = ""


@dataclass
class Flagged:
    answer_id: str
    created: str
    student: str
    question: str
    answer: str
    comment: str
    model: str
    grounded: float | None
    reviewed: bool
    sources: list[dict] = field(default_factory=list)  # {"n", "section", "url", "text"}


@dataclass
class OffPoint:
    """A supported answer that does not answer its question (`rag.answer.relevance`): invisible to the checker,
    so listed beside the flagged ones."""

    created: str
    student: str
    question: str
    answer: str
    reason: str
    model: str
    grounded: float | None


@dataclass
class Answered:
    """One recorded answer, as the list of recent questions shows it."""

    created: str
    student: str
    question: str
    answer: str
    sections: list[str]  # the cited sections
    model: str
    covered: bool
    unsupported: int  # sentences the checker flagged
    off_point: str  # why it misses its question (`rag.answer.relevance`), "" when it answers

    @property
    def verdict(self) -> str:
        return "refused" if not self.covered else "flagged" if self.unsupported else "supported"


@dataclass(frozen=True)
class AnswerFilter:
    """What the list of recent questions keeps: a cited section (part of its name), a verdict ("supported",
    "flagged", "refused") and whether it answers its question ("yes", "no"); empty keeps all."""

    section: str = ""
    verdict: str = ""
    answers: str = ""

    def keeps(self, answered: Answered) -> bool:
        section = not self.section or any(self.section.lower() in s.lower() for s in answered.sections)
        verdict = not self.verdict or answered.verdict == self.verdict
        answers = not self.answers or (self.answers == "yes") == (answered.covered and not answered.off_point)
        return section and verdict and answers


@dataclass
class ModelQuality:
    profile: str
    models: str
    answers: int
    refused: int
    thumbs_up: int
    thumbs_down: int
    supported: float | None  # share of claim sentences the passages support


@dataclass
class Missed:
    question: str
    answer: str
    sentence: str  # the book's sentence that makes the answer right
    url: str
    misses: int


@dataclass
class SectionQuiz:
    """A page's quiz results in the period."""

    title: str
    url: str
    attempts: int
    correct: int
    missed: list[Missed]

    @property
    def share(self) -> float:
        return self.correct / self.attempts if self.attempts else 0.0

    @property
    def weak(self) -> bool:
        return self.attempts >= WEAK_ATTEMPTS and self.share < WEAK_SHARE


@dataclass
class Report:
    period: Period
    questions: int
    refused: int
    per_day: list[tuple[str, int]]
    per_chapter: list[tuple[str, int]]
    gaps: list[Gap]
    sections: list[Cited]
    pages: list[Cited]
    flagged: list[Flagged]
    models: list[ModelQuality]
    quiz: list[SectionQuiz] = field(default_factory=list)  # the weakest first
    off_point: list[OffPoint] = field(default_factory=list)  # the newest first, among the `RECENT` newest answers
    recent: list[Answered] = field(default_factory=list)  # every answer of the period, the newest first

    def answered(self, keep: AnswerFilter, limit: int = SHOWN) -> list[Answered]:
        """The newest answers `keep` keeps."""
        return [a for a in self.recent if keep.keeps(a)][:limit]


def shown_student(owner: str, show_identities: bool) -> str:
    """A student as instructors see them: a stable anonymous id unless identities may be shown."""
    return owner if show_identities else "student-" + hashlib.sha256(owner.encode()).hexdigest()[:6]


def group_questions(vectors: np.ndarray, threshold: float = GROUP_SIMILARITY) -> list[list[int]]:
    """Leader clustering: each question joins the group whose centre is closest, if close enough, else starts
    one. Groups come back largest first."""
    groups: list[list[int]] = []
    sums: list[np.ndarray] = []
    centres = np.zeros((0, vectors.shape[1]), dtype=np.float32) if len(vectors) else np.zeros((0, 0))
    for i, vector in enumerate(vectors):
        if len(groups):
            similarities = centres @ vector
            best = int(np.argmax(similarities))
            if similarities[best] >= threshold:
                groups[best].append(i)
                sums[best] = sums[best] + vector
                centres[best] = sums[best] / np.linalg.norm(sums[best])
                continue
        groups.append([i])
        sums.append(vector.copy())
        centres = np.vstack([centres, vector / (np.linalg.norm(vector) or 1.0)])
    return sorted(groups, key=len, reverse=True)


@database_faults
async def build_report(
    database: Database,
    period: Period,
    nearest: Nearest,
    passages: Callable[[list[str]], dict[str, dict]],
    show_identities: bool = False,
) -> Report:
    """Everything the page shows for the period. `nearest` finds a book section for a vector; `passages` reads
    passage payloads by id (for the texts of cited and flagged passages)."""
    engine = await database.ready()
    since, until = period.bounds
    in_period = and_(answers.c.createdAt >= since, answers.c.createdAt < until)
    votes = select(feedbacks.c.forId, func.min(feedbacks.c.value).label("value")).group_by(feedbacks.c.forId)
    votes_sub = votes.subquery()
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
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
                .where(in_period)
            )
        ).all()
        gap_rows = (
            await connection.execute(
                select(answers.c.question, answers.c.covered, answers.c.similarity, answers.c.vector).where(
                    in_period,
                    answers.c.vector.is_not(None),
                    answers.c.language.is_(None),  # asked in another language: the book may well cover it
                    or_(answers.c.covered.is_(False), answers.c.grounded < LOW_GROUNDING),
                )
            )
        ).all()
        quiz_rows = (
            await connection.execute(
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
            )
        ).all()
        flagged_rows = (
            await connection.execute(
                select(
                    answers.c.id,
                    answers.c.createdAt,
                    answers.c.owner,
                    answers.c.question,
                    answers.c.answer,
                    answers.c.sources,
                    answers.c.model,
                    answers.c.grounded,
                    answers.c.reviewed,
                    feedbacks.c.comment,
                )
                .join(feedbacks, feedbacks.c.forId == answers.c.stepId)
                .where(in_period, feedbacks.c.value == 0)
                .order_by(answers.c.reviewed, answers.c.createdAt.desc())
            )
        ).all()

        recent_rows = (
            await connection.execute(
                select(
                    answers.c.createdAt,
                    answers.c.owner,
                    answers.c.question,
                    answers.c.answer,
                    answers.c.sources,
                    answers.c.model,
                    answers.c.covered,
                    answers.c.unsupported,
                    answers.c.offPoint,
                    answers.c.grounded,
                )
                .where(in_period)
                .order_by(answers.c.createdAt.desc())
                .limit(RECENT)
            )
        ).all()

    per_day: Counter[str] = Counter()
    per_chapter: Counter[str] = Counter()
    sections: Counter[tuple[str, str]] = Counter()
    pages: Counter[tuple[str, str]] = Counter()
    section_ids: dict[tuple[str, str], str] = {}
    quality: dict[str, dict] = defaultdict(
        lambda: {"answers": 0, "refused": 0, "up": 0, "down": 0, "claims": 0, "unsupported": 0, "models": set()}
    )
    for created, sources_json, profile, model, covered, claims, unsupported, vote in rows:
        per_day[created[:10]] += 1
        sources = json.loads(sources_json)
        per_chapter[_chapter(sources, covered)] += 1
        for source in sources:
            key = (source["section"], source["url"])
            sections[key] += 1
            section_ids.setdefault(key, source["id"])
        for page in {(s["section"].split(" › ")[0], s["url"].split("#")[0]) for s in sources}:
            pages[page] += 1
        entry = quality[profile]
        entry["answers"] += 1
        entry["refused"] += not covered
        entry["up"] += vote == 1
        entry["down"] += vote == 0
        entry["claims"] += claims
        entry["unsupported"] += unsupported
        if covered:
            entry["models"].add(model)

    top_sections = sections.most_common(TOP)
    flagged_sources = [json.loads(row.sources) for row in flagged_rows]
    wanted = {section_ids[key] for key, _ in top_sections} | {s["id"] for group in flagged_sources for s in group}
    texts = {pid: payload.get("text", "") for pid, payload in passages(sorted(wanted)).items()}
    recent = _answered(recent_rows, show_identities)
    return Report(
        period=period,
        questions=len(rows),
        refused=sum(not row.covered for row in rows),
        per_day=_days(period, per_day),
        per_chapter=per_chapter.most_common(),
        gaps=_gaps(gap_rows, nearest),
        sections=[Cited(label, url, n, texts.get(section_ids[(label, url)], "")) for (label, url), n in top_sections],
        pages=[Cited(label, url, n) for (label, url), n in pages.most_common(TOP)],
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
        models=[
            ModelQuality(
                profile,
                ", ".join(sorted(e["models"])) or "—",
                e["answers"],
                e["refused"],
                e["up"],
                e["down"],
                1 - e["unsupported"] / e["claims"] if e["claims"] else None,
            )
            for profile, e in sorted(quality.items(), key=lambda kv: -kv[1]["answers"])
        ],
        quiz=_quiz(quiz_rows),
        off_point=_off_point(recent, recent_rows),
        recent=recent,
    )


def _answered(rows: Sequence[Any], show_identities: bool) -> list[Answered]:
    return [
        Answered(
            row.createdAt[:16].replace("T", " "),
            shown_student(row.owner, show_identities),
            row.question,
            row.answer,
            list(dict.fromkeys(s["section"] for s in json.loads(row.sources))),
            row.model,
            bool(row.covered),
            row.unsupported,
            row.offPoint or "",
        )
        for row in rows
    ]


def _off_point(recent: list[Answered], rows: Sequence[Any]) -> list[OffPoint]:
    """The supported answers (most sentences supported) that miss their question, among the recent ones."""
    return [
        OffPoint(a.created, a.student, a.question, a.answer, a.off_point, a.model, row.grounded)
        for a, row in zip(recent, rows, strict=True)
        if a.covered and a.off_point and (row.grounded is None or row.grounded >= LOW_GROUNDING)
    ]


def _quiz(rows: Sequence[Any]) -> list[SectionQuiz]:
    """Quiz results per page: attempts, right answers and the most missed items, the weakest page first."""
    pages: dict[str, dict[str, Any]] = {}
    for section, passage_json, question, answer, sentence, correct in rows:
        passage = json.loads(passage_json)
        page = pages.setdefault(
            section,
            {"title": passage.get("title", section), "url": passage.get("url", "").split("#")[0], "rows": []},
        )
        page["rows"].append((question, answer, sentence, passage.get("url", ""), bool(correct)))
    found = []
    for page in pages.values():
        misses = Counter((q, a, s, u) for q, a, s, u, right in page["rows"] if not right)
        missed = [Missed(q, a, s, u, n) for (q, a, s, u), n in misses.most_common(MISSED)]
        right = sum(row[-1] for row in page["rows"])
        found.append(SectionQuiz(page["title"], page["url"], len(page["rows"]), right, missed))
    return sorted(found, key=lambda q: (q.share, -q.attempts))


def _chapter(sources: list[dict], covered: bool) -> str:
    """Where a question belongs in the book: the chapter of its first cited passage."""
    if not covered:
        return "Not covered"
    return (sources[0].get("chapter") or "Other") if sources else "Uncited"


def _days(period: Period, counts: Counter[str]) -> list[tuple[str, int]]:
    days = [(period.since + timedelta(days=i)).isoformat() for i in range((period.until - period.since).days + 1)]
    return [(day, counts.get(day, 0)) for day in days]


def _gaps(rows: Sequence[Any], nearest: Nearest) -> list[Gap]:
    """The off-topic questions in one group, the rest (near the book, yet not answered well) grouped by meaning,
    each with the book section nearest to it."""
    off_topic: list[Any] = []
    near: list[Any] = []
    for row in rows:
        (off_topic if not row.covered and (row.similarity or 0.0) < OFF_TOPIC_SIMILARITY else near).append(row)
    rows = near
    found = []
    vectors = np.vstack([np.frombuffer(row.vector, dtype=np.float32) for row in rows]) if rows else np.zeros((0, 0))
    for members in group_questions(vectors):
        centre = vectors[members].mean(axis=0)
        where = nearest((centre / (np.linalg.norm(centre) or 1.0)).tolist())
        refused = sum(not rows[i].covered for i in members)
        examples = list(dict.fromkeys(rows[i].question for i in members))[:EXAMPLES]
        found.append(Gap(len(members), refused, len(members) - refused, examples, *(where or ("", ""))))
    if off_topic:
        examples = list(dict.fromkeys(r.question for r in off_topic))[:EXAMPLES]
        found.append(Gap(len(off_topic), len(off_topic), 0, examples, off_topic=True))
    return found


@database_faults
async def mark_reviewed(database: Database, answer_id: str, reviewed: bool = True) -> bool:
    engine = await database.ready()
    async with engine.begin() as connection:
        result = await connection.execute(update(answers).where(answers.c.id == answer_id).values(reviewed=reviewed))
    return bool(result.rowcount)


class Reports:
    """The instructor's side of the answers: a period's report, and a flagged answer marked reviewed."""

    def __init__(self, database: Database, nearest: Nearest, passages: Callable[[list[str]], dict[str, dict]]):
        self.database, self.nearest, self.passages = database, nearest, passages

    async def report(self, period: Period, show_identities: bool = False) -> Report:
        return await build_report(self.database, period, self.nearest, self.passages, show_identities)

    async def mark_reviewed(self, answer_id: str, reviewed: bool = True) -> bool:
        """False when no such answer."""
        return await mark_reviewed(self.database, answer_id, reviewed)


def gaps_csv(report: Report) -> str:
    """The coverage gaps as CSV: one row a group."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["questions", "refused", "low_grounding", "nearest_section", "url", "examples"])
    for gap in report.gaps:
        texts = [gap.section, gap.url, " | ".join(gap.examples)]
        writer.writerow([gap.count, gap.refused, gap.low_grounding, *map(_inert, texts)])
    return out.getvalue()


def _inert(cell: str) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula (= + - @, tab, CR) gets a leading `'`
    (OWASP's advice for CSV injection), since students write the questions."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
