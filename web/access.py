"""Who may use what: identities of requests and whether their sessions still hold, the instructor view's rule
and its one-time links, the pages that may open a chat socket, the rate limits and the element files (the
profiles each role may pick are the engine's: `rag.llm.providers`).

One `Access` per app, shared by the Chainlit callbacks and the REST API, so a browser and a REST client of the
same identity are the same owner and share one rate limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainlit.auth.cookie import get_token_from_cookies

from rag.config import Settings
from rag.db.database import Database
from rag.identity import (
    INSTRUCTOR_COOKIE,
    INSTRUCTOR_LINK,
    VISITOR_COOKIE,
    Identity,
    auth_secret,
    identity_from_token,
    session_identity,
    session_token,
    signed,
    single_use_id,
    verified,
    visitor_from_cookie,
)
from rag.logins import Logins
from web.ratelimit import RateLimiter
from web.storage import SignedStorage, storage_for

INSTRUCTOR_COOKIE_DAYS = 30
WIDGET_TOKEN_SECONDS = 300


@dataclass
class Access:
    settings: Settings
    secret: str
    storage: SignedStorage
    logins: Logins
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.limiter = RateLimiter(
            settings.rate_limit_per_minute, settings.rate_limit_per_address, redis_url=settings.redis_url
        )

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> Access:
        secret = auth_secret(settings)
        return cls(settings, secret, storage_for(settings, database, secret), Logins(settings, database))

    def socket_origin_allowed(self, origin: str, environ: dict[str, Any]) -> bool:
        """Whether a page of `origin` may open a Socket.IO connection (engine.io asks on every connect and
        WebSocket upgrade): the app's own origin (a book it serves at /book/ included) and ALLOWED_ORIGINS (a
        book on a sibling subdomain) only. A page of another port or another subdomain would otherwise use the
        visitor's cookies to ask questions and read their chats."""
        scheme = _first(environ.get("HTTP_X_FORWARDED_PROTO", environ.get("wsgi.url_scheme", "http")))
        host = _first(environ.get("HTTP_X_FORWARDED_HOST", environ.get("HTTP_HOST", "")))
        own = {f"{scheme}://{host}", f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"}
        return self.origin_allowed(origin, own)

    def origin_allowed(self, origin: str, own: set[str]) -> bool:
        """The app's own origins (`own`, as the request reached it) and ALLOWED_ORIGINS."""
        return origin in own or origin in self.settings.origins

    def widget_token(self, identity: Identity) -> str:
        """A Chainlit session token for the book's widget, so that its chats are this visitor's or user's own
        (Chainlit's Copilot does not call the header login the chat page uses; it signs in with a token). A
        logged-in user's token keeps their session id, so logging out ends it too. It lives long enough to be
        exchanged at Chainlit's /auth/jwt for the session cookie, and no longer, and only once
        (`exchange_once`)."""
        return session_token(identity, self.secret, WIDGET_TOKEN_SECONDS, once=True)

    async def exchange_once(self, token: str) -> bool:
        """Whether a token may be exchanged for a session cookie: any token not issued for one use, or one
        issued for one use and not used yet (on any process: its id is recorded as ended, `rag.logins`)."""
        once = single_use_id(token, self.secret)
        return once is None or await self.logins.end(f"token:{once}")

    def may_open_instructor_view(self, identity: Identity | None, cookies: dict[str, str]) -> bool:
        """Instructors; with no login configured, the browser that opened a one-time link (`instructor_link`).
        Being a loopback client proves nothing: a tunnel or a proxy on this host makes every client one."""
        if not self.settings.login_required:
            return verified(self.secret, INSTRUCTOR_COOKIE, cookies.get(INSTRUCTOR_COOKIE)) is not None
        return identity is not None and identity.role == "instructor"

    async def instructor_link_usable(self, token: str) -> bool:
        """Whether a one-time link is this app's, unexpired and not used yet (looking does not spend it)."""
        nonce = verified(self.secret, INSTRUCTOR_LINK, token)
        return nonce is not None and not await self.logins.ended(nonce)

    async def open_instructor_link(self, token: str) -> str | None:
        """The instructor cookie for a valid link (`rag.identity.instructor_link`) used for the first time;
        None for any other."""
        nonce = verified(self.secret, INSTRUCTOR_LINK, token)
        if nonce is None or not await self.logins.end(nonce):
            return None
        return signed(self.secret, INSTRUCTOR_COOKIE, INSTRUCTOR_COOKIE_DAYS * 86400)

    def session_of(self, token: str | None) -> Identity | None:
        """Who a Chainlit session token was issued to (None for no token, or not one of this app's)."""
        return session_identity(token.strip(), self.secret) if token else None

    async def session_ended(self, token: str | None) -> bool:
        """Whether `token` is a session token whose session ended (`rag.logins`)."""
        identity = self.session_of(token)
        return identity is not None and not await self.logins.current(identity)

    def identify(self, cookies: dict[str, str], authorization: str | None) -> Identity | None:
        """The identity of a request: with login configured a bearer token or the browser's Chainlit session;
        otherwise the visitor cookie. None when there is none (a new visitor, or a 401 with login). With no login
        configured a bearer that is no token of ours is no one's: an OpenAI client always sends its key."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and token:
            found = identity_from_token(token.strip(), self.settings, self.secret)
            if found is not None or self.settings.login_required:
                return found
        if session := get_token_from_cookies(cookies):
            return identity_from_token(session, self.settings, self.secret)
        if self.settings.login_required:
            return None
        return visitor_from_cookie(self.secret, cookies.get(VISITOR_COOKIE))


def _first(value: str) -> str:
    """The first of a forwarded header's comma-separated hops."""
    return value.split(",")[0].strip()
