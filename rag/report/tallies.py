"""The report's rows counted into typed tallies: the answers per day, chapter, cited section and page, each
profile's quality, the quiz results per page, and the recent answers as the list shows them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rag.answer.result import SourceRecord
from rag.report.shown import (
    LOW_GROUNDING,
    MISSED,
    TOP,
    Answered,
    Cited,
    Missed,
    ModelQuality,
    OffPoint,
    Period,
    SectionQuiz,
    shown_student,
)

Place = tuple[str, str]  # (label, url) of a section or a page, as it was last cited
Section = tuple[str, str]  # (page, anchor): a section whatever its page is called now


def page_of(source: SourceRecord) -> str:
    """A cited page whatever it is called now: its Docusaurus id, which a page keeps across a new title, and
    across a new file name where its front matter sets `id`. Answers recorded without it fall back to the URL."""
    return source.get("doc_id") or source["url"].split("#")[0]


def section_of(source: SourceRecord) -> Section:
    return page_of(source), source["url"].partition("#")[2]


@dataclass
class ModelTally:
    """A profile's answers, refusals, votes and checked claims, and the models that answered for it."""

    answers: int = 0
    refused: int = 0
    up: int = 0
    down: int = 0
    claims: int = 0
    unsupported: int = 0
    models: set[str] = field(default_factory=set)

    def quality(self, profile: str) -> ModelQuality:
        supported = 1 - self.unsupported / self.claims if self.claims else None
        models = ", ".join(sorted(self.models)) or "—"
        return ModelQuality(profile, models, self.answers, self.refused, self.up, self.down, supported)


@dataclass
class Activity:
    """The period's answers counted: per day, per chapter, per cited section and page, and per profile."""

    days: Counter[str] = field(default_factory=Counter)
    chapters: Counter[str] = field(default_factory=Counter)
    sections: Counter[Section] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)
    places: dict[Section | str, Place] = field(default_factory=dict)  # each section's and page's latest name
    section_ids: dict[Section, str] = field(default_factory=dict)  # a passage of each section, for its text
    profiles: dict[str, ModelTally] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Sequence[Any]) -> Activity:
        """`rows` as `rag.report.queries.answered` reads them, oldest first."""
        activity = cls()
        for created, sources_json, profile, model, covered, claims, unsupported, vote in rows:
            sources = json.loads(sources_json)
            activity.days[created[:10]] += 1
            activity.chapters[_chapter(sources, covered)] += 1
            activity.cite(sources)
            tally = activity.profiles.setdefault(profile, ModelTally())
            tally.answers += 1
            tally.refused += not covered
            tally.up += vote == 1
            tally.down += vote == 0
            tally.claims += claims
            tally.unsupported += unsupported
            if covered:
                tally.models.add(model)
        return activity

    def cite(self, sources: list[SourceRecord]) -> None:
        """One answer's sources counted per section and page, which keep the latest name they were cited by."""
        for source in sources:
            key = section_of(source)
            self.sections[key] += 1
            self.places[key] = (source["section"], source["url"])
            self.section_ids[key] = source["id"]
        for source in {page_of(s): s for s in sources}.values():
            page = page_of(source)
            self.pages[page] += 1
            self.places[page] = (source["section"].split(" › ")[0], source["url"].split("#")[0])

    def top_sections(self, texts: dict[str, str]) -> list[Cited]:
        """The most cited sections, each with the text of one of its passages (`texts` by passage id)."""
        return [
            Cited(*self.places[key], n, texts.get(self.section_ids[key], ""))
            for key, n in self.sections.most_common(TOP)
        ]

    def top_pages(self) -> list[Cited]:
        return [Cited(*self.places[page], n) for page, n in self.pages.most_common(TOP)]

    def models(self) -> list[ModelQuality]:
        """Each profile's quality, the busiest first."""
        ranked = sorted(self.profiles.items(), key=lambda kv: -kv[1].answers)
        return [tally.quality(profile) for profile, tally in ranked]


def answered(rows: Sequence[Any], show_identities: bool) -> list[Answered]:
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


def off_point(recent: list[Answered], rows: Sequence[Any]) -> list[OffPoint]:
    """The supported answers (most sentences supported) that miss their question, among the recent ones."""
    return [
        OffPoint(a.created, a.student, a.question, a.answer, a.off_point, a.model, row.grounded)
        for a, row in zip(recent, rows, strict=True)
        if a.covered and a.off_point and (row.grounded is None or row.grounded >= LOW_GROUNDING)
    ]


def quiz(rows: Sequence[Any]) -> list[SectionQuiz]:
    """Quiz results per page (by its Docusaurus id, under its latest title): attempts, right answers and the
    most missed items, the weakest page first. `rows` as `rag.report.queries.quiz_results` reads them."""
    pages: dict[str, dict[str, Any]] = {}
    for section, passage_json, question, answer, sentence, correct in rows:
        passage = json.loads(passage_json)
        page = pages.setdefault(passage.get("doc_id") or section, {"rows": []})
        page.update(title=passage.get("title", section), url=passage.get("url", "").split("#")[0])
        page["rows"].append((question, answer, sentence, passage.get("url", ""), bool(correct)))
    found = []
    for page in pages.values():
        misses = Counter((q, a, s, u) for q, a, s, u, right in page["rows"] if not right)
        missed = [Missed(q, a, s, u, n) for (q, a, s, u), n in misses.most_common(MISSED)]
        right = sum(row[-1] for row in page["rows"])
        found.append(SectionQuiz(page["title"], page["url"], len(page["rows"]), right, missed))
    return sorted(found, key=lambda q: (q.share, -q.attempts))


def _chapter(sources: list[SourceRecord], covered: bool) -> str:
    """Where a question belongs in the book: the chapter of its first cited passage."""
    if not covered:
        return "Not covered"
    return (sources[0].get("chapter") or "Other") if sources else "Uncited"


def per_day(period: Period, counts: Counter[str]) -> list[tuple[str, int]]:
    days = [(period.since + timedelta(days=i)).isoformat() for i in range((period.until - period.since).days + 1)]
    return [(day, counts.get(day, 0)) for day in days]
