"""A Qdrant server (or cluster) through qdrant-client: the scale-out path behind stateless API replicas."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from qdrant_client import QdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import UnexpectedResponse

from rag import sparse as bm25
from rag.errors import StoreError
from rag.store.base import (
    DEFAULT_HNSW_EF,
    DENSE,
    INDEXED_FIELDS,
    RRF_K,
    SPARSE,
    SearchRequest,
    check_spec,
    chunk_from_payload,
    chunk_payload,
    dense_vector_of,
)
from rag.store.filtered_search import DenseMethod, DensePlan, plan_dense_search
from rag.store.server_retry import Node, RetryingCaller, RetryPolicy
from rag.types import LEGACY_ANALYZER, Chunk, Hit, SearchFilters, StoreSpec

_UPSERT_BATCH = 256
_FACET_LIMIT = 1_000_000
# Every read carries a match on the readers' access labels (rag.access): a tenant index keeps the chunks of
# one label together on disk, so a small group's filtered search reads a few pages instead of the index.
_TENANT_FIELD = "access"


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """How a Qdrant cluster keeps its copies (RAG_QDRANT_* settings). The server's defaults where None.

    ``shard_number``, ``replication_factor`` and ``write_consistency_factor`` are fixed when the
    collection is created; ``ordering`` applies to every write, ``read_consistency`` to every read.
    """

    shard_number: int | None = None
    replication_factor: int | None = None
    write_consistency_factor: int | None = None
    ordering: str = "medium"
    read_consistency: str | None = None
    acorn: bool = True

    def __post_init__(self) -> None:
        qm.WriteOrdering(self.ordering)  # raises ValueError naming the value
        _read_consistency(self.read_consistency)

    @property
    def write_ordering(self) -> qm.WriteOrdering:
        return qm.WriteOrdering(self.ordering)

    @property
    def consistency(self) -> qm.ReadConsistency | None:
        return _read_consistency(self.read_consistency)


class ServerStore:
    """One Qdrant collection on a server or cluster. The embedder spec lives in the collection's metadata.

    Writes wait until applied (``wait=True``) with the configured ordering; a request that fails with
    5xx, 429, a dropped connection or a timeout is repeated (on the next node given) within the retry
    policy, then reported as ServiceUnavailableError; 4xx answers are StoreErrors at once.
    """

    def __init__(
        self,
        client: QdrantClient | Sequence[QdrantClient],
        collection: str,
        where: str,
        hnsw_ef: int = DEFAULT_HNSW_EF,
        *,
        cluster: ClusterOptions | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        clients = [client] if isinstance(client, QdrantClient) else list(client)
        urls = [url.strip() for url in where.split(",")]
        if len(urls) != len(clients):
            urls = [where] * len(clients)
        self._call = RetryingCaller(
            [Node(url, c) for url, c in zip(urls, clients, strict=True)], retry or RetryPolicy(), sleep
        )
        self._cluster = cluster or ClusterOptions()
        self._hnsw_ef = hnsw_ef
        self._collection = collection
        self._where = where
        self.spec: StoreSpec | None = None

    def open(self, wanted: StoreSpec | None) -> ServerStore:
        name = self._collection
        if self._call(lambda c: c.collection_exists(name)):
            self._open_existing(wanted)
        elif wanted is not None:
            self._create(wanted)
        return self

    def _open_existing(self, wanted: StoreSpec | None) -> None:
        name = self._collection
        metadata = self._call(lambda c: c.get_collection(name)).config.metadata or {}
        if "embedder" not in metadata:
            raise StoreError(
                f"The Qdrant collection {name!r} at {self._where} was not created by "
                "private-rag: choose another RAG_COLLECTION."
            )
        self.spec = StoreSpec(
            str(metadata["embedder"]),
            int(metadata["dimension"]),
            str(metadata.get("analyzer", LEGACY_ANALYZER)),
        )
        if wanted is not None:
            check_spec(self.spec, wanted, f"{self._where} (collection {name})")
            self._index_payload_fields()

    def _create(self, spec: StoreSpec) -> None:
        name, cluster = self._collection, self._cluster

        def create(client: QdrantClient) -> bool:
            try:
                return client.create_collection(
                    name,
                    vectors_config={DENSE: qm.VectorParams(size=spec.dimension, distance=qm.Distance.COSINE)},
                    sparse_vectors_config={SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
                    shard_number=cluster.shard_number,
                    replication_factor=cluster.replication_factor,
                    write_consistency_factor=cluster.write_consistency_factor,
                    metadata={
                        "embedder": spec.embedder,
                        "dimension": spec.dimension,
                        "analyzer": spec.analyzer,
                        "schema": 1,
                    },
                )
            except UnexpectedResponse as exc:
                if _already_exists(exc):
                    return False
                raise

        if self._call(create):
            self._index_payload_fields()
            self.spec = spec
        else:
            # Another replica created it first (or our own attempt did before its answer was lost): open
            # that one, which must have been made for the same embedder.
            self._open_existing(spec)

    def _index_payload_fields(self) -> None:
        """Index the fields we filter by; a collection from an older version gains the newer ones.
        Creating an index twice (two replicas starting at once) is harmless."""
        name = self._collection
        indexed = set(self._call(lambda c: c.get_collection(name)).payload_schema)
        for field in INDEXED_FIELDS:
            if field not in indexed:
                schema: qm.PayloadSchemaType | qm.KeywordIndexParams = (
                    qm.KeywordIndexParams(type=qm.KeywordIndexType.KEYWORD, is_tenant=True)
                    if field == _TENANT_FIELD
                    else qm.PayloadSchemaType.KEYWORD
                )
                self._create_index(field, schema)

    def _create_index(self, field: str, schema: qm.PayloadSchemaType | qm.KeywordIndexParams) -> None:
        name, ordering = self._collection, self._cluster.write_ordering
        self._call(lambda c: c.create_payload_index(name, field, schema, wait=True, ordering=ordering))

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        points = [
            qm.PointStruct(
                id=chunk.chunk_id,
                vector={
                    DENSE: list(vector),
                    SPARSE: _sparse(bm25.encode_document(chunk.embed_text)),
                },
                payload=chunk_payload(chunk),
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        # One batch per request, each retried alone: a batch that reached the server before its answer
        # was lost is written again with the same ids, which changes nothing.
        for start in range(0, len(points), _UPSERT_BATCH):
            self._upsert_batch(points[start : start + _UPSERT_BATCH])

    def _upsert_batch(self, batch: list[qm.PointStruct]) -> None:
        name, ordering = self._collection, self._cluster.write_ordering
        self._call(lambda c: c.upsert(name, batch, wait=True, ordering=ordering))

    def delete_points(self, chunk_ids: Sequence[str]) -> None:
        if chunk_ids and self.spec is not None:
            self._delete(qm.PointIdsList(points=list(chunk_ids)))

    def delete_document(self, doc_id: str) -> None:
        if self.spec is not None:
            self._delete(qm.FilterSelector(filter=_doc_filter(doc_id)))

    def delete_stale_chunks(self, doc_id: str, keep: Sequence[str]) -> None:
        if self.spec is not None:
            stale = _doc_filter(doc_id)
            stale.must_not = [qm.HasIdCondition(has_id=list(keep))]
            self._delete(qm.FilterSelector(filter=stale))

    def _delete(self, selector: qm.PointIdsList | qm.FilterSelector) -> None:
        name, ordering = self._collection, self._cluster.write_ordering
        self._call(lambda c: c.delete(name, selector, wait=True, ordering=ordering))

    def set_source(self, doc_id: str, source: str, title: str) -> None:
        self._set_payload(doc_id, {"source": source, "title": title})

    def set_access(self, doc_id: str, access: Sequence[str]) -> None:
        self._set_payload(doc_id, {"access": list(access)})

    def _set_payload(self, doc_id: str, payload: dict[str, Any]) -> None:
        name, ordering = self._collection, self._cluster.write_ordering
        selector = qm.FilterSelector(filter=_doc_filter(doc_id))
        self._call(lambda c: c.set_payload(name, payload, points=selector, wait=True, ordering=ordering))

    def drop(self) -> None:
        name = self._collection
        self._call(lambda c: c.delete_collection(name))
        self.spec = None

    def optimize(self) -> None:
        """The server builds its HNSW index in the background by itself."""

    def search(self, request: SearchRequest) -> list[Hit]:
        if self.spec is None:
            return []
        flt = _filter(request.filters)
        sparse_vector = bm25.encode_query(request.text)
        sparse = _sparse(sparse_vector) if sparse_vector else None
        dense = list(request.dense) if request.dense is not None else None
        kwargs: dict[str, Any]
        params = self._dense_params(flt) if request.mode != "sparse" else None
        if request.mode == "dense" or (request.mode == "hybrid" and sparse is None):
            kwargs = {"query": dense, "using": DENSE, "search_params": params}
        elif request.mode == "sparse":
            if sparse is None:
                return []
            kwargs = {"query": sparse, "using": SPARSE}
        else:
            kwargs = {
                "prefetch": [
                    qm.Prefetch(
                        query=dense,
                        using=DENSE,
                        limit=request.prefetch_limit,
                        filter=flt,
                        params=params,
                    ),
                    qm.Prefetch(query=sparse, using=SPARSE, limit=request.prefetch_limit, filter=flt),
                ],
                "query": qm.RrfQuery(rrf=qm.Rrf(k=RRF_K)),
            }
        name, consistency, limit = self._collection, self._cluster.consistency, request.limit
        result = self._call(
            lambda c: c.query_points(
                name, query_filter=flt, limit=limit, with_payload=True, consistency=consistency, **kwargs
            )
        )
        return [Hit(chunk_from_payload(p.id, p.payload or {}), float(p.score)) for p in result.points]

    def _dense_params(self, flt: qm.Filter | None) -> qm.SearchParams:
        """Plain HNSW unless a filter strands it (rag/store/filtered_search.py), decided from the server's
        estimates from the payload index, as the embedded store does."""
        if flt is None:
            return _search_params(plan_dense_search(None, 0, self._hnsw_ef), self._cluster.acorn)
        name = self._collection
        matching = int(self._call(lambda c: c.count(name, count_filter=flt, exact=False)).count)
        total = int(self._call(lambda c: c.count(name, exact=False)).count)
        return _search_params(plan_dense_search(matching, total, self._hnsw_ef), self._cluster.acorn)

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if self.spec is None or not chunk_ids:
            return []
        name, ids, consistency = self._collection, list(chunk_ids), self._cluster.consistency
        records = self._call(lambda c: c.retrieve(name, ids=ids, with_payload=True, consistency=consistency))
        found = {str(r.id): chunk_from_payload(r.id, r.payload or {}) for r in records}
        return [found[i] for i in chunk_ids if i in found]

    def get_vectors(self, chunk_ids: Sequence[str]) -> list[tuple[Chunk, list[float]]]:
        if self.spec is None or not chunk_ids:
            return []
        name, ids, consistency = self._collection, list(chunk_ids), self._cluster.consistency
        records = self._call(
            lambda c: c.retrieve(
                name, ids=ids, with_payload=True, with_vectors=[DENSE], consistency=consistency
            )
        )
        found = {
            str(r.id): (chunk_from_payload(r.id, r.payload or {}), vector)
            for r in records
            if (vector := dense_vector_of(r.vector)) is not None
        }
        return [found[i] for i in chunk_ids if i in found]

    def count(self, filters: SearchFilters | None = None) -> int:
        if self.spec is None:
            return 0
        name, flt = self._collection, _filter(filters)
        return int(self._call(lambda c: c.count(name, count_filter=flt, exact=True)).count)

    def chunk_counts(self, filters: SearchFilters | None = None) -> dict[str, int]:
        if self.spec is None:
            return {}
        name, flt, consistency = self._collection, _filter(filters), self._cluster.consistency
        facet = self._call(
            lambda c: c.facet(
                name, key="doc_id", facet_filter=flt, limit=_FACET_LIMIT, exact=True, consistency=consistency
            )
        )
        return {str(hit.value): int(hit.count) for hit in facet.hits if hit.count > 0}

    def close(self) -> None:
        self._call.close()


def _search_params(plan: DensePlan, acorn: bool) -> qm.SearchParams:
    if plan.method is DenseMethod.EXACT:
        return qm.SearchParams(exact=True)
    if plan.method is DenseMethod.ACORN and acorn:
        # max_selectivity 1.0: the store has decided; the server's own cut-off (0.4) must not undo it.
        return qm.SearchParams(
            hnsw_ef=plan.hnsw_ef, acorn=qm.AcornSearchParams(enable=True, max_selectivity=1.0)
        )
    return qm.SearchParams(hnsw_ef=plan.hnsw_ef)


def _sparse(vector: bm25.SparseVector) -> qm.SparseVector:
    return qm.SparseVector(indices=vector.indices, values=vector.values)


def _filter(filters: SearchFilters | None) -> qm.Filter | None:
    if filters is None or filters.empty:
        return None
    must: list[qm.Condition] = [
        qm.FieldCondition(key=key, match=qm.MatchAny(any=values)) for key, values in filters.conditions()
    ]
    return qm.Filter(must=must)


def _doc_filter(doc_id: str) -> qm.Filter:
    return qm.Filter(must=[qm.FieldCondition(key="doc_id", match=qm.MatchValue(value=doc_id))])


def _already_exists(exc: UnexpectedResponse) -> bool:
    # Qdrant answers 409 (older versions 400 "Wrong input") to creating a collection that exists.
    return exc.status_code in (400, 409) and b"already exists" in exc.content


def _read_consistency(value: str | None) -> qm.ReadConsistency | None:
    if value is None:
        return None
    if value.isdigit() and int(value) >= 1:
        return int(value)
    try:
        return qm.ReadConsistencyType(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a read consistency: use majority, quorum, all, or a number of replicas"
        ) from None
