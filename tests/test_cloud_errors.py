"""The Cloud backend's error mapping against a local HTTP server that answers like a failing Qdrant."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.config import load_settings
from rag.store import StoreAuthError, StoreUnavailable, get_store


class FakeQdrant:
    """Answers every request with `status` (or hangs for `hang` seconds) and counts the requests."""

    def __init__(self, status: int = 200, hang: float = 0.0):
        self.status, self.hang, self.requests = status, hang, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                if outer.hang:
                    time.sleep(outer.hang)
                body = json.dumps({"status": {"error": "simulated"}, "time": 0}).encode()
                try:
                    self.send_response(outer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    servers = []

    def start(**kwargs) -> FakeQdrant:
        servers.append(FakeQdrant(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def connect(monkeypatch, url: str, key: str | None = None):
    monkeypatch.setenv("QDRANT_CLUSTER_ENDPOINT", url)
    monkeypatch.setenv("QDRANT_TIMEOUT", "1")
    if key:
        monkeypatch.setenv("QDRANT_API_KEY", key)
    return get_store(load_settings())


def test_rejected_key_names_the_variable_without_retrying(fake, monkeypatch):
    server = fake(status=401)
    store = connect(monkeypatch, server.url, key="wrong-key-123456")
    with pytest.raises(StoreAuthError) as info:
        store.verify_connection()
    assert "QDRANT_API_KEY" in str(info.value) and "wrong-key" not in str(info.value)
    assert server.requests == 1


def test_forbidden_is_a_rejected_key_too(fake, monkeypatch):
    store = connect(monkeypatch, fake(status=403).url, key="k")
    with pytest.raises(StoreAuthError, match="HTTP 403"):
        store.verify_connection()


def test_unavailable_server_is_retried_three_times(fake, monkeypatch):
    server = fake(status=503)
    store = connect(monkeypatch, server.url)
    with pytest.raises(StoreUnavailable) as info:
        store.verify_connection()
    assert server.requests == 3
    assert "QDRANT_CLUSTER_ENDPOINT" in str(info.value) and "3 attempts" in str(info.value)


def test_hanging_server_times_out_per_attempt(fake, monkeypatch):
    server = fake(hang=3)
    store = connect(monkeypatch, server.url)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="Timeout"):
        store.verify_connection()
    elapsed = time.monotonic() - started
    assert server.requests == 3
    assert elapsed < 3 * 3, "each attempt must stop at QDRANT_TIMEOUT, not wait for the server"


def test_unreachable_endpoint_is_an_error_not_a_fallback(monkeypatch):
    store = connect(monkeypatch, "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(StoreUnavailable, match="unset QDRANT_CLUSTER_ENDPOINT"):
        store.verify_connection()
