"""What a chat message asks of the tutor, and the study flows it starts, on the chat page and in the book's
widget: a quiz item waiting for an answer takes any message; then Review, Quiz me, Hints, and otherwise an
answer. `app.py` only wires Chainlit's callbacks to these."""

from __future__ import annotations

import chainlit as cl

from rag.engine import Engine
from rag.identity import Identity
from rag.llm.specs import ProviderName
from rag.search.passage import Reading
from rag.study.service import QUIZ_ITEMS, Study, topic_of
from web import chat, display


def feedback_id(reply: cl.Message) -> str:
    """Chainlit attaches feedback to the run that answered the message."""
    run = cl.context.current_run
    return run.id if run else reply.id


async def take(
    engine: Engine,
    identity: Identity,
    message: cl.Message,
    reading: Reading | None,
    profile: ProviderName | None,
    reply: cl.Message,
) -> None:
    """One message of the chat, to the study flow or the answer it asks for."""
    mode, thread = chat.study_mode(message), cl.context.session.thread_id
    waiting = await engine.study.current(thread, identity.id)  # a quiz item, in any mode
    if message.command == display.REVIEW_COMMAND["id"]:
        await review(engine.study, identity)
    elif waiting is not None:
        await respond(engine.study, identity, message.content)
    elif mode == chat.QUIZ:
        await quiz(engine.study, identity, message.content, reading)
    elif mode == chat.HINTS:
        await chat.show(engine.hints.stream(message.content, thread, owner=identity.id, reading=reading), reply)
    else:
        events = await engine.answers.ask(
            message.content,
            thread,
            provider_name=profile,
            owner=identity.id,
            role=identity.role,
            step_id=feedback_id(reply),
            reading=reading,
        )
        await chat.show(events, reply)


async def more_help(engine: Engine, identity: Identity, profile: ProviderName | None, reply: cl.Message) -> None:
    """The open question's next hint (its full answer at the last step)."""
    events = engine.hints.more_help(
        cl.context.session.thread_id,
        owner=identity.id,
        role=identity.role,
        provider_name=profile,
        step_id=feedback_id(reply),
    )
    await chat.show(events, reply)


async def quiz(study: Study, identity: Identity, text: str, reading: Reading | None) -> None:
    """A quiz on the topic the message names (or, naming none, on the page being read or the chat's latest
    question), asked one item at a time."""
    thread = cl.context.session.thread_id
    items = await study.quiz(identity.id, QUIZ_ITEMS, topic=topic_of(text) or None, chat_id=thread, reading=reading)
    first = await study.begin(thread, identity.id, items)
    if first is not None:
        await chat.send_item(first)


async def respond(study: Study, identity: Identity, response: str, item_id: str | None = None) -> None:
    """A response to the quiz item waiting (or to `item_id`, a choice clicked): graded, then the next item."""
    thread = cl.context.session.thread_id
    graded, following = await study.respond(thread, identity.id, response, item_id)
    await chat.send_graded(graded, following)


async def review(study: Study, identity: Identity) -> None:
    """The items due for review, asked one by one like a quiz."""
    due = await study.due(identity.id)
    first = await study.begin(cl.context.session.thread_id, identity.id, due)
    if first is None:
        await cl.Message(content=display.NOTHING_DUE).send()
    else:
        await chat.send_item(first)


async def why(study: Study, identity: Identity, item_id: str) -> None:
    """The passage that makes a quiz item's answer right, when the item is the student's."""
    item = await study.item(item_id, identity.id)
    if item is not None:
        await chat.send_why(item)


async def end_quiz(study: Study, identity: Identity) -> None:
    await study.end(cl.context.session.thread_id, identity.id)
    await cl.Message(content=display.QUIZ_ENDED).send()
