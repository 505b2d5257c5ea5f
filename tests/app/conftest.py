"""The app as its users meet it: the real app process, a real browser, the book built with Docusaurus, the
multi-process deployment."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here drives the running app from outside: `-m browser` picks them, `-m "not browser"` leaves
    them out."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
