"""The providers as data: one `ProviderSpec` per answer mode, before any settings are read.

`rag.llm.providers.provider()` binds a spec to the settings; `LLM_PROVIDER` takes its values from `ProviderName`.
Settings are read through the spec's functions, typed by the `Settings` protocol below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from pydantic import SecretStr

ProviderName = Literal["excerpts", "bundled", "local", "gemini", "openai"]
ProviderKind = Literal["excerpts", "llm"]
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


class Settings(Protocol):
    """The settings the table reads (`rag.config.Settings` has them): named here, so that the table sits below
    the configuration, which takes `ProviderName` from it."""

    @property
    def local_llm_model(self) -> str: ...
    @property
    def local_llm_base_url(self) -> str | None: ...
    @property
    def model_name(self) -> str: ...
    @property
    def gemini_base_url(self) -> str: ...
    @property
    def gemini_api_key(self) -> SecretStr | None: ...
    @property
    def openai_model(self) -> str: ...
    @property
    def openai_base_url(self) -> str | None: ...
    @property
    def openai_api_key(self) -> SecretStr | None: ...
    @property
    def has_real_openai_key(self) -> bool: ...


@dataclass(frozen=True, kw_only=True)
class ProviderSpec:
    """What a provider is, before settings: its texts (`{model}` and `{url}` filled in), which settings give its
    model, URL and key, and how it is run. `provider()` binds one to settings."""

    kind: ProviderKind = "llm"
    label: str
    description: str
    model: Callable[[Settings], str]
    base_url: Callable[[Settings], str | None] = lambda _: None
    api_key: Callable[[Settings], SecretStr | None] = lambda _: None
    key_variable: str | None = None
    url_variable: str | None = None
    tools: bool = True
    translates: bool = True
    passage_budget: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    tracing: bool = False
    fallback: Callable[[Settings], ProviderName | None] = lambda _: None
    experimental: bool = False


SPECS: dict[ProviderName, ProviderSpec] = {
    "excerpts": ProviderSpec(
        kind="excerpts",
        label="Book excerpts",
        description="The book's own sentences for your question, each cited. Offline; never invents.",
        model=lambda _: "book-excerpts",
        tools=False,
        translates=False,
    ),
    # The 135M model reads slowly (seconds per thousand prompt tokens), rambles and cannot use tools.
    "bundled": ProviderSpec(
        label="SmolLM2 (experimental)",
        description="A tiny offline model: fluent but often wrong; sentences the book does not support are marked.",
        model=lambda s: s.local_llm_model,
        tools=False,
        translates=False,
        passage_budget=3,
        temperature=0.2,
        max_tokens=350,
        experimental=True,
    ),
    "local": ProviderSpec(
        label="Local: {model}",
        description="Your model server at {url}.",
        model=lambda s: s.local_llm_model,
        base_url=lambda s: s.local_llm_base_url,
        url_variable="LOCAL_LLM_BASE_URL",
    ),
    "gemini": ProviderSpec(
        label="Gemini",
        description="Google's {model}.",
        model=lambda s: s.model_name,
        base_url=lambda s: s.gemini_base_url,
        api_key=lambda s: s.gemini_api_key,
        key_variable="GEMINI_API_KEY",
        url_variable="GEMINI_BASE_URL",
        fallback=lambda s: "openai" if s.has_real_openai_key else None,
    ),
    "openai": ProviderSpec(
        label="OpenAI",
        description="OpenAI's {model}.",
        model=lambda s: s.openai_model,
        base_url=lambda s: s.openai_base_url or OPENAI_DEFAULT_URL,
        api_key=lambda s: s.openai_api_key,
        key_variable="OPENAI_API_KEY",
        url_variable="OPENAI_BASE_URL",
        tracing=True,
    ),
}
