"""Which LLM answers: OpenAI, Gemini (OpenAI-compatible endpoint) or a local OpenAI-compatible server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from typing import TYPE_CHECKING

from pydantic import SecretStr

from rag.config import Settings

if TYPE_CHECKING:
    from agents import OpenAIChatCompletionsModel

ProviderName = Literal["openai", "gemini", "local"]
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class ProviderChoice:
    """A provider and how to reach it. `base_url` is None for the bundled model the app starts itself."""

    name: ProviderName
    model: str
    base_url: str | None
    api_key: SecretStr | None

    @property
    def bundled(self) -> bool:
        return self.name == "local" and self.base_url is None

    @property
    def label(self) -> str:
        where = "bundled, started by the app" if self.bundled else self.base_url
        return f"{self.name}: {self.model} ({where})"


def provider(settings: Settings, name: ProviderName) -> ProviderChoice:
    if name == "openai":
        return ProviderChoice("openai", settings.openai_model, settings.openai_base_url or OPENAI_DEFAULT_URL,
                              settings.openai_api_key)
    if name == "gemini":
        return ProviderChoice("gemini", settings.model_name, settings.gemini_base_url, settings.gemini_api_key)
    return ProviderChoice("local", settings.local_llm_model, settings.local_llm_base_url, None)


def configured_providers(settings: Settings) -> list[ProviderName]:
    """Providers usable with these settings, in `auto` preference order; local is always there."""
    names: list[ProviderName] = []
    if settings.gemini_api_key is not None:
        names.append("gemini")
    if settings.has_real_openai_key:
        names.append("openai")
    return [*names, "local"]


def choose_provider(settings: Settings) -> ProviderChoice:
    """`LLM_PROVIDER`, or for `auto`: Gemini with a key, else OpenAI with a real key, else local."""
    name = settings.llm_provider
    return provider(settings, configured_providers(settings)[0] if name == "auto" else name)


KEY_VARIABLE: dict[ProviderName, str] = {"openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY", "local": "LOCAL_LLM_BASE_URL"}
URL_VARIABLE: dict[ProviderName, str] = {"openai": "OPENAI_BASE_URL", "gemini": "GEMINI_BASE_URL", "local": "LOCAL_LLM_BASE_URL"}


def describe_llm_error(exc: BaseException, choice: ProviderChoice) -> str:
    """What failed, in words a user can act on (bad key, quota, unreachable, ...)."""
    import openai  # imported where used: `python -m ingest` and `rag.check` start a second faster without it

    who = f"The {choice.name} model {choice.model}"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return f"{who} rejected the API key: check {KEY_VARIABLE[choice.name]}."
    if isinstance(exc, openai.RateLimitError):
        return f"{who} is over its rate limit or quota: wait a minute, or check the plan of {KEY_VARIABLE[choice.name]}."
    if isinstance(exc, openai.NotFoundError):
        return f"{who} was not found at {choice.base_url}: check the model name and {URL_VARIABLE[choice.name]}."
    if isinstance(exc, openai.APITimeoutError):
        return f"{who} did not answer in time at {choice.base_url}: try again, or check {URL_VARIABLE[choice.name]}."
    if isinstance(exc, openai.APIConnectionError):
        return f"{who} is unreachable at {choice.base_url}: check {URL_VARIABLE[choice.name]} and your network."
    if isinstance(exc, openai.APIStatusError):
        return f"{who} failed with HTTP {exc.status_code} at {choice.base_url}: try again later."
    return f"{who} failed: {type(exc).__name__}: {exc}"


# The openai client retries 429, 5xx, timeouts and connection errors with exponential backoff.
LLM_RETRIES = 3


def build_model(choice: ProviderChoice, base_url: str | None, timeout: float) -> OpenAIChatCompletionsModel:
    """An Agents SDK model for the provider, over the Chat Completions API that all three speak.

    `base_url` is the running bundled server's URL for the bundled local model.
    """
    import openai
    from agents import OpenAIChatCompletionsModel

    key = choice.api_key.get_secret_value() if choice.api_key else "not-needed"
    client = openai.AsyncOpenAI(
        base_url=base_url or choice.base_url, api_key=key, max_retries=LLM_RETRIES, timeout=timeout
    )
    return OpenAIChatCompletionsModel(model=choice.model, openai_client=client)
