"""What an answer is, and what can stop one: the value types that cross the engine and the web layer.

They live apart from the service that makes them (`rag.tutor`), so that history, the instructor report and the
web layer can use them without importing the service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, NotRequired, TypedDict

from rag.answer.grounding import CheckedSentence, supported_share
from rag.answer.relevance import Relevance
from rag.search.passage import Passage

MAX_QUESTION_CHARS = 4000
# What a student may ask for next, as the chat offers it (a button): one more hint.
Offer = Literal["more_help"]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufeff]")  # and the byte-order mark, which is no text either


class QuestionError(ValueError):
    """The question cannot be asked as typed (empty, too long, not text); the message says why."""


class SourceRecord(TypedDict):
    """A cited source as the history keeps it with its answer, and the instructor report reads it back."""

    n: int
    id: str  # the passage's
    section: str  # its breadcrumb
    path: str
    url: str
    chapter: str
    doc_id: NotRequired[str]  # its page's Docusaurus id (which a renamed page keeps); answers before it lack it


@dataclass(frozen=True)
class Source:
    n: int
    passage: Passage

    def record(self) -> SourceRecord:
        p = self.passage
        return {
            "n": self.n,
            "id": p.id,
            "section": p.breadcrumb,
            "path": p.source_path,
            "url": p.url,
            "chapter": p.chapter,
            "doc_id": p.doc_id,
        }


@dataclass(frozen=True, kw_only=True)
class Answer:
    text: str
    sources: list[Source]  # cited passages renumbered 1..n; all retrieved ones when nothing was cited
    cited: bool  # False: `sources` were retrieved but not cited
    passages: list[Passage]
    covered: bool
    processing_time_ms: int
    model: str
    query: str
    sentences: list[CheckedSentence] = field(default_factory=list)  # numbered like `sources`
    coverage_reason: str = ""
    relevance: Relevance | None = None  # None when nothing was answered (refused) or nothing was asked (a hint)
    not_kept: str = ""  # why the answer is not in the chat's history (its database failed); "" when it is
    offers: tuple[Offer, ...] = ()  # what the student may ask for next: hints that are still open offer more
    language: str = ""  # the question's language when it is not the book's (English), e.g. "Spanish"

    @property
    def grounded(self) -> float | None:
        """Share of claim sentences the passages support; None when nothing was checked."""
        return supported_share(self.sentences)


def clean_question(text: str) -> str:
    """Control characters stripped; empty, overlong or invalid Unicode input is a QuestionError with the reason."""
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:  # JSON can carry a lone surrogate ("\ud800"), which is no character at all
        raise QuestionError(
            "The question is not valid Unicode text: it holds an unpaired surrogate code point."
        ) from None
    text = _CONTROL.sub("", text or "").strip()
    if not text:
        raise QuestionError("The question is empty: type a question about the textbook.")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(text)} characters long; the limit is {MAX_QUESTION_CHARS}.")
    return text
