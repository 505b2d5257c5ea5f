"""Settings from the environment and `.env`, validated up front.

Every problem is collected into one `ConfigError` that names the variable and
the fix, so a user fixes their `.env` once instead of once per restart.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.llm.specs import ProviderName

DEFAULT_EMBEDDING_MODEL = "packaged/all-MiniLM-L6-v2-int8"
GEMINI_OPENAI_ENDPOINT = "https://generativelanguage.googleapis.com/v1beta/openai/"
# `chainlit run` under CI=true puts this fake key into OPENAI_API_KEY.
CHAINLIT_FAKE_OPENAI_KEY = "sk-FAKE-OPENAI-API-KEY"

# Variable name -> what a valid value looks like; used in error messages.
HINTS: dict[str, str] = {
    "QDRANT_CLUSTER_ENDPOINT": "a URL such as https://xyz.cloud.qdrant.io:6333 (or unset it for the embedded store)",
    "QDRANT_API_KEY": "the API key of your Qdrant Cloud cluster (Cloud console > API keys)",
    "QDRANT_PATH": "a writable folder for the embedded store, e.g. .data/qdrant",
    "QDRANT_COLLECTION": "a collection name of letters, digits, '-' or '_', e.g. textbook_content",
    "QDRANT_TIMEOUT": "a number of seconds greater than 0, e.g. 10",
    "QDRANT_SHARDS": "a whole number of shards, at least 1, for the collection ingest creates, e.g. 2 (or unset)",
    "QDRANT_REPLICAS": "a whole number of copies of each shard, at least 1, e.g. 2 on a 3-node cluster (or unset)",
    "LLM_PROVIDER": "one of auto, excerpts, bundled, local, gemini, openai",
    "OPENAI_API_KEY": "a key from https://platform.openai.com/api-keys",
    "OPENAI_MODEL": "an OpenAI model name, e.g. gpt-4o-mini",
    "OPENAI_BASE_URL": "unset for api.openai.com, or the /v1 URL of an OpenAI-compatible proxy",
    "GEMINI_API_KEY": "a key from https://aistudio.google.com/apikey",
    "GEMINI_BASE_URL": f"a URL, by default {GEMINI_OPENAI_ENDPOINT}",
    "MODEL_NAME": "a Gemini model name, e.g. gemini-2.5-flash",
    "LOCAL_LLM_BASE_URL": "the /v1 URL of an OpenAI-compatible server, e.g. http://localhost:11434/v1",
    "LOCAL_LLM_MODEL": "the model name that server serves",
    "LLM_TIMEOUT": "a number of seconds greater than 0, e.g. 60",
    "EMBEDDING_MODEL": f"{DEFAULT_EMBEDDING_MODEL} (offline) or any fastembed model name",
    "TOP_K": "a whole number from 1 to 50, e.g. 5",
    "SCORE_THRESHOLD": "a number from 0 to 1, e.g. 0.30",
    "MODEL_CACHE_DIR": "a writable folder for model files",
    "DATA_DIR": "a writable folder for the local database, uploaded files and the generated auth secret",
    "DATABASE_URL": "postgresql://user:password@host:5432/db (or unset for SQLite in DATA_DIR)",
    "USERS_FILE": "a JSON file of users written by `python -m rag.users add <name>`",
    "INSTRUCTORS": "comma-separated identifiers (OAuth e-mails or user names) that get the instructor role",
    "STUDENT_PROFILES": "* (every offered profile) or comma-separated provider names, e.g. excerpts,gemini",
    "INSTRUCTOR_PROFILES": "* (every offered profile) or comma-separated provider names, e.g. excerpts,gemini",
    "RATE_LIMIT_PER_MINUTE": "a whole number of questions per minute per user, 0 for no limit, e.g. 30",
    "RATE_LIMIT_PER_ADDRESS": "a whole number of questions per minute from one client address, 0 for none, e.g. 300",
    "TRUSTED_PROXIES": "comma-separated addresses or networks of your reverse proxies, e.g. 127.0.0.1 or 10.0.0.0/8",
    "REDIS_URL": "redis://host:6379/0 to share the rate limit between app processes (or unset: each counts its own)",
    "ALLOWED_ORIGINS": "comma-separated origins allowed to call the app from other sites, e.g. https://book.example",
    "CHAINLIT_AUTH_SECRET": (
        "a long random string, e.g. from `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`"
    ),
    "API_TOKEN": "a long random string that REST callers send as `Authorization: Bearer <token>`",
    "SHOW_STUDENT_IDENTITY": "true to show instructors who asked (user names), false for anonymous ids",
    "BOOK_DIR": "the folder of a built Docusaurus book to serve at /book/, e.g. samples/textbook/build (empty: none)",
}


class ConfigError(Exception):
    """One or more settings are missing or malformed; `problems` lists each with its fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"Configuration problem{'s' if len(problems) > 1 else ''}:\n{lines}")


class Settings(BaseSettings):
    """The tutor's configuration. Field names are the variable names, lower-cased."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    qdrant_cluster_endpoint: str | None = Field(
        None, validation_alias=AliasChoices("QDRANT_CLUSTER_ENDPOINT", "QDRANT_URL", "qdrant_cluster_endpoint")
    )
    qdrant_api_key: SecretStr | None = None
    qdrant_path: Path = Path(".data/qdrant")
    qdrant_collection: str = Field("textbook_content", pattern=r"^[A-Za-z0-9_-]+$")
    qdrant_timeout: float = Field(10.0, gt=0)
    qdrant_shards: int | None = Field(None, ge=1)  # for the collection ingest creates on a cluster
    qdrant_replicas: int | None = Field(None, ge=1)

    llm_provider: Literal["auto", ProviderName] = "auto"
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"
    openai_base_url: str | None = None
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str = GEMINI_OPENAI_ENDPOINT
    model_name: str = "gemini-2.5-flash"
    local_llm_base_url: str | None = None
    local_llm_model: str = "SmolLM2-135M-Instruct"
    llm_timeout: float = Field(60.0, gt=0)
    # Sentences the grounding check cannot decide go to the answering LLM as a judge (docs/quality.md).
    grounding_judge: bool = True

    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    top_k: int = Field(5, ge=1, le=50)
    # Off-topic questions score below 0.2 and answerable ones above 0.31 on the dev set (docs/quality.md).
    score_threshold: float = Field(0.30, ge=0, le=1)
    model_cache_dir: Path = Path.home() / ".cache" / "textbook-tutor" / "models"

    # History, identity and access.
    data_dir: Path = Path(".data")
    database_url: str | None = None
    users_file: Path | None = None
    instructors: str = ""
    student_profiles: str = "*"
    instructor_profiles: str = "*"
    rate_limit_per_minute: int = Field(30, ge=0)
    rate_limit_per_address: int = Field(300, ge=0)  # all identities of one client address together
    redis_url: str | None = None  # shares the rate limits between app processes
    # Whose X-Forwarded-For names the client (uvicorn's FORWARDED_ALLOW_IPS, and its default): a proxy on this host.
    trusted_proxies: str = "127.0.0.1,::1"
    allowed_origins: str = ""
    chainlit_auth_secret: SecretStr | None = None
    api_token: SecretStr | None = None
    show_student_identity: bool = False
    # The built book the app serves at /book/, the same origin as the tutor (docs/book.md).
    book_dir: Path | None = Path("samples/textbook/build")

    @field_validator(
        "qdrant_cluster_endpoint",
        "local_llm_base_url",
        "openai_base_url",
        "qdrant_api_key",
        "qdrant_shards",
        "qdrant_replicas",
        "openai_api_key",
        "gemini_api_key",
        "database_url",
        "redis_url",
        "users_file",
        "chainlit_auth_secret",
        "api_token",
        "book_dir",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """`KEY=` in a `.env` means "not set", not "set to the empty string"."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("trusted_proxies")
    @classmethod
    def _are_addresses(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return ",".join(entries)

    @field_validator("redis_url")
    @classmethod
    def _is_redis_url(cls, value: str | None) -> str | None:
        if value is not None and urlparse(value.strip()).scheme not in ("redis", "rediss", "redis+unix"):
            raise ValueError(f"{value!r} is not a redis://, rediss:// or redis+unix:// URL")
        return value.strip() if value else value

    @field_validator("qdrant_cluster_endpoint", "gemini_base_url", "local_llm_base_url", "openai_base_url")
    @classmethod
    def _is_url(cls, value: str | None) -> str | None:
        if value is not None:
            parsed = urlparse(value.strip())
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError(f"{value!r} is not an http(s) URL")
            return value.strip().rstrip("/")
        return value

    @field_validator("qdrant_path", "model_cache_dir", "data_dir", "users_file", "book_dir")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("database_url")
    @classmethod
    def _is_database_url(cls, value: str | None) -> str | None:
        if value is not None and urlparse(value).scheme.split("+")[0] not in ("postgres", "postgresql", "sqlite"):
            raise ValueError(f"{mask_url(value)!r} is not a postgresql:// or sqlite:// URL")
        return value

    @property
    def login_required(self) -> bool:
        """Password or OAuth login is configured: no anonymous visitors, and REST callers need a token."""
        return self.users_file is not None or oauth_configured()

    @property
    def origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip()]

    @property
    def instructor_ids(self) -> set[str]:
        return {i.strip().lower() for i in self.instructors.split(",") if i.strip()}

    @property
    def uses_cloud(self) -> bool:
        return self.qdrant_cluster_endpoint is not None

    def cross_field_problems(self) -> list[str]:
        """Problems that involve more than one variable."""
        problems = []
        if self.uses_cloud and self.qdrant_api_key is None and not _is_plain_local(self.qdrant_cluster_endpoint):
            problems.append(
                "QDRANT_API_KEY is not set but QDRANT_CLUSTER_ENDPOINT is "
                f"({mask_url(self.qdrant_cluster_endpoint)}). Set QDRANT_API_KEY to {HINTS['QDRANT_API_KEY']}, "
                "or unset QDRANT_CLUSTER_ENDPOINT to use the embedded store."
            )
        if self.llm_provider == "gemini" and self.gemini_api_key is None:
            problems.append(
                f"LLM_PROVIDER=gemini needs GEMINI_API_KEY: set it to {HINTS['GEMINI_API_KEY']}, "
                "or choose LLM_PROVIDER=auto."
            )
        if self.llm_provider == "local" and self.local_llm_base_url is None:
            problems.append(
                f"LLM_PROVIDER=local needs LOCAL_LLM_BASE_URL: set it to {HINTS['LOCAL_LLM_BASE_URL']}, or choose "
                "LLM_PROVIDER=excerpts (the book's own sentences) or LLM_PROVIDER=bundled (the small SmolLM2 model)."
            )
        if self.login_required and self.chainlit_auth_secret is None:
            problems.append(
                "CHAINLIT_AUTH_SECRET is not set but login is configured (USERS_FILE or OAUTH_* variables). Set it "
                f"to {HINTS['CHAINLIT_AUTH_SECRET']}; every app process of the deployment needs the same value."
            )
        if self.users_file is not None and not self.users_file.is_file():
            problems.append(
                f"USERS_FILE {self.users_file} does not exist: create it with "
                "`python -m rag.users add <name> --role instructor`, or unset USERS_FILE for login-free use."
            )
        if self.llm_provider == "openai" and not self.has_real_openai_key:
            problems.append(
                f"LLM_PROVIDER=openai needs OPENAI_API_KEY: set it to {HINTS['OPENAI_API_KEY']}, "
                "or choose LLM_PROVIDER=auto."
            )
        return problems

    @property
    def has_real_openai_key(self) -> bool:
        """False for no key and for the fake key `chainlit run` sets under CI."""
        key = self.openai_api_key.get_secret_value() if self.openai_api_key else ""
        return bool(key) and key != CHAINLIT_FAKE_OPENAI_KEY

    def summary(self) -> dict[str, str]:
        """Effective settings for display; secrets masked."""
        shown = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                value = mask(value)
            elif isinstance(value, str) and "://" in value:
                value = mask_url(value)
            shown[name.upper()] = "(unset)" if value is None else str(value)
        return shown


def mask(secret: SecretStr | None) -> str:
    """`sk-…` keys shown as `****wxyz`: enough to tell two keys apart, useless to an attacker."""
    if secret is None:
        return "(unset)"
    value = secret.get_secret_value()
    return "****" + value[-4:] if len(value) >= 12 else "****"


def oauth_configured() -> bool:
    """Chainlit's own OAuth variables (OAUTH_GITHUB_CLIENT_ID, OAUTH_GOOGLE_CLIENT_ID, ...) are set."""
    return any(re.fullmatch(r"OAUTH_\w+_CLIENT_ID", name) and value for name, value in os.environ.items())


PRIVATE_UMASK = 0o077


def keep_files_private() -> None:
    """Every file and folder this process creates from now on is its user's alone (0600, 0700): the history,
    the cited passages a student's question matched, the store, the logs. Called by the entry points (the app,
    ingest), never on import."""
    os.umask(PRIVATE_UMASK)


def write_private(path: Path, content: bytes) -> None:
    """`content` in `path`, readable by this account only (0600) whatever the process's umask: a secret link,
    the users' password hashes, the words a student's question matched."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(content)
    path.chmod(0o600)


def mask_url(url: str | None) -> str:
    """A URL fit to show or log: a password in it becomes `****`, and so do key-like query values."""
    if not url:
        return "(unset)"
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":****@", 1)
    elif parts.username is not None:
        netloc = netloc.replace(f"{parts.username}@", "****@", 1)
    query = re.sub(r"(?i)((?:key|token|secret|password|auth)[^=&]*=)[^&]*", r"\1****", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _is_plain_local(url: str | None) -> bool:
    parsed = urlparse(url or "")
    return parsed.scheme == "http" and parsed.hostname in ("localhost", "127.0.0.1", "::1")


def _env_name(loc: tuple) -> str:
    field = str(loc[0]) if loc else ""
    return "QDRANT_CLUSTER_ENDPOINT" if field.upper() in ("QDRANT_URL",) else field.upper()


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; raise `ConfigError` naming every bad variable."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = _env_name(err["loc"])
            got = err.get("input")
            if isinstance(got, str) and "://" in got:
                got = mask_url(got)
            shown = "" if "KEY" in name else f" (got {got!r})"
            problems.append(f"{name} is malformed{shown}: {err['msg']}. Set it to {HINTS.get(name, 'a valid value')}.")
        raise ConfigError(problems) from None
    problems = settings.cross_field_problems()
    if problems:
        raise ConfigError(problems)
    return settings
