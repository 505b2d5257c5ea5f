"""What the instructor view shows: the report of a period and its parts, as typed records, and the thresholds
that decide what counts as a gap, a weak section or an answer off the point."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta

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
