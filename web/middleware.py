"""The app's middlewares, as plain ASGI: Starlette's `BaseHTTPMiddleware` runs every request in extra tasks
and buffers each streamed event through them, a few milliseconds of CPU per question under load.

- `BodyLimit`: 413 for API bodies over a size, whether or not they declare their length.
- `VisitorCookies`: without login, every browser and REST client gets its own signed visitor id (an http-only
  cookie) on its first request, so its chats and history are its own.
- `LoginAttempts`: password logins limited per user name and address, per user name and per address; the form
  read once, as the login route reads it, whatever its encoding.
- `EndedLogins`: a session token whose session ended (logout, the user removed or their role changed) is
  taken off the request, so every route and the chat socket see a caller who is not logged in.
- `SecurityHeaders`: nosniff and a same-origin referrer everywhere; the instructor view never in a frame;
  over https, every cookie `Secure`.
- `OfflinePage`: Chainlit's chat page without its links off the machine (Google Fonts, KaTeX's stylesheet on
  jsDelivr), which blocked its first paint on a network that drops packets.
"""

from __future__ import annotations

import math
import re

from chainlit.auth.cookie import get_token_from_cookies
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.errors import ServiceError
from rag.identity import VISITOR_COOKIE, new_visitor_cookie, visitor_from_cookie
from web.access import Access

VISITOR_COOKIE_DAYS = 365


class BodyLimit:
    def __init__(self, app: ASGIApp, prefix: str, max_bytes: int):
        self.app, self.prefix, self.max_bytes = app, prefix, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not scope["path"].startswith(self.prefix)
            or scope["method"] not in ("POST", "PUT", "PATCH")
        ):
            await self.app(scope, receive, send)
            return
        too_large = JSONResponse({"detail": f"The request body is over {self.max_bytes} bytes."}, 413)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await too_large(scope, receive, send)
            return
        body = await read_body(receive, self.max_bytes)
        if body is None:
            await too_large(scope, receive, send)
        else:
            await self.app(scope, replaying(body, receive), send)


async def read_body(receive: Receive, max_bytes: int) -> bytes | None:
    """A request's whole body (what came, if the client went away meanwhile); None when it is over `max_bytes`."""
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > max_bytes:
            return None
    return body


def replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` for the app behind: the body read already, once; then whatever the client sends."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class LoginAttempts:
    """Password logins limited per user name and per client address (`RateLimiter.check_login`): guessing
    passwords costs a minute per few tries."""

    def __init__(self, app: ASGIApp, access: Access, path: str = "/login"):
        self.app, self.access, self.path = app, access, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive, 16 * 1024)
        if body is None:
            await JSONResponse({"detail": "The login form is too large."}, 413)(scope, receive, send)
            return
        try:
            names = (await Request(scope, replaying(body, receive)).form()).getlist("username")
        except (MultiPartException, HTTPException, ValueError):  # malformed: the route could not read it either
            names = ["", ""]
        if len(names) > 1:  # the route reads one of them, this check another: answer neither
            await JSONResponse({"detail": "The login form must hold one username."}, 400)(scope, receive, send)
            return
        client, name = scope.get("client"), str(names[0]) if names else ""
        try:
            limited = await self.access.limiter.check_login(name, client[0] if client else None)
        except ServiceError as exc:  # Redis down: nobody can log in, and the message names REDIS_URL
            await JSONResponse({"detail": str(exc)}, 503)(scope, receive, send)
            return
        if limited is not None:
            wait = str(math.ceil(limited.wait))
            refused = JSONResponse({"detail": f"Too many login attempts: wait {wait} s."}, 429, {"Retry-After": wait})
            await refused(scope, receive, send)
            return
        await self.app(scope, replaying(body, receive), send)


class VisitorCookies:
    def __init__(self, app: ASGIApp, access: Access):
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        access = self.access
        if scope["type"] != "http" or access.settings.login_required:
            await self.app(scope, receive, send)
            return
        cookies = cookie_parser(Headers(scope=scope).get("cookie", ""))
        if visitor_from_cookie(access.secret, cookies.get(VISITOR_COOKIE)):
            await self.app(scope, receive, send)
            return
        cookie = new_visitor_cookie(access.secret)
        scope.setdefault("state", {})["visitor"] = visitor_from_cookie(access.secret, cookie)
        formatted = Response()
        formatted.set_cookie(
            VISITOR_COOKIE,
            cookie,
            max_age=VISITOR_COOKIE_DAYS * 86400,
            httponly=True,
            samesite="lax",
        )
        set_cookie = formatted.headers["set-cookie"]

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", set_cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class EndedLogins:
    def __init__(self, app: ASGIApp, access: Access):
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            cookies = cookie_parser(headers.get("cookie", ""))
            scheme, _, bearer = headers.get("authorization", "").partition(" ")
            from_cookie, from_header = get_token_from_cookies(cookies), bearer if scheme.lower() == "bearer" else None
            for token in filter(None, (from_cookie, from_header)):
                if await self.access.session_ended(token):
                    scope = dict(scope, headers=_without_session(scope["headers"], cookies, token is from_header))
        await self.app(scope, receive, send)


def _without_session(raw: list[tuple[bytes, bytes]], cookies: dict[str, str], header: bool) -> list:
    """The request's headers without its session token: the Authorization header, or Chainlit's cookies."""
    if header:
        return [(name, value) for name, value in raw if name != b"authorization"]
    kept = "; ".join(f"{name}={value}" for name, value in cookies.items() if not name.startswith("access_token"))
    return [(name, value) for name, value in raw if name != b"cookie"] + [(b"cookie", kept.encode("latin-1"))]


class SecurityHeaders:
    """Headers that keep browsers from guessing content types and leaking paths to other sites, that keep the
    instructor view (every student's questions) out of any frame, and the book (its widget is signed in) out of
    other sites' frames. The chat itself may be framed by the site that embeds it."""

    def __init__(self, app: ASGIApp, unframed: tuple[str, ...], own_frames: tuple[str, ...] = ()):
        self.app, self.unframed, self.own_frames = app, unframed, own_frames

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        unframed, https = scope["path"].startswith(self.unframed), scope.get("scheme") == "https"
        own_frames = bool(self.own_frames) and scope["path"].startswith(self.own_frames)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                if unframed:
                    headers["X-Frame-Options"] = "DENY"
                    headers["Content-Security-Policy"] = "frame-ancestors 'none'"
                elif own_frames:
                    headers["X-Frame-Options"] = "SAMEORIGIN"
                    headers["Content-Security-Policy"] = "frame-ancestors 'self'"
                if https:
                    _secure_cookies(message)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secure_cookies(message: Message) -> None:
    """Chainlit marks its session cookie `Secure` only with SameSite=None: over https, every cookie is."""
    message["headers"] = [
        (name, value + b"; Secure" if name == b"set-cookie" and b"; secure" not in value.lower() else value)
        for name, value in message["headers"]
    ]


class OfflinePage:
    """Chainlit's page (`index.html`, served for `/` and every chat path) links Google Fonts and preconnects to
    it, and links KaTeX's stylesheet on jsDelivr: render-blocking requests off the machine on every load. They
    are taken out of the HTML (the page falls back to the system's sans-serif; a formula shows without KaTeX's
    styles). Only that page is read: an HTML response outside `skip` (the book, the instructor view)."""

    _EXTERNAL = re.compile(rb"<link\b[^>]*\bhref=\"(?:https?:)?//[^\"]*\"[^>]*>\s*", re.IGNORECASE)

    def __init__(self, app: ASGIApp, skip: tuple[str, ...] = ()):
        self.app, self.skip = app, skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"].startswith(self.skip):
            await self.app(scope, receive, send)
            return
        if "." in scope["path"].rsplit("/", 1)[-1]:  # a file (assets, public): not the page
            await self.app(scope, receive, send)
            return
        # Uncompressed, so that it can be read (Chainlit's gzip sits inside): the page is a few kilobytes.
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]}
        start: Message | None = None
        body = b""

        async def rewrite(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                html = Headers(raw=message["headers"]).get("content-type", "").startswith("text/html")
                if not html:
                    await send(message)
                    return
                start = message
                return
            if start is None:
                await send(message)
                return
            body += message.get("body", b"")
            if message.get("more_body", False):
                return
            page = self._EXTERNAL.sub(b"", body)
            headers = MutableHeaders(scope=start)
            headers["content-length"] = str(len(page))
            await send(start)
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, rewrite)
