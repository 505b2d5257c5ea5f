"""The app as its users meet it: the real app process, a real browser, the book built with Docusaurus, the
multi-process deployment, and the REST API fuzzed from outside."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is `e2e` (`-m "not e2e"` leaves them out); those that drive Chromium are `browser` too."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            if "browser" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.browser)
