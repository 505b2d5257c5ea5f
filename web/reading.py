"""The page a student is reading, as the book widget sends it with a chat message or a REST request.

It is data for the search (`rag.search.retrieval.Reading`): the page's passages lead when they answer, and
the selection is searched with the question. It never becomes part of a model's instructions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from rag.answer.result import MAX_QUESTION_CHARS
from rag.search.passage import Reading


class ReadingIn(BaseModel):
    """Where the student is reading (the book widget sends it): data for the search, never instructions."""

    doc_id: str = Field(pattern=r"^[\w.~/-]+$", max_length=300, description="The page's Docusaurus document id.")
    anchor: str = Field("", pattern=r"^[\w.~-]*$", max_length=200, description="The heading the selection is under.")
    selection: str = Field(
        "", max_length=MAX_QUESTION_CHARS, description="The selected text: searched for with the question."
    )
    url: str = Field(
        "", pattern=r"^(https?://\S+|/\S*)?$", max_length=2000, description="The page's URL, kept with the message."
    )

    def reading(self) -> Reading:
        return Reading(self.doc_id, self.anchor, " ".join(self.selection.split()))


def reading_of(metadata: Mapping[str, Any] | None) -> Reading | None:
    """The `reading` a chat message's metadata carries (None without one); a malformed one is a pydantic
    `ValidationError` that names the field."""
    found = (metadata or {}).get("reading")
    return None if found is None else ReadingIn.model_validate(found).reading()
