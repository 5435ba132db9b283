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
        from rag.store.edge import EdgeStorage, EdgeStore
        from rag.store.owner import DataDirOwner

        owner = DataDirOwner(settings.data_dir).acquire()
        try:
            store = EdgeStore(
                settings.collection_dir,
                owner,
                settings.hnsw_threshold,
                settings.hnsw_ef,
                min_free_disk_mb=settings.min_free_disk_mb,
                storage=EdgeStorage(
                    settings.store_on_disk, settings.store_quantization, settings.store_oversampling
                ),
            )
            return store.open(spec)
        except BaseException:
            owner.release()
            raise

    from qdrant_client import QdrantClient

    from rag.store.server import ClusterOptions, ServerStore
    from rag.store.server_retry import RetryPolicy

    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    if settings.qdrant_url == ":memory:":
        # qdrant-client's in-process stand-in for a server (tests); it ignores every cluster setting.
        clients = [QdrantClient(":memory:")]
    else:
        # One client per node of a cluster: a request goes to the next node when one is down.
        timeout = max(1, round(settings.qdrant_timeout_s))
        clients = [QdrantClient(url=url, api_key=api_key, timeout=timeout) for url in settings.qdrant_urls]
    cluster = ClusterOptions(
        shard_number=settings.qdrant_shard_number,
        replication_factor=settings.qdrant_replication_factor,
        write_consistency_factor=settings.qdrant_write_consistency_factor,
        ordering=settings.qdrant_write_ordering,
        read_consistency=settings.qdrant_read_consistency,
        acorn=settings.qdrant_acorn,
    )
    retry = RetryPolicy(attempts=settings.qdrant_retries, max_delay_s=settings.qdrant_retry_max_s)
    server = ServerStore(
        clients, settings.collection, settings.qdrant_url, settings.hnsw_ef, cluster=cluster, retry=retry
    )
    return server.open(spec)
