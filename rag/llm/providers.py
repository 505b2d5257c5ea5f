"""Who answers: providers as data.

Each `Provider` record says how it is labelled for students, which variables configure it, whether it gets the
`search_textbook` tool, how many passages it reads, its model settings, whether traces go to OpenAI and what it
falls back to. The rest of the app asks the record instead of testing names.

- `excerpts`: the book's own sentences, chosen for the question (no LLM; the offline default).
- `bundled`: SmolLM2-135M, started by the app (experimental: small, slow to read, often wrong).
- `local`: your OpenAI-compatible server at LOCAL_LLM_BASE_URL (Ollama, vLLM, llama.cpp).
- `gemini`: Gemini through its OpenAI-compatible endpoint; falls back to OpenAI when that is configured.
- `openai`: OpenAI.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from pydantic import SecretStr

from rag.config import Settings, mask_url
from rag.identity import Role
from rag.llm.specs import SPECS, ProviderKind, ProviderName

if TYPE_CHECKING:
    from agents import OpenAIChatCompletionsModel

# The openai client retries 429, 5xx, timeouts and connection errors with exponential backoff.
LLM_RETRIES = 3


@dataclass(frozen=True, kw_only=True)
class Provider:
    name: ProviderName
    kind: ProviderKind
    label: str  # the chat profile students pick
    description: str  # what a student should know about it, one line
    model: str
    base_url: str | None  # None: nothing to reach (excerpts) or started by the app (bundled)
    api_key: SecretStr | None = None
    key_variable: str | None = None
    url_variable: str | None = None
    tools: bool = True  # gets `search_textbook` to look further
    translates: bool = True  # reads a question in another language and answers in it
    passage_budget: int | None = None  # passages it reads; None: all that were retrieved
    temperature: float | None = None
    max_tokens: int | None = None
    tracing: bool = False  # export Agents SDK traces (to OpenAI)
    fallback: ProviderName | None = None
    experimental: bool = False

    @property
    def bundled(self) -> bool:
        """The app starts this model itself."""
        return self.name == "bundled"

    @property
    def answered_by(self) -> str:
        """How an answer names its author: `provider: model`."""
        return f"{self.name}: {self.model}"

    @property
    def where(self) -> str:
        if self.kind == "excerpts":
            return "no model: sentences of the book"
        return "bundled, started by the app" if self.bundled else mask_url(self.base_url)


def provider(settings: Settings, name: ProviderName) -> Provider:
    """The record for `name` under these settings (whether or not it is configured)."""
    spec = SPECS[name]
    model, base_url = spec.model(settings), spec.base_url(settings)
    texts = {"model": model, "url": mask_url(base_url)}
    return Provider(
        name=name,
        kind=spec.kind,
        label=spec.label.format(**texts),
        description=spec.description.format(**texts),
        model=model,
        base_url=base_url,
        api_key=spec.api_key(settings),
        key_variable=spec.key_variable,
        url_variable=spec.url_variable,
        tools=spec.tools,
        translates=spec.translates,
        passage_budget=spec.passage_budget,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        tracing=spec.tracing,
        fallback=spec.fallback(settings),
        experimental=spec.experimental,
    )


def configured_providers(settings: Settings) -> list[ProviderName]:
    """Providers usable with these settings, in `auto` preference order; the offline two are always there."""
    names: list[ProviderName] = []
    if settings.gemini_api_key is not None:
        names.append("gemini")
    if settings.has_real_openai_key:
        names.append("openai")
    if settings.local_llm_base_url is not None:
        names.append("local")
    return [*names, "excerpts", "bundled"]


def choose_provider(settings: Settings) -> Provider:
    """`LLM_PROVIDER`, or for `auto`: Gemini with a key, else OpenAI with a real key, else your local server,
    else book excerpts."""
    name = settings.llm_provider
    return provider(settings, configured_providers(settings)[0] if name == "auto" else name)


class ProfileNotAllowed(ValueError):
    """A profile (provider) the asker's role may not use, or none configured: the message lists those they may."""


def offered(settings: Settings, role: Role) -> list[ProviderName]:
    """The profiles a role may pick: an explicit LLM_PROVIDER is the only one offered; otherwise every
    configured one, narrowed by STUDENT_PROFILES / INSTRUCTOR_PROFILES."""
    names = configured_providers(settings) if settings.llm_provider == "auto" else [settings.llm_provider]
    allowed = settings.instructor_profiles if role == "instructor" else settings.student_profiles
    if allowed.strip() == "*":
        return names
    wanted = {name.strip() for name in allowed.split(",")}
    return [name for name in names if name in wanted] or names[:1]


def allowed_provider(settings: Settings, role: Role, requested: ProviderName | None) -> ProviderName:
    """The provider that answers: the one requested if the role may use it, or with none requested the
    configured default when the role may use it, else the first it may. Every entry point asks this."""
    names = offered(settings, role)
    if requested is None:
        default = choose_provider(settings).name
        return default if default in names else names[0]
    if requested not in names:
        labels = ", ".join(f"{provider(settings, name).label} ({name})" for name in names)
        raise ProfileNotAllowed(f"The profile {requested!r} is not offered to you. Pick one of: {labels}.")
    return requested


def by_label(settings: Settings, label: str | None) -> Provider | None:
    """The configured provider whose profile label this is."""
    records = (provider(settings, name) for name in configured_providers(settings))
    return next((record for record in records if record.label == label), None)


def describe_llm_error(exc: BaseException, choice: Provider) -> str:
    """What failed, in words a user can act on (bad key, quota, unreachable, ...)."""
    import openai  # imported where used: `python -m ingest` and `rag.check` start a second faster without it

    who = f"The {choice.name} model {choice.model}"
    at = f"at {mask_url(choice.base_url)}" if choice.base_url else "at the server the app started"
    key = choice.key_variable or choice.url_variable or "the provider settings"
    url = choice.url_variable or "the provider settings"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return f"{who} rejected the API key: check {key}."
    if isinstance(exc, openai.RateLimitError):
        return f"{who} is over its rate limit or quota: wait a minute, or check the plan of {key}."
    if isinstance(exc, openai.NotFoundError):
        return f"{who} was not found {at}: check the model name and {url}."
    if isinstance(exc, TimeoutError):  # the whole wait, retries included, is bounded by LLM_TIMEOUT
        return f"{who} did not start answering within LLM_TIMEOUT: try again, or check {url}."
    if isinstance(exc, openai.APITimeoutError):
        return f"{who} did not answer in time {at}: try again, or check {url}."
    if isinstance(exc, openai.APIConnectionError):
        return f"{who} is unreachable {at}: check {url} and your network."
    if isinstance(exc, openai.APIStatusError):
        return f"{who} failed with HTTP {exc.status_code} {at}: try again later."
    return f"{who} failed: {type(exc).__name__}: {exc}"


class Models:
    """Agents SDK models for the LLM providers, over the Chat Completions API that all of them speak.

    The OpenAI clients are kept, one per endpoint and event loop (a client's connections belong to the loop that
    opened them): a new client costs about 20 ms of CPU on every question, for its TLS context alone (loading
    the system's CA certificates), and opens new connections.
    """

    def __init__(self) -> None:
        self._clients: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str | None, str, float], Any]] = (
            WeakKeyDictionary()
        )

    def __call__(self, choice: Provider, base_url: str | None, timeout: float) -> OpenAIChatCompletionsModel:
        """`base_url` is the running bundled server's URL for the bundled model."""
        from agents import OpenAIChatCompletionsModel

        return OpenAIChatCompletionsModel(model=choice.model, openai_client=self._client(choice, base_url, timeout))

    def _client(self, choice: Provider, base_url: str | None, timeout: float) -> Any:
        import openai

        key = (
            base_url or choice.base_url,
            choice.api_key.get_secret_value() if choice.api_key else "not-needed",
            timeout,
        )
        clients = self._clients.setdefault(asyncio.get_running_loop(), {})
        if key not in clients:
            clients[key] = openai.AsyncOpenAI(base_url=key[0], api_key=key[1], max_retries=LLM_RETRIES, timeout=timeout)
        return clients[key]
