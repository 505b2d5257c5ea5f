"""How the chat page and the book's widget show the tutor, as Chainlit messages (their texts are
`web.display`'s): answers streamed, each `[n]` a link to its passage (the chat page's panel, or the book from
the widget), hints with a More help button, quiz items with their choices as buttons, and graded answers with a
Why? button. Failures of the tutor's services and of the student's input are said once, here (`reported`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import chainlit as cl
from chainlit.mode import Mode, ModeOption

from rag.answer.result import Answer, QuestionError, Source
from rag.chats.history import ChatNotFound
from rag.errors import ServiceError
from rag.llm.providers import ProfileNotAllowed
from rag.search.passage import SearchResult
from rag.study.items import Item
from rag.study.service import Graded, ItemNotFound, QuizError
from web import display
from web.widget import in_book

STUDY = "study"  # the composer's mode picker
ANSWER, HINTS, QUIZ = "answer", "hints", "quiz"
MORE_HELP, CHOICE, WHY, END_QUIZ = "more_help", "quiz_choice", "quiz_why", "quiz_end"


def study_modes() -> list[Mode]:
    """The picker in the composer: how the tutor helps with the next message."""
    options = [
        ModeOption(id=ANSWER, name="Answer", description="Answers from the book, cited", icon="book", default=True),
        ModeOption(id=HINTS, name="Hints", description="Hints first: find the answer yourself", icon="lightbulb"),
        ModeOption(id=QUIZ, name="Quiz me", description="Questions from the book on a topic", icon="list-checks"),
    ]
    return [Mode(id=STUDY, name="Study", options=options)]


def study_mode(message: cl.Message) -> str:
    return (message.modes or {}).get(STUDY, ANSWER)


@asynccontextmanager
async def reported(reply: cl.Message | None = None) -> AsyncIterator[None]:
    """Say what went wrong instead of failing the message (a half-streamed reply is ended first)."""
    try:
        yield
    except ServiceError as exc:  # the tutor's services, and the rate limit's Redis
        if reply is not None and reply.streaming:
            await reply.send()
        await cl.Message(content=display.error_markdown(exc)).send()
    except ChatNotFound:
        await cl.Message(content="⚠️ This chat belongs to someone else: start a new chat.").send()
    except (QuestionError, ProfileNotAllowed, QuizError) as exc:
        await cl.Message(content=f"⚠️ {exc}").send()
    except ItemNotFound:
        await cl.Message(content="⚠️ There is no quiz question waiting for an answer here.").send()


def _cited(markdown: str, sources: Sequence[Source]) -> str:
    """A text citing `sources` as [n]: each a link to its passage (the chat page's panel, or the book)."""
    return display.linked_citations(markdown, sources, in_book())


async def show(events: AsyncIterator[SearchResult | str | Answer], reply: cl.Message) -> None:
    """An answer (or a hint) as it comes: the search as a step, the text streamed, then the checked answer with
    its sources (a hint with a More help button)."""
    async with cl.Step(name="Searching the textbook", type="retrieval", show_input=False) as step:
        first = await anext(events)
        if isinstance(first, SearchResult):
            step.output = display.search_step_output(first)
    if not isinstance(first, SearchResult):  # feedback on an attempt: nothing was searched
        await step.remove()
    async for event in _after(first, events):
        if isinstance(event, str):
            await reply.stream_token(event)
        elif isinstance(event, Answer):
            reply.content = display.answer_markdown(event, in_book=in_book())
            if "more_help" in event.offers:
                reply.actions = [cl.Action(name=MORE_HELP, payload={}, label="More help", icon="lightbulb")]
            await reply.send()  # ends the stream, and persists the message


async def _after(
    first: SearchResult | str | Answer, events: AsyncIterator[SearchResult | str | Answer]
) -> AsyncIterator[str | Answer]:
    if not isinstance(first, SearchResult):
        yield first
    async for event in events:
        if not isinstance(event, SearchResult):
            yield event


async def send_item(item: Item) -> None:
    """A quiz item: its question, its choices as buttons, and a way out."""
    actions = [
        cl.Action(name=CHOICE, payload={"item": item.id, "choice": choice}, label=f"{letter}. {choice}")
        for letter, choice in zip("ABCD", item.choices, strict=False)
    ]
    actions.append(cl.Action(name=END_QUIZ, payload={}, label="End the quiz", icon="square"))
    await cl.Message(content=display.item_markdown(item), actions=actions).send()


async def send_graded(graded: Graded, following: Item | None) -> None:
    """The grade and what the book says (cited, with Why?), then the next item or the end of the quiz."""
    content = _cited(display.graded_markdown(graded), [Source(1, graded.item.passage)])
    why = cl.Action(name=WHY, payload={"item": graded.item.id}, label="Why?", icon="book-open")
    await cl.Message(content=content, actions=[why]).send()
    if following is not None:
        await send_item(following)
    else:
        await cl.Message(content=display.QUIZ_DONE).send()


async def send_why(item: Item) -> None:
    """The passage that makes the answer right, shown in the chat with the sentence marked."""
    await cl.Message(content=_cited(display.why_markdown(item), [Source(1, item.passage)])).send()
