"""Book and answer markdown as HTML, the way the chat renders it, for pages the app draws itself (the instructor
view, a citation's passage panel). Raw HTML in the markdown stays text, and markdown-it refuses javascript:,
vbscript:, file: and data: link targets."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def to_html(markdown: str | None) -> Markup:
    """Safe HTML for `markdown`: a source's hard line breaks join into its paragraphs."""
    return Markup(_MARKDOWN.render(markdown or ""))
