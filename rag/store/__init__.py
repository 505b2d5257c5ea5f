"""The Qdrant store: Qdrant Cloud when QDRANT_CLUSTER_ENDPOINT is set, otherwise embedded Qdrant Edge."""

from __future__ import annotations

from rag.config import Settings
from rag.store.base import (
    CollectionMissing,
    CollectionSpec,
    Hit,
    ModelMismatch,
    PayloadFilter,
    SearchMode,
    Store,
    StoreAuthError,
    StoredPoint,
    StoreError,
    StoreFull,
    StoreLocked,
    StoreUnavailable,
)
from rag.store.edge import EdgeStore

__all__ = [
    "CloudStore",
    "CollectionMissing",
    "CollectionSpec",
    "EdgeStore",
    "Hit",
    "ModelMismatch",
    "PayloadFilter",
    "SearchMode",
    "Store",
    "StoreAuthError",
    "StoreError",
    "StoreFull",
    "StoreLocked",
    "StoreUnavailable",
    "StoredPoint",
    "get_store",
]


def __getattr__(name: str) -> type:
    # qdrant-client takes a second to import; only Cloud users and tests need it.
    if name == "CloudStore":
        from rag.store.cloud import CloudStore

        return CloudStore
    raise AttributeError(name)


def get_store(settings: Settings) -> Store:
    """The backend the settings ask for. Never falls back from a configured server to the embedded store."""
    if settings.qdrant_cluster_endpoint:
        from rag.store.cloud import CloudStore, ClusterLayout

        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        layout = ClusterLayout(settings.qdrant_shards, settings.qdrant_replicas)
        return CloudStore.connect(
            settings.qdrant_cluster_endpoint, key, settings.qdrant_collection, settings.qdrant_timeout, layout
        )
    return EdgeStore(settings.qdrant_path, settings.qdrant_collection)
