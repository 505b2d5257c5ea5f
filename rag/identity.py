"""Who is asking: anonymous visitors, password users, OAuth users and API tokens, each a student or an instructor.

Zero config stays login-free but private: every browser (and every REST client that keeps cookies) gets its
own random visitor id in a signed, http-only cookie, so its history is its own. A deployment that configures
USERS_FILE or OAuth requires login instead; REST callers then send `Authorization: Bearer <token>` (a user's
API token, API_TOKEN, or the browser's own Chainlit session token).

Passwords and API tokens are stored as hashes only: scrypt for passwords (slow on purpose), SHA-256 for the
random 256-bit API tokens (nothing to guess).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from rag.config import Settings, write_private

Role = Literal["student", "instructor"]
LOCAL_OWNER = "local"  # the owner of chats asked in code (tests, evaluation), not through the UI or REST
ROLES: tuple[Role, ...] = ("student", "instructor")
Login = Literal["visitor", "password", "oauth", "token"]
VISITOR_COOKIE = "tutor_visitor"
INSTRUCTOR_COOKIE = "tutor_instructor"
INSTRUCTOR_LINK = "instructor-link"  # the purpose its tokens are signed for
LINK_PATH = "/instructor/open"
LINK_SECONDS = 15 * 60
VISITOR_PREFIX = "visitor:"
SECRET_FILE = "auth-secret"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
# What an unknown user's password is checked against: a valid hash of nothing anyone knows.
_UNKNOWN_USER = "scrypt$" + "00" * 16 + "$" + "00" * 64


@dataclass(frozen=True)
class Identity:
    """`id` is the Chainlit user identifier too, so REST chats and UI threads share one owner."""

    id: str
    role: Role = "student"
    login: Login = "visitor"
    session: str = ""  # a login session's random id, in its token: `rag.logins` can end it

    @property
    def anonymous(self) -> bool:
        return self.id.startswith(VISITOR_PREFIX)

    @property
    def metadata(self) -> dict[str, object]:
        return {"role": self.role, "anonymous": self.anonymous, "login": self.login, "session": self.session}


def logged_in(identifier: str, role: Role, login: Login) -> Identity:
    """A new login session, with a random id of its own so that it can end on its own (logout)."""
    return Identity(identifier, role, login, secrets.token_urlsafe(16))


def identity_of(identifier: str, metadata: dict | None) -> Identity:
    """The identity a Chainlit user (or its session token) stands for: role, login and session are in its
    metadata (a token without them holds no session that could still be current)."""
    metadata = metadata or {}
    login = metadata.get("login")
    return Identity(
        identifier,
        _role(metadata.get("role")),
        login if login in ("password", "oauth") else "visitor",
        str(metadata.get("session") or ""),
    )


# -- the secret ------------------------------------------------------------------------------------------


def auth_secret(settings: Settings) -> str:
    """CHAINLIT_AUTH_SECRET, or for local use one generated on first run and kept in DATA_DIR (0600)."""
    if settings.chainlit_auth_secret is not None:
        return settings.chainlit_auth_secret.get_secret_value()
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def same(given: str, expected: str) -> bool:
    """Constant-time equality of a value a client sent with the expected one, compared as UTF-8 bytes: a
    malformed value (non-ASCII, a lone surrogate) is simply not equal, never an error."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def mac(secret: str, *parts: str) -> bytes:
    """HMAC-SHA256 of `parts` (one per line) with the app's secret: how visitor cookies, file URLs and the
    instructor view's forms are signed."""
    return hmac.new(secret.encode(), "\n".join(parts).encode(), hashlib.sha256).digest()


def signed(secret: str, purpose: str, seconds: int) -> str:
    """A random id valid for `seconds`, signed for one purpose: `<id>.<expiry>.<mac>`."""
    nonce, expiry = secrets.token_urlsafe(16), str(int(time.time()) + seconds)
    return f"{nonce}.{expiry}.{_sign(secret, purpose, nonce, expiry)}"


def verified(secret: str, purpose: str, value: str | None) -> str | None:
    """The id of a value `signed` for `purpose` and not yet expired; None for anything else."""
    nonce, expiry, signature = ((value or "").split(".") + ["", "", ""])[:3]
    if not expiry.isdigit() or not same(signature, _sign(secret, purpose, nonce, expiry)):
        return None
    return nonce if int(expiry) > time.time() else None


def _sign(secret: str, purpose: str, nonce: str, expiry: str) -> str:
    return base64.urlsafe_b64encode(mac(secret, purpose, nonce, expiry)[:18]).decode()


def instructor_link(secret: str, base_url: str) -> str:
    """A link that opens the instructor view in one browser, once, within 15 minutes (the way Jupyter prints
    its token) when no login is configured: for the maintainer's terminal only."""
    return f"{base_url.rstrip('/')}{LINK_PATH}?token={signed(secret, INSTRUCTOR_LINK, LINK_SECONDS)}"


INSTRUCTOR_LINK_FILE = "instructor-link.txt"


def announce_instructor_link(secret: str, base_url: str, data_dir: Path, terminal: TextIO) -> Path:
    """The startup's one-time link, written to DATA_DIR/instructor-link.txt (0600, replaced on every start) and
    shown on `terminal` only if it is one: an output a log collector keeps gets the file's path and the link's
    lifetime, never the link."""
    link = instructor_link(secret, base_url)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / INSTRUCTOR_LINK_FILE
    write_private(path, (link + "\n").encode())
    lifetime = f"works once, for {LINK_SECONDS // 60} minutes"
    shown = link if terminal.isatty() else f"in {path} (readable by this account only)"
    print(f"Instructor view ({lifetime}): {shown}", file=terminal)
    return path


# -- anonymous visitors ----------------------------------------------------------------------------------


def _mac(secret: str, value: str) -> str:
    return base64.urlsafe_b64encode(mac(secret, "visitor", value)[:18]).decode()


def new_visitor_cookie(secret: str) -> str:
    visitor = secrets.token_urlsafe(18)
    return f"{visitor}.{_mac(secret, visitor)}"


def visitor_from_cookie(secret: str, cookie: str | None) -> Identity | None:
    """The visitor a signed cookie names; None for a missing or forged one."""
    visitor, _, mac = (cookie or "").partition(".")
    if not visitor or not same(mac, _mac(secret, visitor)):
        return None
    return Identity(VISITOR_PREFIX + visitor)


# -- users file -------------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt, _, digest = rest.partition("$")
    if scheme != "scrypt" or not salt or not digest:
        return False
    computed = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return same(digest, computed.hex())


def hash_token(token: str) -> str:
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


class UsersFile:
    """`{"users": {"<name>": {"password": "scrypt$...", "role": "student", "tokens": ["sha256$..."]}}}`."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        users = json.loads(self.path.read_text()).get("users", {})
        return users if isinstance(users, dict) else {}

    def save(self, users: dict[str, dict]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        write_private(tmp, json.dumps({"users": users}, indent=2, sort_keys=True).encode())
        os.replace(tmp, self.path)

    def login(self, name: str, password: str) -> Identity | None:
        """The user, if the password is theirs. An unknown user costs the same scrypt work as a known one, so
        the time taken does not tell which user names exist."""
        user = self.load().get(name)
        stored = str(user.get("password", "")) if user else _UNKNOWN_USER
        if not check_password(password, stored) or not user:
            return None
        return logged_in(name, _role(user.get("role")), "password")

    def by_token(self, token: str) -> Identity | None:
        wanted = hash_token(token)
        for name, user in self.load().items():
            if any(same(str(stored), wanted) for stored in user.get("tokens", [])):
                return Identity(name, _role(user.get("role")), "token")
        return None

    def role(self, name: str) -> Role | None:
        """The user's role now; None once they are removed."""
        user = self.load().get(name)
        return _role(user.get("role")) if isinstance(user, dict) else None


def _role(value: object) -> Role:
    return "instructor" if value == "instructor" else "student"


def role_of(identifier: str, settings: Settings) -> Role:
    """An OAuth user's role: instructor when INSTRUCTORS names them."""
    return "instructor" if identifier.lower() in settings.instructor_ids else "student"


def identity_from_token(token: str, settings: Settings, secret: str) -> Identity | None:
    """A bearer token: API_TOKEN, a user's API token, or a Chainlit session token (JWT) of a logged-in user."""
    if settings.api_token is not None and same(token, settings.api_token.get_secret_value()):
        return Identity("api", "student", "token")
    if settings.users_file is not None and (user := UsersFile(settings.users_file).by_token(token)):
        return user
    return session_identity(token, secret)


def session_token(identity: Identity, secret: str, seconds: int, once: bool = False) -> str:
    """A Chainlit session token (JWT) for `identity`, valid for `seconds`: the claims Chainlit signs, so its
    /auth/jwt takes it and sets its own session cookie. `once`: it carries a random id (`jti`), so that it can
    be exchanged only once (`single_use_id`)."""
    import jwt

    issued = int(time.time())
    claims = {
        "identifier": identity.id,
        "display_name": None,
        "metadata": identity.metadata,
        "iat": issued,
        "exp": issued + seconds,
        **({"jti": secrets.token_hex(16)} if once else {}),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def single_use_id(token: str, secret: str) -> str | None:
    """The id of a token issued to be used once (`session_token(once=True)`); None for any other token."""
    claims = _session_claims(token, secret)
    return str(claims["jti"]) if claims and claims.get("jti") else None


def session_identity(token: str, secret: str) -> Identity | None:
    """Who a Chainlit session token (JWT) was issued to; None when it is not one, or not signed by this app.
    Whether its session still holds is `rag.logins.Logins.current`."""
    claims = _session_claims(token, secret)
    identifier = str(claims.get("identifier", "")) if claims else ""
    return identity_of(identifier, claims.get("metadata")) if claims and identifier else None


def _session_claims(token: str, secret: str) -> dict | None:
    """The claims of a session token this app signed; None for anything else."""
    import jwt

    try:
        return jwt.decode(token, secret, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
