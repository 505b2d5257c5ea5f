"""The Cloud backend's error mapping against a local HTTP server that answers like a failing Qdrant."""

from __future__ import annotations

import time

import pytest

from harness.fake_servers import FakeQdrant
from rag.config import load_settings
from rag.store import CollectionMissing, StoreAuthError, StoreError, StoreUnavailable, get_store
from rag.store.vectors import Embedding, SparseVector


@pytest.fixture
def connect(env):
    """A Cloud store for the fake server at `url`, with QDRANT_TIMEOUT=1."""

    def store(url: str, key: str | None = None):
        env(QDRANT_CLUSTER_ENDPOINT=url, QDRANT_TIMEOUT="1", **({"QDRANT_API_KEY": key} if key else {}))
        return get_store(load_settings())

    return store


def test_rejected_key_names_the_variable_without_retrying(servers, connect):
    server = servers(FakeQdrant, status=401)
    store = connect(server.url, key="wrong-key-123456")
    with pytest.raises(StoreAuthError) as info:
        store.verify_connection()
    assert "QDRANT_API_KEY" in str(info.value) and "wrong-key" not in str(info.value)
    assert server.requests == 1


def test_forbidden_is_a_rejected_key_too(servers, connect):
    store = connect(servers(FakeQdrant, status=403).url, key="k")
    with pytest.raises(StoreAuthError, match="HTTP 403"):
        store.verify_connection()


def test_unavailable_server_is_retried_three_times(servers, connect):
    server = servers(FakeQdrant, status=503)
    store = connect(server.url)
    with pytest.raises(StoreUnavailable) as info:
        store.verify_connection()
    assert server.requests == 3
    assert "QDRANT_CLUSTER_ENDPOINT" in str(info.value) and "3 attempts" in str(info.value)


def test_hanging_server_times_out_per_attempt(servers, connect):
    server = servers(FakeQdrant, hang=3)
    store = connect(server.url)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="Timeout"):
        store.verify_connection()
    elapsed = time.monotonic() - started
    assert server.requests == 3
    assert elapsed < 3 * 3, "each attempt must stop at QDRANT_TIMEOUT, not wait for the server"


def test_unreachable_endpoint_is_an_error_not_a_fallback(connect):
    store = connect("http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(StoreUnavailable, match="unset QDRANT_CLUSTER_ENDPOINT"):
        store.verify_connection()


def test_missing_collection_on_a_server_says_run_the_ingest(servers, connect):
    server = servers(FakeQdrant, status=404, error="Not found: Collection `textbook` doesn't exist!")
    with pytest.raises(CollectionMissing, match="python -m ingest"):
        connect(server.url).query([Embedding([1.0], SparseVector([], []))], limit=3)
    assert server.requests == 1, "a missing collection is not retried, and costs no second request"


def test_other_not_found_is_not_taken_for_a_missing_collection(servers, connect):
    """A 404 for the whole API (an endpoint with a wrong path) must not send the user to the ingest."""
    with pytest.raises(StoreError, match="HTTP 404") as info:
        connect(servers(FakeQdrant, status=404, error="Not Found").url).verify_connection()
    assert not isinstance(info.value, CollectionMissing)
