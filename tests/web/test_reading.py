"""The page a student reads, as a widget message's metadata carries it: parsed as data, or named as invalid."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rag.search.passage import Reading
from web.display import bad_reading
from web.reading import reading_of


def test_a_message_without_a_page_has_no_reading():
    assert reading_of(None) is None and reading_of({"favorite": True}) is None


def test_the_page_and_selection_are_parsed_and_the_selection_flattened():
    metadata = {"reading": {"doc_id": "ros2-basics/launch-files", "anchor": "remapping", "selection": "a\n  b"}}
    assert reading_of(metadata) == Reading("ros2-basics/launch-files", "remapping", "a b")


def test_a_malformed_page_names_the_field_and_what_to_do():
    with pytest.raises(ValidationError) as caught:
        reading_of({"reading": {"doc_id": "../../etc passwd"}})
    said = bad_reading(caught.value)
    assert "`reading.doc_id`" in said and "not asked" in said and "Reload the book page" in said
