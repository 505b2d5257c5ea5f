"""Grading a student's response to a quiz item.

A term or a cell is right in any case, spacing or inflection ("Topics", "topic", " TOPIC "), with or without an
article; a choice also by its letter. A free response is compared with the sentence that answers it, with the
grounding checker's evidence: right when the book supports what the student wrote (or nothing contradicts it)
and it holds enough of the sentence's meaning; the feedback says what matches and what the passage says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.answer.grounding import GroundingChecker
from rag.study.facts import normalized
from rag.text.lexical import content_terms, term, words

if TYPE_CHECKING:
    from rag.study.items import Item

# A free response holds enough of the answer when it has this share of the sentence's terms (its subject
# aside), or is this close to it in meaning.
MIN_FREE_COVERAGE = 0.4
MIN_FREE_SIMILARITY = 0.65
_LETTER = re.compile(r"^\s*\(?([A-Da-d])[).:]?\s*$")


@dataclass(frozen=True)
class Grade:
    correct: bool
    feedback: str  # markdown; cites the item's passage as [1]
    matched: tuple[str, ...] = ()  # the answer's terms a free response holds


def grade(item: Item, response: str, checker: GroundingChecker) -> Grade:
    """Grade `response`; the feedback quotes the sentence that makes the answer right."""
    if item.kind == "free":
        return _free(item, response, checker)
    given = _chosen(item.choices, response)
    right = normalized(given) == normalized(item.answer) and bool(normalized(given))
    why = f"“{item.sentence}” [1]"
    if right:
        return Grade(True, f"✓ Right: **{item.answer}**. {why}")
    said = f" (you answered “{given.strip()}”)" if given.strip() else ""
    return Grade(False, f"✗ Not quite{said}. The answer is **{item.answer}**: {why}")


def _chosen(choices: Sequence[str], response: str) -> str:
    """A letter (A-D) picks that choice; anything else is the response itself."""
    m = _LETTER.match(response)
    if m and choices:
        index = "abcd".index(m.group(1).lower())
        return choices[index] if index < len(choices) else response
    return response


def _free(item: Item, response: str, checker: GroundingChecker) -> Grade:
    subject = set(content_terms(item.key))  # repeating the term asked about is no answer
    terms = list(dict.fromkeys(content_terms(item.sentence)))
    wanted = [t for t in terms if t not in subject] or terms
    given = set(content_terms(response))
    matched = tuple(t for t in wanted if t in given)
    coverage = len(matched) / max(1, len(wanted))
    checked = checker.check(response, [item.sentence]).sentences if response.strip() else []
    contradicted = any(s.verdict == "unsupported" for s in checked)
    close = max((s.score for s in checked), default=0.0)
    right = bool(checked) and not contradicted and (coverage >= MIN_FREE_COVERAGE or close >= MIN_FREE_SIMILARITY)
    shown = ", ".join(_surface(item.sentence, t) for t in matched)
    if right:
        return Grade(True, f"✓ That matches the book: “{item.sentence}” [1]", matched)
    what = f"What matches: {shown}. " if matched else "Nothing of it matches the book yet. "
    if contradicted:
        what = "The book says otherwise. " + (f"What matches: {shown}. " if matched else "")
    return Grade(False, f"✗ Not quite. {what}What the passage says: “{item.sentence}” [1]", matched)


def _surface(sentence: str, stem: str) -> str:
    """The word of `sentence` a stemmed term came from."""
    return next((w for w in words(sentence) if term(w) == stem), stem)
