"""Chainlit UI: callbacks only. The engine is `rag/`, the web layer `web/`: shared with the REST API and the tests."""

from __future__ import annotations

import logging
import os
import sys
from http.cookies import SimpleCookie
from typing import Any, cast

import chainlit as cl
from chainlit.auth.cookie import get_token_from_cookies
from chainlit.config import config as chainlit_config
from chainlit.server import app as server
from chainlit.server import sio
from chainlit.types import CommandDict, ThreadDict
from fastapi import Request, Response
from pydantic import ValidationError
from starlette.datastructures import Headers

from rag import logs
from rag.config import keep_files_private, load_settings, oauth_configured
from rag.db.database import Database
from rag.errors import TutorError
from rag.identity import (
    VISITOR_COOKIE,
    Identity,
    UsersFile,
    announce_instructor_link,
    identity_of,
    logged_in,
    role_of,
    visitor_from_cookie,
)
from rag.llm.providers import allowed_provider, by_label, offered, provider
from rag.llm.specs import ProviderName
from web import chat, display, turns
from web.api import mount_api
from web.book import PATH as BOOK_PATH
from web.datalayer import TutorDataLayer
from web.reading import reading_of
from web.widget import for_the_book, from_book, in_book, page_being_read, tell_ready

logs.configure("%(asctime)s %(levelname)s %(name)s: %(message)s")
keep_files_private()
settings = load_settings()  # a ConfigError here stops the app with the list of variables to fix
database = Database(settings)
mounted = mount_api(server, settings, database)
access, engines = mounted.access, mounted.engines
# uvicorn, which `chainlit run` starts once this module is loaded, believes X-Forwarded-For from these only.
os.environ["FORWARDED_ALLOW_IPS"] = settings.trusted_proxies
os.environ["CHAINLIT_AUTH_SECRET"] = access.secret  # read by Chainlit when it signs sessions
chainlit_config.project.allow_origins[:] = settings.origins  # same origin only, unless ALLOWED_ORIGINS says more
sio.eio.cors_allowed_origins = access.socket_origin_allowed  # and the same for Socket.IO (Chainlit turns it off)


@cl.data_layer
def data_layer() -> TutorDataLayer:
    return TutorDataLayer(database, access.storage)


# -- who is asking ----------------------------------------------------------------------------------------


def _user(identity: Identity) -> cl.User:
    return cl.User(identifier=identity.id, metadata=identity.metadata)


if not settings.login_required:

    @cl.header_auth_callback
    async def visitor(headers: Headers) -> cl.User | None:
        """Zero config: the browser's own signed visitor cookie is its identity; no login page."""
        cookies = SimpleCookie(headers.get("cookie", ""))
        morsel = cookies.get(VISITOR_COOKIE)
        identity = visitor_from_cookie(access.secret, morsel.value if morsel else None)
        return _user(identity) if identity else None


if settings.users_file is not None:
    users = UsersFile(settings.users_file)

    @cl.password_auth_callback
    async def password_login(username: str, password: str) -> cl.User | None:
        identity = users.login(username, password)
        return _user(identity) if identity else None


if oauth_configured():

    @cl.oauth_callback
    async def oauth_login(
        provider_id: str, token: str, raw_user_data: dict[str, str], default_user: cl.User, *args: Any
    ) -> cl.User | None:
        return _user(logged_in(default_user.identifier, role_of(default_user.identifier, settings), "oauth"))


@cl.on_logout
async def logout(request: Request, response: Response) -> None:
    """Chainlit only forgets the cookie in this browser: the session itself ends, for every copy of its token."""
    identity = access.session_of(get_token_from_cookies(request.cookies))
    if identity is not None and identity.session:
        await access.logins.end(identity.session)


def _cookies() -> dict[str, str]:
    """The cookies the chat session's socket connected with."""
    cookies = SimpleCookie((cl.context.session.environ or {}).get("HTTP_COOKIE", ""))
    return {name: morsel.value for name, morsel in cookies.items()}


def _client_address() -> str | None:
    """The address of the chat session's client (behind TRUSTED_PROXIES, the one they forwarded)."""
    client = (cl.context.session.environ or {}).get("asgi.scope", {}).get("client") or (None, 0)
    return client[0]


def _may_see_the_instructor_view(identity: Identity) -> bool:
    """The rule `/instructor` applies, for the chat's session and its cookies."""
    return access.may_open_instructor_view(identity, _cookies())


async def _session_ended() -> bool:
    """Whether the socket's session ended after it connected (a logout elsewhere, a removal, a new role)."""
    return await access.session_ended(cl.context.session.token)


def _identity(user: cl.User | None) -> Identity:
    return identity_of(user.identifier, user.metadata) if user else Identity("local")


# -- the chat ---------------------------------------------------------------------------------------------


@cl.on_app_startup
async def start() -> None:
    try:
        await engines.get()  # load models now rather than on the first question
    except TutorError as exc:
        logging.getLogger("app").error("tutor not ready: %s", exc)
    host = chainlit_config.run.host if chainlit_config.run.host not in ("0.0.0.0", "::") else "localhost"
    url = f"http://{host}:{chainlit_config.run.port}"
    if settings.book_dir is not None:
        print(f"The book, with the tutor on every page: {url}{BOOK_PATH}/", file=sys.stderr)
    if not settings.login_required:  # it opens every student's questions: the operator's eyes only
        announce_instructor_link(access.secret, url, settings.data_dir, sys.stderr)
    if mounted.handoff is not None:  # `python -m ingest` hands its work to this app, which holds the store
        mounted.handoff.announce(f"http://127.0.0.1:{chainlit_config.run.port}")


@cl.on_app_shutdown
async def stop() -> None:
    if mounted.handoff is not None:
        mounted.handoff.withdraw()
    engines.close()


@cl.set_starters
async def starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    return [cl.Starter(label=label, message=message) for label, message in display.STARTERS]


@cl.set_chat_profiles
async def profiles(user: cl.User | None = None, language: str | None = None) -> list[cl.ChatProfile]:
    if from_book():  # the book's widget answers with the role's default (web.widget.WidgetRequests says why)
        return []
    role = _identity(user).role
    names, default = offered(settings, role), allowed_provider(settings, role, None)
    records = [provider(settings, name) for name in names]
    return [
        cl.ChatProfile(name=p.label, markdown_description=p.description, default=p.name == default) for p in records
    ]


@cl.on_chat_start
async def chat_start() -> None:
    try:
        engine = await engines.get()
    except TutorError as exc:
        await cl.Message(content=display.error_markdown(exc)).send()
        return
    if engine.store.count() == 0:
        await cl.Message(content=display.EMPTY_COLLECTION).send()
    commands = [display.REVIEW_COMMAND]
    if _may_see_the_instructor_view(_identity(cl.user_session.get("user"))):
        commands.append(display.INSTRUCTOR_COMMAND)
    await cl.context.emitter.set_commands([cast(CommandDict, command) for command in commands])
    await cl.context.emitter.set_modes(chat.study_modes())
    if in_book():
        await tell_ready()


@cl.on_chat_resume
async def chat_resume(thread: ThreadDict) -> None:
    """Chainlit restores the messages (their `[n]` open the passage panel); the tutor's memory of the chat is in
    the database under the same id, so the conversation simply continues. In the book's widget, its citations
    link into the book instead."""
    if in_book():
        for_the_book(thread)
        await tell_ready()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    identity = _identity(cl.user_session.get("user"))
    if await _session_ended():
        await cl.Message(content="⚠️ Your session has ended: reload the page and log in again.").send()
        return
    if message.command == display.INSTRUCTOR_COMMAND["id"] and _may_see_the_instructor_view(identity):
        await cl.Message(content=display.INSTRUCTOR_LINK).send()
        return
    try:
        reading = reading_of(message.metadata)  # the book widget's page and selection, as data
    except ValidationError as exc:
        await cl.Message(content=display.bad_reading(exc)).send()
        return
    if reading is None and in_book():  # typed in the widget: the page says where the student is
        reading = await page_being_read()
    reply = cl.Message(content="")
    async with chat.reported(reply):
        limited = await access.limiter.check(identity.id, _client_address())
        if limited is not None:
            await cl.Message(content=display.rate_limited(limited)).send()
            return
        engine = await engines.get()
        await turns.take(engine, identity, message, reading, _profile(), reply)


def _profile() -> ProviderName | None:
    """The profile the student picked (the engine checks their role may use it)."""
    chosen = by_label(settings, cl.user_session.get("chat_profile"))
    return chosen.name if chosen else None


@cl.action_callback(chat.MORE_HELP)
async def more_help(action: cl.Action) -> None:
    identity = _identity(cl.user_session.get("user"))
    reply = cl.Message(content="")
    async with chat.reported(reply):
        engine = await engines.get()
        await turns.more_help(engine, identity, _profile(), reply)


@cl.action_callback(chat.CHOICE)
async def choice(action: cl.Action) -> None:
    identity = _identity(cl.user_session.get("user"))
    async with chat.reported():
        engine = await engines.get()
        await turns.respond(
            engine.study, identity, str(action.payload.get("choice", "")), str(action.payload.get("item", ""))
        )


@cl.action_callback(chat.WHY)
async def why(action: cl.Action) -> None:
    identity = _identity(cl.user_session.get("user"))
    async with chat.reported():
        engine = await engines.get()
        await turns.why(engine.study, identity, str(action.payload.get("item", "")))


@cl.action_callback(chat.END_QUIZ)
async def end_quiz(action: cl.Action) -> None:
    identity = _identity(cl.user_session.get("user"))
    async with chat.reported():
        engine = await engines.get()
        await turns.end_quiz(engine.study, identity)
