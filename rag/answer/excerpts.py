"""Book excerpts: an answer made only of the retrieved passages' own sentences, each cited.

The offline default. It cannot invent: every sentence is the book's, picked for the question by closeness in
meaning (the packaged embedding model) and the question's terms it holds, deduplicated, and put back in the
book's order. A list keeps its lead-in ("**Limitations**:") and becomes one sentence; a table row keeps its
column names. `ExcerptModel` serves it through the Agents SDK's `Model` interface, so it streams through the
same `Runner` path, session memory and citation handling as any LLM.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from agents import Model, ModelResponse, Usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
)

from rag.text.lexical import TermStats, content_terms
from rag.text.sentences import LINE_PREFIX, line_prefix, split_markdown

if TYPE_CHECKING:
    from rag.answer.agent import TutorContext

# Words in an answer: stop adding excerpts past the target, never go over the most.
TARGET_WORDS = 120
MAX_WORDS = 180
MIN_WORDS = 60
# An excerpt this much like one already chosen (share of its terms) adds nothing.
MAX_OVERLAP = 0.7
# Excerpts scoring below the first share of the best one's score are off the point once the answer has
# MIN_WORDS, and below the second share always.
MIN_RELATIVE_SCORE = 0.75
FLOOR_RELATIVE_SCORE = 0.5
MAX_CODE_LINES = 12
_LEAD_IN = re.compile(r":\s*$")
_ROW = re.compile(r"^\s*\|")
_EMPHASIS = re.compile(r"\*\*|__")
# "What is ZMP?", "what's a node", "define URDF", "what does QoS stand for / mean"
_ASKS_DEFINITION = re.compile(r"\bwhat(?:'s| is| are| does)\b|\bdefin|\bmean(?:s|ing)?\b|\bstand for\b", re.IGNORECASE)
# An excerpt that opens by naming its subject and then defines it: "**ZMP (Zero Moment Point)**: Concept ...",
# "A node is ...". Group 1 is the subject.
_DEFINES = re.compile(
    r"^\W*([^:()]{1,60}?)\W*(?:\([^)]{1,80}\))?\W*(?::\s|\s(?:is|are|means|refers to|stands for)\s)", re.IGNORECASE
)
# How much a definition of the asked-about term gains over other excerpts when the question asks what it is.
DEFINITION_BONUS = 1.2


@dataclass(frozen=True)
class Excerpt:
    passage: int  # 1-based passage number
    position: int  # order in the passage
    text: str
    terms: frozenset[str]
    code: bool = False
    context: str = ""

    @property
    def words(self) -> int:
        return len(self.text.split())


def excerpts_of(passage: int, text: str, context: str = "") -> list[Excerpt]:
    """The candidate excerpts of one passage: sentences, lists with their lead-in, table rows, short code,
    and glossary entries ("**Term**" then ": definition"). `context` (the passage's breadcrumb) is embedded
    with each excerpt, so "Limitations: expensive" is known to be about LIDAR."""
    found: list[Excerpt] = []
    lead_in: str | None = None
    items: list[str] = []
    header: list[str] = []

    def add(body: str, code: bool = False) -> None:
        body = body.strip() if code else " ".join(body.split())
        if body and not body.endswith("?"):  # the book's own questions ("Check your understanding") answer nothing
            found.append(Excerpt(passage, len(found), body, frozenset(content_terms(body)), code, context))

    def flush() -> None:
        nonlocal lead_in, items
        if items:
            joined = "; ".join(item.rstrip(".;") for item in items)
            add(f"{lead_in} {joined}." if lead_in else f"{joined}.")
        elif lead_in:
            add(lead_in)
        lead_in, items = None, []

    for unit in split_markdown(text):
        raw = unit.text
        if unit.kind == "code":
            flush()
            if raw.count("\n") <= MAX_CODE_LINES:
                add(raw, code=True)
        elif unit.kind != "sentence":
            flush()
            header = [] if unit.kind == "heading" else header
        elif _ROW.match(raw):
            flush()
            cells = [c.strip() for c in raw.strip().strip("|").split("|")]
            if not header:
                header = cells
            else:
                add(
                    "; ".join(f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c).rstrip(".")
                    + "."
                )
        elif raw.startswith(": ") and found and not found[-1].code and len(found[-1].text.split()) <= 8:
            term = found.pop()  # a definition: "**Term**" on the line before
            add(f"{term.text}: {raw[2:]}")
        elif line_prefix(raw).strip():  # a list item
            items.append(_EMPHASIS.sub("", LINE_PREFIX.sub("", raw)).strip())
        elif _LEAD_IN.search(raw):
            flush()
            lead_in = raw.strip()
        else:
            flush()
            add(raw)
    flush()
    return found


class ExcerptComposer:
    """Chooses and orders excerpts for a question. `embed` maps texts to unit vectors."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], stats: Callable[[], TermStats] | None = None):
        self.embed = embed
        self.stats = stats

    def compose(self, question: str, passages: Sequence[str], contexts: Sequence[str] = ()) -> str:
        """An answer of excerpts from `passages` (numbered from 1); `contexts` are their breadcrumbs."""
        contexts = list(contexts) or [""] * len(passages)
        candidates = [
            e
            for n, (text, where) in enumerate(zip(passages, contexts, strict=True), 1)
            for e in excerpts_of(n, text, where)
        ]
        if not candidates:
            return ""
        scores = self._scores(question, candidates)
        chosen: list[Excerpt] = []
        words = 0
        best = max(scores)
        for i in np.argsort(-scores):
            excerpt = candidates[i]
            relative = scores[i] / best
            if (
                words >= TARGET_WORDS
                or relative < FLOOR_RELATIVE_SCORE
                or (relative < MIN_RELATIVE_SCORE and words >= MIN_WORDS)
            ):
                break
            if words + excerpt.words > MAX_WORDS or any(_overlap(excerpt, c) > MAX_OVERLAP for c in chosen):
                continue
            chosen.append(excerpt)
            words += excerpt.words
        return _render(chosen)

    def _scores(self, question: str, candidates: list[Excerpt]) -> np.ndarray:
        """Closeness in meaning, plus the share of the question's (rarity-weighted) terms the excerpt holds,
        with a small preference for the better-ranked passages, and for the definition of what a "what is"
        question asks about."""
        vectors = self.embed([question, *[f"{c.context}: {c.text}" if c.context else c.text for c in candidates]])
        dense = vectors[1:] @ vectors[0]
        terms = set(content_terms(question))
        stats = self.stats() if self.stats else None
        weights = {t: stats.idf(t) if stats else 1.0 for t in terms}
        total = sum(weights.values()) or 1.0
        where = {c.context: set(content_terms(c.context)) for c in candidates}
        lexical = np.array(
            [sum(w for t, w in weights.items() if t in c.terms or t in where[c.context]) / total for c in candidates]
        )
        rank = np.array([1.0 / (1 + 0.1 * (c.passage - 1)) for c in candidates])
        short = np.array([min(1.0, len(c.terms) / 4) for c in candidates])  # "Expensive." alone says little
        asks = _ASKS_DEFINITION.search(question) is not None
        defines = np.array([DEFINITION_BONUS if asks and _defines(c.text, terms) else 1.0 for c in candidates])
        return (0.6 * dense + 0.4 * lexical) * rank * short * defines


def _defines(text: str, question_terms: set[str]) -> bool:
    """Does the excerpt open by defining something the question names (its subject's terms are all the
    question's: "Isaac Sim" for "what is Isaac Sim?", not "ORB-SLAM" for "what is SLAM?")?"""
    found = _DEFINES.match(_EMPHASIS.sub("", text))
    subject = set(content_terms(found.group(1))) if found else set()
    return bool(subject) and subject <= question_terms


def _overlap(a: Excerpt, b: Excerpt) -> float:
    return len(a.terms & b.terms) / max(1, min(len(a.terms), len(b.terms)))


def _render(chosen: list[Excerpt]) -> str:
    """One paragraph per passage, the best passage first (`chosen` is best first), excerpts in the book's order,
    each cited."""
    paragraphs = []
    for n in dict.fromkeys(c.passage for c in chosen):
        lines: list[str] = []
        for excerpt in sorted((c for c in chosen if c.passage == n), key=lambda c: c.position):
            if excerpt.code:
                lines.append(f"[{n}]\n\n{excerpt.text}\n")
            else:
                lines.append(_cite(excerpt.text, n))
        paragraphs.append(" ".join(lines).replace("\n ", "\n"))
    return "\n\n".join(paragraphs)


def _cite(sentence: str, n: int) -> str:
    """The sentence with `[n]` before its closing punctuation."""
    m = re.search(r"[.!?:;]+[\"')\]*_]*$", sentence)
    return f"{sentence[: m.start()]} [{n}]{sentence[m.start() :]}" if m else f"{sentence} [{n}]."


def _response_events(text: str) -> list[Any]:
    """The stream of a finished text as the Responses API sends it: created, word deltas, completed."""
    message = ResponseOutputMessage(
        id="excerpts",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])],
    )
    response = Response(
        id="excerpts",
        created_at=0,
        model="book-excerpts",
        object="response",
        output=[message],
        tool_choice="none",
        tools=[],
        parallel_tool_calls=False,
    )
    events: list[Any] = [
        ResponseCreatedEvent(
            type="response.created",
            response=response.model_copy(update={"output": [], "status": "in_progress"}),
            sequence_number=0,
        )
    ]
    for i, piece in enumerate(re.findall(r"\S+\s*|\s+", text), 1):
        events.append(
            ResponseTextDeltaEvent(
                type="response.output_text.delta",
                item_id="excerpts",
                output_index=0,
                content_index=0,
                delta=piece,
                logprobs=[],
                sequence_number=i,
            )
        )
    events.append(ResponseCompletedEvent(type="response.completed", response=response, sequence_number=len(events)))
    return events


class ExcerptModel(Model):
    """An Agents SDK `Model` that answers with `composer` from the run's passages, ignoring the prompt."""

    def __init__(self, composer: ExcerptComposer, context: TutorContext):
        self.composer, self.context = composer, context

    async def _events(self) -> list[Any]:
        passages = self.context.passages
        text = await asyncio.to_thread(
            self.composer.compose, self.context.query, [p.text for p in passages], [p.breadcrumb for p in passages]
        )
        return _response_events(text)

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        events = await self._events()
        return ModelResponse(output=events[-1].response.output, usage=Usage(), response_id="excerpts")

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        for event in await self._events():
            yield event
