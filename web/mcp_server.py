"""The textbook as an MCP server, for desktop assistants and any MCP client: the official SDK's FastMCP, over the
engine's services (`rag.engine`), the code path the chat page and REST take.

- Tools: `search_book`, `read_passage`, `ask_tutor` (the checked, cited answer as REST gives it), `quiz` and
  `answer_quiz`.
- Resources: `book://outline` (chapters and pages) and `book://pages/{page}` (a page's text), one per page.
- Transports: streamable HTTP at /mcp, mounted by `web.api.mount_api` behind REST's rules (`McpDoor`: the same
  identities and API tokens, Origin rule, body limit; the same rate limit and profiles in the tools), stateless so
  that any app process behind a load balancer answers any call; and stdio, `python -m web.mcp_server`, for an
  assistant on the machine that holds an embedded store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import HTTPException
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.fastmcp.resources import FunctionResource
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, ContentBlock, TextContent
from mcp.types import Resource as MCPResource
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from rag import logs
from rag.answer.result import clean_question
from rag.chats.history import ChatNotFound
from rag.config import ConfigError, keep_files_private, load_settings
from rag.db.database import Database
from rag.engine import Engine, EngineHolder
from rag.errors import ServiceError
from rag.identity import LOCAL_OWNER, Identity
from rag.llm.providers import ProfileNotAllowed
from rag.llm.specs import ProviderName
from rag.search.book import Book
from rag.search.embeddings import EmbeddingError
from rag.search.passage import Reading
from rag.store import StoreError, StoreLocked
from rag.study.service import ItemNotFound, QuizError
from web.access import Access
from web.outputs import NO_PASSAGE, ChatResponse, PassageOut, answer_out, passage_out
from web.rest import NO_CHAT, NO_ITEM, CitedPassage, caller, public, within_limit
from web.study import AnswerResponse, graded_out

PATH = "/mcp"
log = logging.getLogger(__name__)
OUTLINE = "book://outline"
PAGES = "book://pages/"
LOCAL = Identity(LOCAL_OWNER, role="student")  # who asks over stdio: the person at this machine, as a student
INSTRUCTIONS = (
    "The course textbook and its tutor. Search the book or ask the tutor, which answers from the book alone, cites "
    "each passage as [n] and checks every sentence against them; quiz the student on a page or a chat. Show the "
    "student the tutor's [n] citations with their sources, and never present a sentence it flags as the book's."
)


class Hit(CitedPassage):
    id: str = Field(description="Open it with read_passage.")
    title: str
    score: float


class Found(BaseModel):
    covered: bool = Field(description="false: the book does not cover the question")
    passages: list[Hit]


class QuizQuestion(BaseModel):
    """An item as the student sees it: its answer key stays with the tutor, which grades with answer_quiz."""

    id: str
    kind: str = Field(description="free (in your own words), choice (multiple choice) or fill (fill in the blank)")
    question: str
    choices: list[str] | None
    section: str
    url: str


class Quiz(BaseModel):
    items: list[QuizQuestion]


class BookServer(FastMCP):
    """The tools and resources over one app's engine; `access` is REST's rules (None over stdio, where the caller
    is the person at this machine)."""

    def __init__(self, engines: EngineHolder, access: Access | None):
        # Origin and identity are checked by `McpDoor` with REST's rules, for every host the app is reached by.
        unchecked = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        super().__init__(
            "textbook-tutor",
            instructions=INSTRUCTIONS,
            stateless_http=True,
            json_response=True,
            streamable_http_path=PATH,
            transport_security=unchecked,
            log_level="WARNING",
        )
        self.engines, self.access = engines, access
        for tool in (self.search_book, self.read_passage, self.ask_tutor, self.quiz, self.answer_quiz):
            self.add_tool(tool)
        self.add_resource(FunctionResource.from_function(self._outline, OUTLINE, "outline", mime_type="text/markdown"))
        self.resource(PAGES + "{page}", name="page", mime_type="text/markdown")(self._page)

    # -- tools ------------------------------------------------------------------------------------------------

    async def search_book(
        self, question: str, ctx: Context, page: str | None = None
    ) -> Annotated[CallToolResult, Found]:
        """The book's passages for a question, best first, with their sections, URLs and scores; `page` (a page's
        path, URL or id, as the outline gives it) keeps to that page."""
        await self._asker(ctx)
        engine = await self.engines.get()
        reading = None
        if page is not None:
            book = await self._book()  # one snapshot: a re-ingest may land between two reads
            found_page = book.page(page)
            if found_page is None:
                raise ToolError(f"No page of the book is at “{page[:200]}”: read {OUTLINE} for the pages.")
            reading = Reading(book.pages[found_page][0].doc_id)
        result = await engine.finder.search(clean_question(question), [], reading)
        passages = [p for p in result.passages if reading is None or p.doc_id == reading.doc_id]
        hits = [Hit(id=p.id, title=p.title, score=round(p.similarity, 4), **CitedPassage.fields(p)) for p in passages]
        return _result(Found(covered=result.covered, passages=hits))

    async def read_passage(self, id: str, ctx: Context) -> Annotated[CallToolResult, PassageOut]:  # noqa: A002  (the tool's argument name)
        """A passage by its id (from search_book or an answer's sources): its text and section, as the book holds
        it, or as it was when an answer cited it if the book has changed since (`current` false)."""
        await self._asker(ctx, limited=False)
        engine = await self.engines.get()
        opened = await engine.citations.open(id)
        if opened is None:
            raise ToolError(NO_PASSAGE)
        return _result(passage_out(id, opened))

    async def ask_tutor(
        self, question: str, ctx: Context, chat_id: str | None = None, profile: ProviderName | None = None
    ) -> Annotated[CallToolResult, ChatResponse]:
        """The tutor's answer from the book: its text with [n] citations, the sources, each sentence's verdict
        (supported, not verified, unsupported) and whether it answers the question. Pass back `chat_id` for a
        follow-up; `profile` picks who answers (one the caller may use)."""
        identity = await self._asker(ctx)
        engine = await self.engines.get()
        chat = chat_id or str(uuid.uuid4())
        events = await engine.answers.ask(question, chat, provider_name=profile, owner=identity.id, role=identity.role)
        answer = [event async for event in events][-1]
        return _result(answer_out(answer, chat))  # type: ignore[arg-type]  # the events end with the Answer

    async def quiz(
        self, ctx: Context, page: str | None = None, chat_id: str | None = None, topic: str | None = None, n: int = 5
    ) -> Annotated[CallToolResult, Quiz]:
        """A quiz of the book's own sentences on a page (its path, URL or id), a topic, or a chat's latest
        question; grade each response with answer_quiz (the answer keys stay with the tutor)."""
        identity = await self._asker(ctx)
        engine = await self.engines.get()
        items = await engine.study.quiz(identity.id, max(1, n), section=page, topic=topic, chat_id=chat_id)
        return _result(
            Quiz(
                items=[
                    QuizQuestion(
                        id=item.id,
                        kind=item.kind,
                        question=item.question,
                        choices=list(item.choices) or None,
                        section=item.passage.breadcrumb,
                        url=item.passage.url,
                    )
                    for item in items
                ]
            )
        )

    async def answer_quiz(self, item_id: str, response: str, ctx: Context) -> Annotated[CallToolResult, AnswerResponse]:
        """Grade the student's response to a quiz item: right or not, the book's sentence, when it comes back for
        review, and after a wrong answer another item of the same section."""
        identity = await self._asker(ctx)
        engine = await self.engines.get()
        return _result(graded_out(await engine.study.answer(identity.id, item_id, response)))

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Sequence[ContentBlock] | dict[str, Any]:
        """A tool's failure said once, as REST says it: what was not found or allowed, or which service is down."""
        try:
            return await super().call_tool(name, arguments)
        except ToolError as exc:
            cause = exc.__cause__
            if cause is not None and not isinstance(cause, SAID):
                log.error("mcp.tool %s failed", name, exc_info=cause)  # the caller reads only that it failed
            raise ToolError(_said(cause) if cause else str(exc)) from None

    # -- resources ----------------------------------------------------------------------------------------------

    async def list_resources(self) -> list[MCPResource]:
        """The outline, then every page of the book as it is now (the list follows a re-ingest)."""
        book = await self._book()
        pages = [
            MCPResource(
                uri=PAGES + quote(passages[0].doc_id, safe=""),  # type: ignore[arg-type]  # a str is a valid URI
                name=passages[0].doc_id,
                title=passages[0].title,
                description=f"{passages[0].chapter} › {passages[0].title}".strip(" ›"),
                mimeType="text/markdown",
            )
            for passages in book.pages.values()
            if passages
        ]
        return [*await super().list_resources(), *pages]

    async def _outline(self) -> str:
        book = await self._book()
        lines = ["# The book's pages", ""]
        for chapter, paths in book.chapters.items():
            lines += [f"## {chapter or 'Pages'}", ""]
            for path in paths:
                first = book.pages[path][0]
                lines.append(f"- [{first.title}]({PAGES}{quote(first.doc_id, safe='')}): {first.url.split('#')[0]}")
            lines.append("")
        return "\n".join(lines)

    async def _page(self, page: str) -> str:
        book = await self._book()
        path = book.page(unquote(page))
        if path is None:
            raise ValueError(f"No page of the book is at “{unquote(page)[:200]}”: read {OUTLINE} for the pages.")
        passages = book.pages[path]
        lines = [f"# {passages[0].title}", "", f"<{passages[0].url.split('#')[0]}>", ""]
        section = passages[0].title
        for passage in passages:
            if passage.section and passage.section != section:
                section = passage.section
                lines += [f"## {section}", ""]
            lines += [passage.text, ""]
        return "\n".join(lines)

    async def _book(self) -> Book:
        """The book as this process holds it now: read again, in a thread, when a re-ingest changed it."""
        engine = await self.engines.get()
        return await asyncio.to_thread(lambda: engine.book.book)

    # -- who calls ------------------------------------------------------------------------------------------------

    async def _asker(self, ctx: Context, limited: bool = True) -> Identity:
        """The caller `McpDoor` identified, within REST's rate limit for what costs a search or a model run;
        over stdio, the person at this machine."""
        request = ctx.request_context.request
        if not isinstance(request, Request) or self.access is None:
            return LOCAL
        identity: Identity = request.state.identity
        if limited:
            await within_limit(request, self.access, identity)
        return identity


def _result(shown: BaseModel) -> CallToolResult:
    """A tool's result as data and as its JSON text. Returned whole, so the SDK checks it against the tool's
    output schema with pydantic, not once more with jsonschema (27 ms an answer)."""
    data = shown.model_dump(mode="json")
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(data))], structuredContent=data)


# The failures a caller is told about in words of their own; any other is logged, and said only to have happened.
SAID = (HTTPException, ChatNotFound, ItemNotFound, ServiceError, ToolError, ProfileNotAllowed, QuizError, ValueError)


def _said(exc: BaseException) -> str:
    """A tool's failure as the caller should read it (REST's words for the same failures)."""
    if isinstance(exc, HTTPException):
        return str(exc.detail)
    if isinstance(exc, ChatNotFound):
        return NO_CHAT
    if isinstance(exc, ItemNotFound):
        return NO_ITEM
    if isinstance(exc, ServiceError):
        return public(str(exc))
    if isinstance(exc, SAID):
        return str(exc)
    return "The tutor failed on this call; the app's log says why."


class McpDoor:
    """/mcp over streamable HTTP, behind REST's rules before any MCP message is read: a page of another origin is
    refused (403, as the widget's token is), and the caller is identified as REST identifies it (the visitor
    cookie in zero config; with login configured an API token, or 401)."""

    def __init__(self, server: BookServer, access: Access):
        server.streamable_http_app()  # makes the session manager, which the app's lifespan runs
        self.manager, self.access = server.session_manager, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        origin = request.headers.get("origin")
        own = {f"{request.url.scheme}://{request.headers.get('host', '')}"}
        if origin and not self.access.origin_allowed(origin, own):
            refused = JSONResponse(
                {"detail": "This site may not use the tutor: add its origin to ALLOWED_ORIGINS."}, 403
            )
            await refused(scope, receive, send)
            return
        try:
            identity = caller(request, self.access)
        except HTTPException as exc:
            await JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)(scope, receive, send)
            return
        scope.setdefault("state", {})["identity"] = identity
        await self.manager.handle_request(scope, receive, send)


def main(argv: list[str] | None = None) -> int:
    """`python -m web.mcp_server`: the MCP server over stdio, on the store and database the settings name."""
    parser = argparse.ArgumentParser(prog="python -m web.mcp_server", description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    logs.configure("%(levelname)s %(name)s: %(message)s", stream=sys.stderr)  # stdout is the protocol's
    keep_files_private()
    try:
        settings = load_settings()
    except ConfigError as exc:  # it names the variables to fix
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        engine = Engine.from_settings(settings, Database(settings))
    except StoreLocked as exc:
        print(f"error: {exc}\nWhile the app runs, connect the assistant to its {PATH} instead.", file=sys.stderr)
        return 2
    except (StoreError, EmbeddingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engines = EngineHolder(settings, lambda _: engine)
    try:
        BookServer(engines, None).run("stdio")
    finally:
        engines.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
