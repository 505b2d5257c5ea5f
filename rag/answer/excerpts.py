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

from rag.text.candidates import Excerpt, embedding_text, excerpts_of
from rag.text.intent import asked_head, asks_definition, asks_how, defines, section_weight
from rag.text.lexical import TermStats, content_terms, words

if TYPE_CHECKING:
    from rag.answer.agent import TutorContext
    from rag.search.passage import Passage

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
# A sentence that opens by pointing back ("For this ROS 2 offers services", "It also ...") says little without the
# one before it: it weighs this much.
_POINTS_BACK = re.compile(
    r"^\W*(?:(?:for|in|because of|with|like|unlike|besides) )?(?:this|these|that|those|it|its|they|their|such)\b",
    re.IGNORECASE,
)
POINTS_BACK_WEIGHT = 0.7
# How much a definition of the asked-about term gains over other excerpts when the question asks what it is.
DEFINITION_BONUS = 1.2
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
        own_question: str = "",
    ) -> str:
        """An answer of excerpts from `passages` (numbered from 1); `contexts` are their breadcrumbs, `vectors`
        their excerpts' vectors as ingest stored them (None: embedded now), `asked` the question's vector if the
        search has it already, `read` the text the question is about (a selection in the book): its own
        sentences are left out while others can answer, since the student has just read them; `preferred` the
        passages of the page being read, whose best sentence leads when it answers nearly as well; `own_question`
        the student's question alone when `question` also holds the one it follows up: what it asks for (a
        definition, code) is its own."""
        intent = own_question or question
        candidates, scores = self._scored(question, passages, contexts, vectors, asked, read, intent)
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
        if asks_how(intent) and not any(c.code for c in chosen):
            chosen += _code_for(chosen, candidates, scores)
        chosen = _whole_tables(chosen, candidates)
        for lead in (_definition(intent, candidates, scores), _page_lead(candidates, scores, preferred)):
            if lead is not None:  # the page being read has the last word
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
        intent: str = "",
    ) -> tuple[list[Excerpt], np.ndarray]:
        """Every candidate excerpt of the passages, and its score for the question (what it asks for: `intent`'s)."""
        contexts = list(contexts) or [""] * len(passages)
        vectors = list(vectors) or [None] * len(passages)
        groups = [
            (excerpts_of(n, text, where), known)
            for n, (text, where, known) in enumerate(zip(passages, contexts, vectors, strict=True), 1)
        ]
        candidates = [e for found, _ in groups for e in found]
        if not candidates:
            return [], np.zeros(0)
        scores = self._scores(question, candidates, *self._vectors(question, groups, asked), intent or question)
        return candidates, scores * _unread(candidates, read)

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

    def _scores(
        self, question: str, candidates: list[Excerpt], asked: np.ndarray, vectors: np.ndarray, intent: str
    ) -> np.ndarray:
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
        asks, head = asks_definition(intent), asked_head(intent)
        definition = np.array([DEFINITION_BONUS if asks and defines(c.text, terms, head) else 1.0 for c in candidates])
        meta = np.array([section_weight(intent, c.context) for c in candidates])
        alone = np.array([POINTS_BACK_WEIGHT if _POINTS_BACK.match(c.text) else 1.0 for c in candidates])
        return (0.6 * dense + 0.4 * lexical) * rank * short * definition * meta * alone


def _definition(question: str, candidates: list[Excerpt], scores: np.ndarray) -> Excerpt | None:
    """For "what is X?", the best-scoring excerpt that defines X (`defines`, X's head included): an answer leads
    with the book's definition, wherever the search ranked its passage (a sentence naming "ROS 2" and "topic"
    can outscore "A topic is ...")."""
    head, terms = asked_head(question), set(content_terms(question))
    found = [i for i, c in enumerate(candidates) if head is not None and defines(c.text, terms, head)]
    best = max(found, key=lambda i: scores[i], default=None)
    return None if best is None else candidates[best]


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


def _overlap(a: Excerpt, b: Excerpt) -> float:
    return len(a.terms & b.terms) / max(1, min(len(a.terms), len(b.terms)))


def _code_for(chosen: list[Excerpt], candidates: list[Excerpt], scores: np.ndarray) -> list[Excerpt]:
    """For a how-to question, the best-scoring code block of a passage the answer already quotes (or of the
    best passage): the steps a student would run."""
    quoted = {c.passage for c in chosen} | {1}
    code = [(score, c) for score, c in zip(scores, candidates, strict=True) if c.code and c.passage in quoted]
    return [max(code, key=lambda sc: sc[0])[1]] if code else []


def _render(chosen: list[Excerpt]) -> str:
    """The best excerpt leads (`chosen` is best first; after the chosen sentences just before it, `_run_to`),
    then the rest of its passage in the book's order, then the other passages, each cited. Table rows of one
    table are shown as a small table, code as a block."""
    lead = chosen[0]
    paragraphs = []
    for n in dict.fromkeys(c.passage for c in chosen):
        mine = sorted((c for c in chosen if c.passage == n), key=lambda c: c.position)
        if n == lead.passage:
            run = _run_to(mine, lead)
            mine = [*run, *(c for c in mine if c not in run)]
        paragraphs.append(_paragraph(mine, n))
    return "\n\n".join(paragraphs)


def _run_to(mine: list[Excerpt], lead: Excerpt) -> list[Excerpt]:
    """What leads with the lead (`mine` is in the book's order, with none left out between): its whole table for
    a row; for a sentence, the chosen sentences just before it ("For the caster we need another joint. We used a
    ball." stays in that order)."""
    at = mine.index(lead)
    start, end = at, at + 1

    def joined(before: Excerpt, after: Excerpt) -> bool:
        together = _same_table(before, after) if lead.cells else _prose(before) and _prose(after)
        return together and before.position == after.position - 1

    while start > 0 and joined(mine[start - 1], mine[start]):
        start -= 1
    while lead.cells and end < len(mine) and joined(mine[end - 1], mine[end]):
        end += 1
    return mine[start:end]


def _same_table(a: Excerpt, b: Excerpt) -> bool:
    return bool(a.cells and b.cells) and a.passage == b.passage and a.header == b.header


def _whole_tables(chosen: list[Excerpt], candidates: list[Excerpt]) -> list[Excerpt]:
    """`chosen` with every row of each table it quotes a row of (a table is shown whole or not at all), the
    rows added where the table's first chosen row is."""
    whole: list[Excerpt] = []
    for excerpt in chosen:
        if excerpt in whole:
            continue
        if not excerpt.cells:
            whole.append(excerpt)
            continue
        table, found = [excerpt], candidates.index(excerpt)
        for step in (-1, 1):  # the rows on either side, as long as they follow one another
            at = found
            while 0 <= at + step < len(candidates) and _same_table(candidates[at + step], excerpt):
                at += step
                table.append(candidates[at])
        whole += sorted(table, key=lambda c: c.position)
    return whole


def _prose(excerpt: Excerpt) -> bool:
    return not excerpt.code and not excerpt.cells


def _paragraph(excerpts: list[Excerpt], n: int) -> str:
    """One passage's excerpts as blocks: prose sentences run together; rows of one table, a table; code, a block.
    Code carries no citation of its own where a sentence or row of its passage is cited beside it; alone, it
    follows a line naming its section, cited (never a bare `[n]` on a line)."""
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
            blocks.append(excerpt.text)
        else:
            prose.append(_cite(excerpt.text, n))
    flush()
    if all(e.code for e in excerpts):
        section = excerpts[0].context.split("›")[-1].strip()
        blocks.insert(0, f"From *{section or 'the book'}* [{n}]:")
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
            self.context.question,
        )
        return _response_events(text)

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        events = await self._events()
        return ModelResponse(output=events[-1].response.output, usage=Usage(), response_id="excerpts")

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        for event in await self._events():
            yield event
