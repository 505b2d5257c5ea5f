"""When a quiz item comes back for review: FSRS (the `fsrs` package, the scheduler Anki uses), not a hand-made
rule. A right answer is "Good", a wrong one "Again": a missed item returns within minutes, then at growing
intervals as the student keeps getting it right."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from fsrs import Card, Rating, Scheduler


@dataclass(frozen=True)
class Scheduled:
    card: str  # the scheduler's card, as JSON
    due: datetime


class Schedule:
    def __init__(self) -> None:
        # No fuzzing: the same answers at the same times give the same schedule (the tests control the clock).
        self.scheduler = Scheduler(enable_fuzzing=False)

    def new(self, now: datetime) -> Scheduled:
        """A card never reviewed, due at `now`."""
        card = Card(due=now)
        return Scheduled(json.dumps(card.to_dict()), card.due)

    def after(self, card: str | None, correct: bool, now: datetime) -> Scheduled:
        """An item's card after an answer at `now` (None: its first)."""
        current = Card.from_dict(json.loads(card)) if card else Card(due=now)
        reviewed, _ = self.scheduler.review_card(current, Rating.Good if correct else Rating.Again, now)
        return Scheduled(json.dumps(reviewed.to_dict()), reviewed.due)
