"""Vector stores: embedded Qdrant Edge (default) or a Qdrant server (RAG_QDRANT_URL)."""

from __future__ import annotations

from rag.config import Settings
from rag.store.base import SearchRequest, VectorStore
from rag.types import StoreSpec

__all__ = ["SearchRequest", "VectorStore", "open_store"]


def open_store(settings: Settings, spec: StoreSpec | None) -> VectorStore:
    """Open this knowledge base's store. With ``spec`` it is created if missing and must match;
    without it, an existing store opens as it is (or an empty one if nothing was ingested yet)."""
    if settings.qdrant_url is None:
        from rag.store.edge import EdgeStore
        from rag.store.owner import DataDirOwner

        owner = DataDirOwner(settings.data_dir).acquire()
        try:
            store = EdgeStore(
                settings.collection_dir,
                owner,
                settings.hnsw_threshold,
                settings.hnsw_ef,
                min_free_disk_mb=settings.min_free_disk_mb,
            )
            return store.open(spec)
        except BaseException:
            owner.release()
            raise

    from qdrant_client import QdrantClient

    from rag.store.server import ServerStore

    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    if settings.qdrant_url == ":memory:":
        client = QdrantClient(":memory:")  # qdrant-client's in-process stand-in for a server (tests)
    else:
        client = QdrantClient(
            url=settings.qdrant_url, api_key=api_key, timeout=int(settings.request_timeout_s)
        )
    return ServerStore(client, settings.collection, settings.qdrant_url, settings.hnsw_ef).open(spec)
