"""An answer and a passage as every surface returns them: REST (`web.api`), the MCP server (`web.mcp_server`)
and the OpenAI-compatible endpoint (`web.openai_compat`). Their fields are declared here once."""

from __future__ import annotations

from pydantic import BaseModel, Field

from rag.answer.grounding import PublicVerdict, public_verdict
from rag.answer.relevance import Asks, Relevance
from rag.answer.result import Answer
from rag.chats.citations import Opened
from web.display import citation_url, link_target
from web.rendering import to_html
from web.rest import CitedPassage, public


class SourceOut(CitedPassage):
    n: int
    title: str
    score: float


class SentenceOut(BaseModel):
    text: str
    cites: list[int]
    supported: bool | None = Field(description="null: the sentence makes no factual claim, or is not verified")
    verdict: PublicVerdict = Field(
        description="supported by its cited passage; not verified (a paraphrase nothing confirms or contradicts); "
        "unsupported (contradicted by the passages, or absent from all of them); no factual claim"
    )
    reason: str = Field(description="why, for a sentence not supported as written (empty otherwise)")
    score: float


class RelevanceOut(BaseModel):
    answers: bool = Field(
        description="the answer covers the question's topic (its terms, weighted by rarity in the book)"
    )
    asks: Asks = Field(description="what the question's opening asks for")
    shows: bool = Field(description="the answer holds it: a definition, code or steps, a reason")
    topic: float = Field(description="the rarity-weighted share of the question's terms the answer holds")
    reason: str = Field(description="why the answer is off the point (empty when it answers)")


class ChatResponse(BaseModel):
    answer: str
    sources: list[SourceOut]
    cited: bool
    covered: bool
    coverage: str
    searched: str = Field(description="what was searched: the question, with the previous one for a follow-up")
    sentences: list[SentenceOut]
    grounded: float | None
    relevance: RelevanceOut | None = Field(description="does the answer answer the question; null when refused")
    kept: bool = Field(description="the answer is in the chat's history (false: a follow-up will not see it)")
    not_kept: str = Field(description="why it is not (empty when it is): which database failed, and what to check")
    language: str = Field(
        description="the question's language when not the book's (English), e.g. Spanish; empty when English"
    )
    processing_time_ms: int
    model: str
    chat_id: str


class PassageOut(CitedPassage):
    id: str
    title: str
    doc_id: str
    anchor: str
    html: str = Field(description="the passage as HTML, in the book's paragraphs")
    link: str | None = Field(
        description="the section in the book, where the book's tutor plugin marks the passage (the current section "
        "when the passage has changed)"
    )
    current: bool = Field(
        description="false when the book has changed since an answer cited it: the passage is shown as it was"
    )


def answer_json(answer: Answer, chat_id: str) -> dict:
    return answer_out(answer, chat_id).model_dump()


def answer_out(answer: Answer, chat_id: str) -> ChatResponse:
    """An answer as REST and the MCP server give it: its text, sources, checked sentences and relevance."""
    return ChatResponse(
        answer=answer.text,
        sources=[
            SourceOut(
                n=s.n, title=s.passage.title, score=round(s.passage.similarity, 4), **CitedPassage.fields(s.passage)
            )
            for s in answer.sources
        ],
        cited=answer.cited,
        covered=answer.covered,
        coverage=answer.coverage_reason,
        searched=answer.query,
        sentences=[
            SentenceOut(
                text=s.text,
                cites=s.cites,
                supported=s.supported,
                verdict=public_verdict(s),
                reason=s.reason,
                score=round(s.score, 3),
            )
            for s in answer.sentences
        ],
        grounded=None if answer.grounded is None else round(answer.grounded, 3),
        relevance=_relevance_json(answer.relevance),
        kept=not answer.not_kept,
        not_kept=public(answer.not_kept),
        language=answer.language,
        processing_time_ms=answer.processing_time_ms,
        model=answer.model,
        chat_id=chat_id,
    )


def _relevance_json(relevance: Relevance | None) -> RelevanceOut | None:
    if relevance is None:
        return None
    return RelevanceOut(
        answers=relevance.answers,
        asks=relevance.asks,
        shows=relevance.shows,
        topic=round(relevance.topic, 3),
        reason=relevance.reason,
    )


NO_PASSAGE = "No such passage: no answer cited it, and the book does not hold it."


def passage_out(passage_id: str, opened: Opened) -> PassageOut:
    """A passage as a citation opens it, for REST and the MCP server."""
    p = opened.passage
    where = link_target(p.url)  # the section; with the passage marked in it while the book still holds it
    return PassageOut(
        id=passage_id,
        title=p.title,
        doc_id=p.doc_id,
        anchor=p.anchor,
        html=to_html(p.text),
        link=link_target(citation_url(p)) if where and opened.current else where,
        current=opened.current,
        **CitedPassage.fields(p),
    )
