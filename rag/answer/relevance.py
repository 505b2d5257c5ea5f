"""Does the answer answer the question? The signal beside support: an answer made of the book's own sentences
is fully supported and can still be off the point (URDF joint tables for "why does my robot fall over?").

Read from the answer's parts, with the rules search and book excerpts share (`rag.text.intent`):
- **the topic**, which decides: the question's terms the answer holds, each weighted by its rarity in the
  book, so that "robot" in a robotics book weighs little and a word the book never uses ("ugh") nothing;
- **what the question asks for**, shown beside it: a question that opens with "what is" wants a sentence that
  defines what it names, one that opens with "how do I" code or steps, one that opens with "why" a reason.
  On the dev books this part alone marked more answers that answer than answers that do not
  (docs/quality.md), so it explains an answer off the point but does not make one.
Pure strings: no model runs, so it costs microseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from rag.text.citations import MARKER
from rag.text.intent import asked_head, defines, gives_reason
from rag.text.lexical import TermStats, content_terms
from rag.text.sentences import plain, split_markdown

Asks = Literal["definition", "how", "why", "other"]

# An answer holding less than this rarity-weighted share of the question's terms is about something else.
# Chosen on books A and B's book-excerpt answers, reported on D and the sample book (docs/quality.md).
MIN_TOPIC = 0.2
# What the question's opening words ask for; a question that asks it later ("..., so how do I fix it?") is
# read as "other": only the topic decides.
_OPENS = (
    ("definition", re.compile(r"^\W*(?:what(?:'s|\s+is|\s+are)|define|what\s+does\s+\S+(?:\s+\S+)?\s+mean)\b", re.I)),
    ("how", re.compile(r"^\W*(?:how\s+(?:do|can|should)\s+(?:i|we|you)|how\s+to)\b", re.I)),
    ("why", re.compile(r"^\W*why\b", re.I)),
)
# Steps: a numbered or bulleted list item, or a command in backticks.
_STEP = re.compile(r"^\s*(?:\d+[.)]|[-*+])\s+\S|`[^`\n]{3,}`", re.MULTILINE)
_MISSING = {"definition": "no definition of what it names", "how": "no code or steps", "why": "no reason"}


@dataclass(frozen=True)
class Relevance:
    """What the question asks for, whether the answer shows it, and how much of the question's topic it covers."""

    asks: Asks
    shows: bool  # the answer holds what `asks` wants (always True for "other")
    topic: float  # rarity-weighted share of the question's terms in the answer

    @property
    def answers(self) -> bool:
        return self.topic >= MIN_TOPIC

    @property
    def reason(self) -> str:
        """Why an answer is off the point, in the words the instructor view shows; "" when it answers."""
        if self.answers:
            return ""
        missing = "" if self.shows else f"; {_MISSING[self.asks]}"
        return f"it holds {self.topic:.0%} of the question's topic{missing}"


def relevance(question: str, answer: str, stats: TermStats | None = None) -> Relevance:
    """The answer's relevance to the question (see the module doc); `stats` are the book's term statistics
    (without them every term weighs the same)."""
    topic = _topic(question, answer, stats)
    asks: Asks = next((kind for kind, opens in _OPENS if opens.search(question)), "other")  # type: ignore[misc]
    units = [MARKER.sub("", plain(u.text)).strip() for u in split_markdown(answer) if u.kind != "code"]
    if asks == "definition":
        head = asked_head(question)
        shows = head is None or any(defines(u, set(content_terms(question)), head) for u in units)
    elif asks == "how":
        shows = "```" in answer or _STEP.search(answer) is not None
    elif asks == "why":
        shows = any(gives_reason(u) for u in units)
    else:
        shows = True
    return Relevance(asks, shows, topic)


def _topic(question: str, answer: str, stats: TermStats | None) -> float:
    terms = set(content_terms(question))
    weights = {t: (stats.idf(t) if stats.frequency.get(t) else 0.0) if stats else 1.0 for t in terms}
    total = sum(weights.values())
    if not total:
        return 1.0  # nothing the book could say about it: no topic to miss
    held = set(content_terms(MARKER.sub(" ", answer)))
    return sum(w for t, w in weights.items() if t in held) / total
