"""Shared fixtures. Tests run offline: any connection beyond loopback fails loudly."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest

from rag.config import Settings
from rag.embeddings import Embedder

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SAMPLE_DOCS = REPO / "samples" / "textbook" / "docs"
CONFIG_VARIABLES = [name.upper() for name in Settings.model_fields] + ["QDRANT_URL"]

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"  # never export traces from tests

_real_connect = socket.socket.connect


def _loopback_only(sock: socket.socket, address):
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = ipaddress.ip_address(socket.gethostbyname(host)) if host == "localhost" else None
        if ip is None or not ip.is_loopback:
            raise OSError(f"test tried to reach {address}: tests must stay offline")
    return _real_connect(sock, address)


@pytest.fixture(autouse=True)
def offline_and_clean_env(monkeypatch, tmp_path):
    """No network, no configuration leaking in from the developer's shell or `.env`."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    for name in CONFIG_VARIABLES + ["CI"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


def requires_shared(*parts: str) -> Path:
    """The path under ../shared, or skip with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared real-data folder is needed for this test (CI has it)")
    return path


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory, embedder):
    """The sample book ingested once into an embedded store, shared (read-only) by the answering tests."""
    from ingest.pipeline import IngestOptions, run_ingest
    from rag.store import EdgeStore

    store = EdgeStore(tmp_path_factory.mktemp("sample") / "qdrant", "textbook_content")
    run_ingest(IngestOptions(SAMPLE_DOCS, base_url="https://book.example/docs"), store, embedder)
    yield store
    store.close()
