"""Chainlit UI: wiring only. The logic lives in `rag/` (shared with the REST API and the tests)."""

from __future__ import annotations

import logging
from typing import Any

import chainlit as cl
from chainlit.server import app as server

from rag import display
from rag.api import mount_api
from rag.config import load_settings
from rag.providers import by_label, choose_provider, configured_providers, provider
from rag.retrieval import SearchResult
from rag.tutor import Answer, TutorError, TutorHolder

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
settings = load_settings()  # a ConfigError here stops the app with the list of variables to fix
server.state.tutors = TutorHolder(settings)
mount_api(server)


@cl.on_app_startup
async def start() -> None:
    try:
        await server.state.tutors.get()  # load models now rather than on the first question
    except TutorError as exc:
        logging.getLogger("app").error("tutor not ready: %s", exc)


@cl.on_app_shutdown
async def stop() -> None:
    server.state.tutors.close()


@cl.set_starters
async def starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    return [cl.Starter(label=label, message=message) for label, message in display.STARTERS]


@cl.set_chat_profiles
async def profiles(user: cl.User | None = None, language: str | None = None) -> list[cl.ChatProfile]:
    settings = server.state.tutors.settings
    default = choose_provider(settings).name
    records = [provider(settings, name) for name in configured_providers(settings)]
    return [
        cl.ChatProfile(name=p.label, markdown_description=p.description, default=p.name == default) for p in records
    ]


@cl.on_chat_start
async def chat_start() -> None:
    try:
        tutor = await server.state.tutors.get()
    except TutorError as exc:
        await cl.Message(content=display.error_markdown(exc)).send()
        return
    if tutor.store.count() == 0:
        await cl.Message(content=display.EMPTY_COLLECTION).send()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    chosen = by_label(server.state.tutors.settings, cl.user_session.get("chat_profile"))
    reply, streamed = cl.Message(content=""), False
    try:
        tutor = await server.state.tutors.get()
        events = tutor.answer_stream(message.content, cl.context.session.thread_id, chosen.name if chosen else None)
        async with cl.Step(name="Searching the textbook", type="retrieval", show_input=False) as step:
            result: SearchResult = await anext(events)
            step.output = display.search_step_output(result)
        async for event in events:
            if isinstance(event, str):
                await reply.stream_token(event)
                streamed = True
            elif isinstance(event, Answer):
                reply.content = display.answer_markdown(event)
                panels: list[Any] = [  # Text elements; Message.elements is typed with an unbound TypeVar
                    cl.Text(name=f"[{s.n}]", content=display.source_panel(s), display="side")
                    for s in event.sources
                    if event.covered
                ]
                reply.elements = panels
                await (reply.update() if streamed else reply.send())
    except TutorError as exc:
        await cl.Message(content=display.error_markdown(exc)).send()
    except ValueError as exc:  # empty or overlong question
        await cl.Message(content=f"⚠️ {exc}").send()
