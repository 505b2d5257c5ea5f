"""The one-time instructor link goes to the operator, never to a log others read."""

from __future__ import annotations


def test_the_instructor_link_reaches_the_operator_only(tmp_path):
    """A log collector reading stderr gets where the link is and how long it lives; a terminal gets the link."""
    import io

    from rag.identity import announce_instructor_link

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    logged, terminal = io.StringIO(), Terminal()
    path = announce_instructor_link("s" * 48, "http://localhost:8000", tmp_path / "data", logged)
    link = path.read_text().strip()
    assert "/instructor/open?token=" in link and oct(path.stat().st_mode & 0o777) == "0o600"
    assert "token=" not in logged.getvalue() and str(path) in logged.getvalue()
    assert "works once, for 15 minutes" in logged.getvalue()
    announce_instructor_link("s" * 48, "http://localhost:8000", tmp_path / "data", terminal)
    assert "/instructor/open?token=" in terminal.getvalue() and path.read_text().strip() in terminal.getvalue()
