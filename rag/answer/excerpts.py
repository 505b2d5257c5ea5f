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

from rag.text.excerpts import EMPHASIS, Excerpt, embedding_text, excerpts_of
from rag.text.lexical import TermStats, content_terms, words

if TYPE_CHECKING:
    from rag.answer.agent import TutorContext
    from rag.search.retrieval import Passage

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
# "What is ZMP?", "what's a node", "define URDF", "what does QoS stand for / mean"
_ASKS_DEFINITION = re.compile(r"\bwhat(?:'s| is| are| does)\b|\bdefin|\bmean(?:s|ing)?\b|\bstand for\b", re.IGNORECASE)
# An excerpt that opens by naming its subject and then defines it: "**ZMP (Zero Moment Point)**: Concept ...",
# "A node is ...". Group 1 is the subject.
_DEFINES = re.compile(
    r"^\W*([^:()]{1,60}?)\W*(?:\([^)]{1,80}\))?\W*(?::\s|\s(?:is|are|means|refers to|stands for)\s)", re.IGNORECASE
)
# How much a definition of the asked-about term gains over other excerpts when the question asks what it is.
DEFINITION_BONUS = 1.2
# "How do I publish ...?", "what command ...", "write a launch file": the answer should show the code that does it.
_ASKS_HOW = re.compile(
    r"\bhow\s+(?:do|can|should|would)\s+(?:i|we|you)\b|\bhow\s+to\b|\b(?:steps?|commands?|example|code|syntax)\b",
    re.IGNORECASE,
)
# Sections about the book rather than the subject (a summary restates what a section of its own says), and the
# questions that do ask about them.
_META_SECTION = re.compile(
    r"^\W*(?:learning (?:objectives|outcomes|goals)|what'?s next|next steps|further reading|resources|references|"
    r"see also|additional resources|summary|key takeaways|recap)\W*$",
    re.IGNORECASE,
)
_ASKS_META = re.compile(
    r"\b(?:learn|objectives?|goals?|outcomes?|next|resources?|reading|references?|summar\w*|recap|takeaways?)\b",
    re.IGNORECASE,
)
META_PENALTY = 0.5
# The best sentence of the page being read (the book widget) leads the answer when it scores within this share of
# the best sentence's, among the passages the search kept (the book's best: a page that does not answer has none).
PAGE_PREFERENCE = 0.1


class ExcerptComposer:
    """Chooses and orders excerpts for a question. `embed` maps texts to unit vectors."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], stats: Callable[[], TermStats] | None = None):
        self.embed = embed
        self.stats = stats

    def compose(
        self,
        question: str,
        passages: Sequence[str],
        contexts: Sequence[str] = (),
        vectors: Sequence[np.ndarray | None] = (),
        asked: Sequence[float] | None = None,
        read: str = "",
        preferred: Sequence[bool] = (),
    ) -> str:
        """An answer of excerpts from `passages` (numbered from 1); `contexts` are their breadcrumbs, `vectors`
        their excerpts' vectors as ingest stored them (None: embedded now), `asked` the question's vector if the
        search has it already, `read` the text the question is about (a selection in the book): its own
        sentences are left out while others can answer, since the student has just read them; `preferred` the
        passages of the page being read, whose best sentence leads when it answers nearly as well."""
        candidates, scores = self._scored(question, passages, contexts, vectors, asked, read)
        if not candidates:
            return ""
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
        if _ASKS_HOW.search(question) and not any(c.code for c in chosen):
            chosen += _code_for(chosen, candidates, scores)
        if lead := _page_lead(candidates, scores, preferred):
            chosen = [lead, *(c for c in chosen if c is not lead)]
        return _render(chosen)

    def lead(self, question: str, passages: Sequence[Passage], asked: Sequence[float] | None = None) -> Excerpt | None:
        """The excerpt of the search's passages that answers the question best (the one an answer leads with,
        numbered like the passages from 1); None without any."""
        texts, contexts = [p.text for p in passages], [p.breadcrumb for p in passages]
        candidates, scores = self._scored(question, texts, contexts, [p.excerpt_vectors for p in passages], asked)
        return candidates[int(np.argmax(scores))] if candidates else None

    def _scored(
        self,
        question: str,
        passages: Sequence[str],
        contexts: Sequence[str],
        vectors: Sequence[np.ndarray | None],
        asked: Sequence[float] | None,
        read: str = "",
    ) -> tuple[list[Excerpt], np.ndarray]:
        """Every candidate excerpt of the passages, and its score for the question."""
        contexts = list(contexts) or [""] * len(passages)
        vectors = list(vectors) or [None] * len(passages)
        groups = [
            (excerpts_of(n, text, where), known)
            for n, (text, where, known) in enumerate(zip(passages, contexts, vectors, strict=True), 1)
        ]
        candidates = [e for found, _ in groups for e in found]
        if not candidates:
            return [], np.zeros(0)
        scores = self._scores(question, candidates, *self._vectors(question, groups, asked)) * _unread(candidates, read)
        return candidates, scores

    def _vectors(
        self,
        question: str,
        groups: list[tuple[list[Excerpt], np.ndarray | None]],
        asked: Sequence[float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The question's vector (`asked`, or embedded) and one per candidate: stored ones where they fit the
        passage's excerpts (a store ingested before they were stored has none), the others embedded with the
        question in one call. Nothing is embedded when the search and ingest have done it all."""
        usable = [known is not None and len(known) == len(found) for found, known in groups]
        missing = [embedding_text(e) for (found, _), ok in zip(groups, usable, strict=True) if not ok for e in found]
        texts = [question, *missing] if asked is None else missing
        fresh = self.embed(texts) if texts else np.zeros((0, 0))
        question_vector = fresh[0] if asked is None else np.asarray(asked, dtype=np.float32)
        rest = iter(fresh[1:] if asked is None else fresh)
        rows = [
            row
            for (found, known), ok in zip(groups, usable, strict=True)
            for row in (known if ok and known is not None else [next(rest) for _ in found])
        ]
        return question_vector, np.array(rows)

    def _scores(self, question: str, candidates: list[Excerpt], asked: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Closeness in meaning (`asked`, the question's vector, against the candidates' `vectors`), plus the
        share of the question's (rarity-weighted) terms the excerpt holds, with a small preference for the
        better-ranked passages, and for the definition of what a "what is" question asks about."""
        dense = vectors @ asked
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
        meta = np.array([_meta_penalty(question, c.context) for c in candidates])
        return (0.6 * dense + 0.4 * lexical) * rank * short * defines * meta


def _page_lead(candidates: list[Excerpt], scores: np.ndarray, preferred: Sequence[bool]) -> Excerpt | None:
    """The page's best excerpt, if it answers nearly as well as the best of all (`PAGE_PREFERENCE`)."""
    mine = [i for i, c in enumerate(candidates) if preferred and preferred[c.passage - 1]]
    best = max(mine, key=lambda i: scores[i], default=None)
    return candidates[best] if best is not None and scores[best] * (1 + PAGE_PREFERENCE) >= scores.max() else None


def _unread(candidates: list[Excerpt], read: str) -> np.ndarray:
    """0 for the excerpts the student has just read (the selection holds them, or most of one), 1 for the others;
    all 1 when that is every excerpt (then it is all the book has to say)."""
    selected = words(read)
    text = f" {' '.join(selected)} "
    kept = np.array([0.0 if selected and _within(words(c.text), selected, text) else 1.0 for c in candidates])
    return kept if kept.any() else np.ones(len(candidates))


def _within(excerpt: list[str], selected: list[str], selected_text: str) -> bool:
    """The excerpt is in the selection, or the selection is in the excerpt and makes up most of it."""
    own = f" {' '.join(excerpt)} "
    return own in selected_text or (selected_text in own and len(selected) >= len(excerpt) / 2)


def _defines(text: str, question_terms: set[str]) -> bool:
    """Does the excerpt open by defining something the question names (its subject's terms are all the
    question's: "Isaac Sim" for "what is Isaac Sim?", not "ORB-SLAM" for "what is SLAM?")?"""
    found = _DEFINES.match(EMPHASIS.sub("", text))
    subject = set(content_terms(found.group(1))) if found else set()
    return bool(subject) and subject <= question_terms


def _overlap(a: Excerpt, b: Excerpt) -> float:
    return len(a.terms & b.terms) / max(1, min(len(a.terms), len(b.terms)))


def _meta_penalty(question: str, context: str) -> float:
    """Excerpts of a "Learning Objectives" or "Next steps" section, or of any section under one (a "References"
    page's "Humanoid Robotics" list), weigh less, unless the question asks for them."""
    meta = any(_META_SECTION.match(part) for part in context.split("›"))
    return META_PENALTY if meta and not _ASKS_META.search(question) else 1.0


def _code_for(chosen: list[Excerpt], candidates: list[Excerpt], scores: np.ndarray) -> list[Excerpt]:
    """For a how-to question, the best-scoring code block of a passage the answer already quotes (or of the
    best passage): the steps a student would run."""
    quoted = {c.passage for c in chosen} | {1}
    code = [(score, c) for score, c in zip(scores, candidates, strict=True) if c.code and c.passage in quoted]
    return [max(code, key=lambda sc: sc[0])[1]] if code else []


def _render(chosen: list[Excerpt]) -> str:
    """The best excerpt leads (`chosen` is best first), then the rest of its passage in the book's order, then the
    other passages, each cited. Table rows of one table are shown as a small table, code as a block."""
    lead = chosen[0]
    paragraphs = []
    for n in dict.fromkeys(c.passage for c in chosen):
        mine = sorted((c for c in chosen if c.passage == n), key=lambda c: c.position)
        if n == lead.passage:
            mine = [lead, *(c for c in mine if c is not lead)]
        paragraphs.append(_paragraph(mine, n))
    return "\n\n".join(paragraphs)


def _paragraph(excerpts: list[Excerpt], n: int) -> str:
    """One passage's excerpts as blocks: prose sentences run together; rows of one table, a table; code, a block."""
    blocks: list[str] = []
    prose: list[str] = []
    rows: list[Excerpt] = []

    def flush() -> None:
        if prose:
            blocks.append(" ".join(prose))
            prose.clear()
        if rows:
            blocks.append(_table(rows, n))
            rows.clear()

    for excerpt in excerpts:
        kind = "row" if excerpt.cells else "code" if excerpt.code else "prose"
        if (prose and kind != "prose") or (rows and (kind != "row" or rows[0].header != excerpt.header)):
            flush()  # a block ends where an excerpt of another kind, or of another table, follows
        if kind == "row":
            rows.append(excerpt)
        elif kind == "code":
            blocks.append(f"[{n}]\n\n{excerpt.text}")
        else:
            prose.append(_cite(excerpt.text, n))
    flush()
    return "\n\n".join(blocks)


def _table(rows: list[Excerpt], n: int) -> str:
    """Rows under their header, each row cited in its last cell."""
    header = rows[0].header
    width = max(len(header), *(len(r.cells) for r in rows))
    head = [*header, *[""] * (width - len(header))]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * width]
    for row in rows:
        cells = [*row.cells, *[""] * (width - len(row.cells))]
        cells[-1] = f"{cells[-1]} [{n}]".strip()
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
        passages, reading = self.context.passages, self.context.reading
        text = await asyncio.to_thread(
            self.composer.compose,
            self.context.query,
            [p.text for p in passages],
            [p.breadcrumb for p in passages],
            [p.excerpt_vectors for p in passages],
            self.context.query_vector,
            reading.selection if reading else "",
            [reading is not None and p.doc_id == reading.doc_id for p in passages],
        )
        return _response_events(text)

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        events = await self._events()
        return ModelResponse(output=events[-1].response.output, usage=Usage(), response_id="excerpts")

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        for event in await self._events():
            yield event
