"""How answers, sources and errors read in the chat UI (pure text; `app.py` only wires it to Chainlit)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from pydantic import ValidationError

from rag.answer.grounding import CheckedSentence
from rag.answer.result import Answer, Source
from rag.errors import ServiceError
from rag.search.passage import Passage, SearchResult
from rag.study.items import Item
from rag.study.service import Graded
from rag.text.citations import MARKER
from rag.text.sentences import line_prefix
from web.ratelimit import Limited
from web.rest import public

CITE_PARAM = "tutor-cite"  # the book plugin's query parameter: the passage to mark in the page
PANEL_ANCHOR = "#tutor-passage="  # a chat page's `[n]` link: `public/citations.js` opens its passage
_PANEL_LINK = re.compile(r"\[\\\[(\d+)\\\]\]\(" + re.escape(PANEL_ANCHOR) + r"[^)\s]*\)")
# "[2] [Title › Section](url)" in an answer's Sources line (`_escape` escapes brackets in the label).
_SOURCE_LINK = re.compile(r"\[(\d+)\] \[(?:\\.|[^\]\\])*\]\(([^)\s]+)\)")
STARTERS = [
    ("ROS 2 topics", "What is a ROS 2 topic?"),
    ("Launch files", "How do I start several nodes at once with a launch file?"),
    ("Balance", "What is the zero moment point?"),
    ("Robot models", "How do I describe a robot's links and joints in URDF?"),
]

EMPTY_COLLECTION = (
    "The textbook collection is empty, so there is nothing to answer from yet.\n\n"
    "Ingest a book first, then reload this page:\n\n"
    "```bash\npython -m ingest --source samples/textbook/docs   # or your book's docs folder\n```"
)

INSTRUCTOR_COMMAND = {
    "id": "Instructor view",
    "icon": "chart-column",
    "button": True,
    "description": "What students ask, where the book falls short, and the answers they flagged",
}
REVIEW_COMMAND = {
    "id": "Review",
    "icon": "rotate-ccw",
    "button": True,
    "description": "The quiz questions due for review: the ones you missed come back first",
}
INSTRUCTOR_LINK = (
    "📊 **[Open the instructor view](/instructor)**: questions per day and chapter, coverage gaps, "
    "the most cited sections, flagged answers and the quality of each model."
)

# A sentence no passage supports is shown as a link to this anchor, which `public/tutor.css` greys out;
# one the offline check could not confirm (a paraphrase) links to the other, lightly underlined.
UNSUPPORTED_ANCHOR = "#not-in-book"
UNSUPPORTED_MARK = "⚠"
UNVERIFIED_ANCHOR = "#not-verified"
UNVERIFIED_MARK = "≈"
LEGEND = (
    f"{UNSUPPORTED_MARK} _Greyed sentences are **not found in the book**: the passages do not say them, or say "
    "otherwise. Check them before you rely on them._"
)
UNVERIFIED_LEGEND = (
    f"{UNVERIFIED_MARK} _Underlined sentences are **not verified**: they put the cited passage in other words, and "
    "the check could not confirm them. Open the passage to compare._"
)

_WHAT_TO_DO = {
    "database": "The chat history database is not available right now.",
    "qdrant": "The textbook store is not available right now.",
    "llm": "The language model is not available right now.",
    "embeddings": "The embedding model could not be loaded.",
    "redis": "The shared rate-limit store is not available right now.",
}


def _escape(text: str) -> str:
    """Markdown table/link syntax in titles must not break the line they sit in."""
    return text.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")


def link_target(url: str) -> str | None:
    """A URL safe to write as a markdown link target: http(s) or site-relative only, with the characters that
    would end the link (or start another) percent-encoded. None for anything else (`javascript:`, `data:`)."""
    if urlsplit(url).scheme.lower() not in ("http", "https", "") or url.lstrip().startswith("//"):
        return None
    return quote(url.strip(), safe=":/?#&=%+,;@!$*~.-_'")  # no ( ) [ ] < > space or quotes


def _link(label: str, url: str) -> str:
    target = link_target(url)
    return f"[{_escape(label)}]({target})" if target else _escape(label)


def citation_url(passage: Passage) -> str:
    """The passage's page and section in the book, with the passage's id for the book's tutor plugin, which
    marks the passage there (`book/plugin`); any other site simply opens the section."""
    page, hash_, anchor = passage.url.partition("#")
    joiner = "&" if "?" in page else "?"
    return f"{page}{joiner}{CITE_PARAM}={quote(passage.id)}{hash_}{anchor}"


def panel_url(passage: Passage) -> str:
    """Where a `[n]` of the chat page points: the page's script (`public/citations.js`) opens the passage in
    its panel, beside the answer."""
    return f"{PANEL_ANCHOR}{quote(passage.id)}"


def linked_citations(text: str, sources: Sequence[Source], in_book: bool) -> str:
    """Each `[n]` a link to its passage: into the book for the book's widget (where a panel would cover the
    page), to the passage panel on the chat page."""
    target = citation_url if in_book else panel_url
    return _linked(text, {s.n: link_target(target(s.passage)) for s in sources})


def relinked(markdown: str) -> str:
    """An answer as the chat page showed it (`answer_markdown`), its `[n]` markers linked into the book the way
    its Sources line links each source: for a chat of the chat page opened in the book's widget."""
    markdown = _PANEL_LINK.sub(r"[\1]", markdown)
    head, label, sources = markdown.rpartition("\n\n**Sources:** ")
    if not label:
        return markdown
    targets = {int(n): url for n, url in _SOURCE_LINK.findall(sources)}
    return _linked(head, targets) + label + _linked(sources, targets)


def _linked(text: str, targets: dict[int, str | None]) -> str:
    def link(marker: re.Match[str]) -> str:
        target = targets.get(int(marker.group(1))) if marker.group(1).isdigit() else None
        return f"[\\[{marker.group(1)}\\]]({target})" if target else marker.group(0)

    return MARKER.sub(link, text)


def evidence(p: Passage) -> str:
    """Why a passage was found: its similarity to the question and the question's words it holds."""
    matched = f" · matched: {_escape(', '.join(p.matched))}" if p.matched else ""
    return f"similarity {p.similarity:.2f}{matched}"


def search_step_output(result: SearchResult) -> str:
    """What was searched (a follow-up is searched with the question before it), what was found and why, and
    whether the book covers the question."""
    searched = f"Searched for: {_escape(result.query)}\n\n" if " + " in result.query else ""
    lines = [f"{i}. {_escape(p.breadcrumb)} — {evidence(p)}" for i, p in enumerate(result.passages, 1)]
    verdict = "Covered" if result.covered else "Not covered"
    found = "\n".join(lines) if lines else "No passages found."
    return f"{searched}{found}\n\n**{verdict}:** {result.coverage.reason}."


def close_code_fences(text: str) -> str:
    """A model that stops inside a code block must not swallow the sources line below it."""
    fences = re.findall(r"^\s*(```|~~~)", text, re.MULTILINE)
    return text + f"\n{fences[-1]}" if len(fences) % 2 else text


def mark_sentence(sentence: CheckedSentence) -> str:
    """A flagged sentence greyed, or a sentence not verified underlined (as a link to the anchor the
    stylesheet styles), followed by its mark; its citation markers stay outside the link, where they still
    open their passages."""
    text = sentence.text
    if text.lstrip().startswith(("```", "~~~")):
        return f"{text}\n\n{UNSUPPORTED_MARK} _This code is not found in the book._"
    anchor, mark = (UNSUPPORTED_ANCHOR, UNSUPPORTED_MARK) if sentence.flagged else (UNVERIFIED_ANCHOR, UNVERIFIED_MARK)
    prefix = line_prefix(text)
    markers = "".join(m.group(0) for m in MARKER.finditer(text))
    body = re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", text[len(prefix) :])).strip()
    return f"{prefix}[{_escape(body)}]({anchor}) {mark}{markers}"


def answer_markdown(answer: Answer, in_book: bool = False) -> str:
    """The final message: the answer with flagged and unverified sentences marked, a legend for each kind
    present, then its sources, each `[n]` a link to its passage (`linked_citations`)."""
    if not answer.covered:
        return f"> 📕 **Not covered by the textbook**\n>\n> {answer.text}"
    text = answer.text
    marked = [s for s in answer.sentences if s.verdict in ("unsupported", "unverified")]
    for sentence in marked:
        text = text.replace(sentence.text, mark_sentence(sentence), 1)
    legends = [
        legend
        for legend, verdict in ((LEGEND, "unsupported"), (UNVERIFIED_LEGEND, "unverified"))
        if any(s.verdict == verdict for s in marked)
    ]
    legend = "".join(f"\n\n{line}" for line in legends)
    label = "Sources" if answer.cited else "Retrieved (not cited)"
    links = " · ".join(f"[{s.n}] {_link(s.passage.breadcrumb, citation_url(s.passage))}" for s in answer.sources)
    text, links = linked_citations(text, answer.sources, in_book), linked_citations(links, answer.sources, in_book)
    unkept = f"\n\n> ⚠️ **Not saved in this chat's history**: {public(answer.not_kept)}" if answer.not_kept else ""
    return (
        f"{close_code_fences(text)}{legend}\n\n**{label}:** {links}\n\n"
        f"_{answer.model} · {answer.processing_time_ms / 1000:.1f} s_{unkept}"
    )


_KIND = {
    "free": "Answer in your own words.",
    "choice": "Pick one, or type its letter.",
    "fill": "Type the missing words.",
}
QUIZ_DONE = (
    "🎓 **That is the end of this quiz.** What you missed comes back for review: use **Review** (below the box) "
    "when it is due, or ask for another quiz on a topic."
)
QUIZ_ENDED = "⏹ Quiz ended. Your answers are kept, and what you missed comes back for **Review**."
NOTHING_DUE = "✅ Nothing is due for review right now. Missed questions come back a few minutes after the quiz."


def item_markdown(item: Item) -> str:
    """A quiz question as the student sees it: the question, its choices, and how to answer."""
    choices = "".join(f"\n\n**{letter}.** {_escape(c)}" for letter, c in zip("ABCD", item.choices, strict=False))
    return f"📝 {item.question}{choices}\n\n_{_KIND[item.kind]}_"


def graded_markdown(graded: Graded) -> str:
    """The grade with what the book says (citing [1]), and when the item comes back."""
    return f"{graded.grade.feedback}\n\n_{_comes_back(graded)}_"


def _comes_back(graded: Graded) -> str:
    """ "It comes back in about 10 minutes": the review schedule, in words."""
    minutes = max(1, round((graded.due - graded.answered).total_seconds() / 60))
    if minutes < 90:
        return f"It comes back for review in about {minutes} minute{'s' * (minutes != 1)}."
    hours = round(minutes / 60)
    if hours < 36:
        return f"It comes back for review in about {hours} hours."
    return f"It comes back for review in about {round(hours / 24)} days."


def why_markdown(item: Item) -> str:
    """The passage that makes an answer right, its sentence in bold."""
    p = item.passage
    text = p.text.replace(item.sentence, f"**{item.sentence}**", 1) if item.sentence in p.text else p.text
    return f"**Why:** “{item.sentence}” [1]\n\n_{_escape(p.breadcrumb)}_\n\n{text}"


def bad_reading(error: ValidationError) -> str:
    """A widget message whose page context is malformed: what is wrong, and that nothing was asked."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "reading"
    return (
        f"⚠️ The page sent with this question is not valid (`reading.{where}`: {first['msg']}), so it was not "
        "asked. Reload the book page and try again."
    )


def rate_limited(limited: Limited) -> str:
    who = "You are" if limited.by == "identity" else "Your network (this address) is"
    wait = max(1, round(limited.wait))
    return f"⏳ {who} asking faster than {limited.per_minute} questions a minute: ask again in {wait} s."


def error_markdown(error: ServiceError) -> str:
    what = _WHAT_TO_DO.get(error.kind, "Something went wrong.")
    return f"⚠️ **{what}**\n\n{public(str(error))}\n\nYou can ask again once it is fixed."
