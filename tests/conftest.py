"""Shared fixtures. Tests run offline: any connection beyond loopback fails loudly."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from agents import Model

from harness import Missing
from harness.app import REPO, SAMPLE_DOCS
from harness.browser import launch
from harness.ports import listening_ports, wait_for_request
from rag.config import Settings, load_settings
from rag.db.database import Database
from rag.engine import Engine
from rag.search.embeddings import Embedder
from rag.store import Store

SHARED = REPO.parent / "shared"
T = TypeVar("T")
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
    """One ONNX thread, as the app's: a pool of intra-op threads spins after every call, and tests make
    thousands of small ones."""
    return Embedder(threads=1)


def unpooled() -> Database:
    """The history database of this test's settings, a connection per use: tests run one event loop after
    another, and a pooled connection belongs to the loop that opened it."""
    return Database(load_settings(), pooled=False)


@pytest.fixture
def env(monkeypatch) -> Callable[..., None]:
    """Configuration variables for this test only: `env(LLM_PROVIDER="bundled", TOP_K="3")`."""

    def set_variables(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_variables


@pytest.fixture
def servers() -> Iterator[Callable[..., Any]]:
    """Local fake servers for this test, closed after it: `servers(FakeOpenAI, ["an answer [1]."])`."""
    started: list[Any] = []

    def start(kind: type, *args: Any, **kwargs: Any) -> Any:
        started.append(kind(*args, **kwargs))
        return started[-1]

    yield start
    for server in started:
        server.close()


def build_engine(
    store: Store,
    embedder: Embedder,
    model: Model | None = None,
    settings: Settings | None = None,
    pooled: bool = False,
) -> Engine:
    """The one way a test builds the engine: a store, the settings (default: this test's environment), and a
    scripted model standing in for an LLM provider (None: the real clients, say against a fake server). The
    database is unpooled (see `unpooled`) unless a test runs in one event loop and wants the app's pool."""
    settings = settings or load_settings()
    build = None if model is None else (lambda choice, url, timeout: model)
    return Engine.assemble(settings, store, embedder, build=build, database=Database(settings, pooled=pooled))


@pytest.fixture
def make_engine(sample_store, embedder, env) -> Callable[..., Engine]:
    """`build_tutor` on the sample book (or `store`), with these variables set for the test."""

    def make(model: Model | None = None, store: Store | None = None, **variables: str) -> Engine:
        env(**variables)
        return build_engine(store or sample_store, embedder, model)

    return make


@contextmanager
def crashes(pid: int) -> Iterator[None]:
    """The model server `pid` dies of SIGSEGV while it serves what the block sends it, as a llama.cpp built for
    instructions this CPU lacks does: paused for the block, then crashed once the request has reached it."""
    ports = listening_ports(pid)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
        wait_for_request(ports)  # the question is searched and its request sent to the paused server
        os.kill(pid, signal.SIGSEGV)
    finally:
        os.kill(pid, signal.SIGCONT)


def crash_during(pid: int, request: Callable[[], T]) -> T:
    """`request`'s result when the model server `pid` crashes while serving it (see `crashes`)."""
    with ThreadPoolExecutor(1) as pool:
        with crashes(pid):
            result = pool.submit(request)
        return result.result(timeout=120)


def requires_shared(*parts: str) -> Path:
    """The path under ../shared, or skip with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared real-data folder is needed for this test (CI has it)")
    return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A program the harness needs and the machine lacks (`harness.Missing`) skips the test, with how to
    install it; `.ci/run` installs them all."""
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(Missing):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {call.excinfo.value}")
    return report


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium for a module's browser tests (skipped where it is missing)."""
    with launch() as browser:
        yield browser


@pytest.fixture(autouse=True)
def nothing_leaves_the_machine(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every page a browser test opens (the chat, the book and its widget, the instructor view) asks nothing of
    another host: the app works offline."""
    yield
    if "browser" in request.fixturenames:
        browser = request.getfixturevalue("browser")
        away, browser.away[:] = list(browser.away), []
        assert away == [], f"requests left the machine: {away}"


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory, embedder):
    """The sample book ingested once into an embedded store, shared (read-only) by the answering tests."""
    from ingest.pipeline import IngestOptions, run_ingest
    from rag.store import EdgeStore

    store = EdgeStore(tmp_path_factory.mktemp("sample") / "qdrant", "textbook_content")
    run_ingest(IngestOptions(SAMPLE_DOCS, base_url="https://book.example/docs"), store, embedder)
    yield store
    store.close()
