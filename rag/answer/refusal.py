"""The answer that declines, for answers and hints alike: the book does not cover the question, or the question is
in another language and holds no term of the book's."""

from __future__ import annotations

import time

from rag.answer.agent import NOT_COVERED, not_in_english
from rag.answer.result import Answer
from rag.search.passage import SearchResult
from rag.text.language import Foreign


def refusal(question: str, result: SearchResult, started: float, foreign: Foreign | None = None) -> Answer:
    """What the chat shows and keeps; `result` is the search that found no cover (its passages stay listed)."""
    return Answer(
        text=not_in_english(foreign) if foreign and not foreign.terms else NOT_COVERED,
        sources=[],
        cited=False,
        passages=result.passages,
        covered=False,
        processing_time_ms=round((time.perf_counter() - started) * 1000),
        model="none (not covered)",
        query=result.query,
        coverage_reason=f"asked in {foreign.language}" if foreign else result.coverage.reason,
        language=foreign.language if foreign else "",
    )
