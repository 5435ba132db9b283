"""A Qdrant server (or cluster) through qdrant-client: the scale-out path behind stateless API replicas."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qdrant_client import QdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from rag import sparse as bm25
from rag.errors import ServiceUnavailableError, StoreError
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
)
from rag.types import LEGACY_ANALYZER, Chunk, Hit, SearchFilters, StoreSpec

_UPSERT_BATCH = 256
_FACET_LIMIT = 1_000_000


class ServerStore:
    """One Qdrant collection. The embedder spec lives in the collection's metadata."""

    def __init__(
        self, client: QdrantClient, collection: str, where: str, hnsw_ef: int = DEFAULT_HNSW_EF
    ) -> None:
        self._client = client
        self._params = qm.SearchParams(hnsw_ef=hnsw_ef)
        self._collection = collection
        self._where = where
        self.spec: StoreSpec | None = None

    def open(self, wanted: StoreSpec | None) -> ServerStore:
        with _translate(self._where):
            if self._client.collection_exists(self._collection):
                metadata = self._client.get_collection(self._collection).config.metadata or {}
                if "embedder" not in metadata:
                    raise StoreError(
                        f"The Qdrant collection {self._collection!r} at {self._where} was not created by "
                        "private-rag: choose another RAG_COLLECTION."
                    )
                self.spec = StoreSpec(
                    str(metadata["embedder"]),
                    int(metadata["dimension"]),
                    str(metadata.get("analyzer", LEGACY_ANALYZER)),
                )
                if wanted is not None:
                    check_spec(self.spec, wanted, f"{self._where} (collection {self._collection})")
                    self._index_payload_fields()
            elif wanted is not None:
                self._create(wanted)
        return self

    def _create(self, spec: StoreSpec) -> None:
        self._client.create_collection(
            self._collection,
            vectors_config={DENSE: qm.VectorParams(size=spec.dimension, distance=qm.Distance.COSINE)},
            sparse_vectors_config={SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
            metadata={
                "embedder": spec.embedder,
                "dimension": spec.dimension,
                "analyzer": spec.analyzer,
                "schema": 1,
            },
        )
        self._index_payload_fields()
        self.spec = spec

    def _index_payload_fields(self) -> None:
        """Index the fields we filter by; a collection from an older version gains the newer ones."""
        indexed = set(self._client.get_collection(self._collection).payload_schema)
        for name in INDEXED_FIELDS:
            if name not in indexed:
                self._client.create_payload_index(self._collection, name, qm.PayloadSchemaType.KEYWORD)

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
        with _translate(self._where):
            for start in range(0, len(points), _UPSERT_BATCH):
                self._client.upsert(self._collection, points[start : start + _UPSERT_BATCH], wait=True)

    def delete_points(self, chunk_ids: Sequence[str]) -> None:
        if chunk_ids and self.spec is not None:
            with _translate(self._where):
                self._client.delete(self._collection, qm.PointIdsList(points=list(chunk_ids)), wait=True)

    def delete_document(self, doc_id: str) -> None:
        if self.spec is not None:
            with _translate(self._where):
                self._client.delete(
                    self._collection, qm.FilterSelector(filter=_doc_filter(doc_id)), wait=True
                )

    def set_source(self, doc_id: str, source: str, title: str) -> None:
        with _translate(self._where):
            self._client.set_payload(
                self._collection,
                {"source": source, "title": title},
                points=qm.FilterSelector(filter=_doc_filter(doc_id)),
                wait=True,
            )

    def set_access(self, doc_id: str, access: Sequence[str]) -> None:
        with _translate(self._where):
            self._client.set_payload(
                self._collection,
                {"access": list(access)},
                points=qm.FilterSelector(filter=_doc_filter(doc_id)),
                wait=True,
            )

    def drop(self) -> None:
        with _translate(self._where):
            self._client.delete_collection(self._collection)
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
        if request.mode == "dense" or (request.mode == "hybrid" and sparse is None):
            kwargs = {"query": dense, "using": DENSE, "search_params": self._params}
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
                        params=self._params,
                    ),
                    qm.Prefetch(query=sparse, using=SPARSE, limit=request.prefetch_limit, filter=flt),
                ],
                "query": qm.RrfQuery(rrf=qm.Rrf(k=RRF_K)),
            }
        with _translate(self._where):
            result = self._client.query_points(
                self._collection, query_filter=flt, limit=request.limit, with_payload=True, **kwargs
            )
        return [Hit(chunk_from_payload(p.id, p.payload or {}), float(p.score)) for p in result.points]

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if self.spec is None or not chunk_ids:
            return []
        with _translate(self._where):
            records = self._client.retrieve(self._collection, ids=list(chunk_ids), with_payload=True)
        found = {str(r.id): chunk_from_payload(r.id, r.payload or {}) for r in records}
        return [found[i] for i in chunk_ids if i in found]

    def count(self, filters: SearchFilters | None = None) -> int:
        if self.spec is None:
            return 0
        with _translate(self._where):
            return int(self._client.count(self._collection, count_filter=_filter(filters), exact=True).count)

    def chunk_counts(self, filters: SearchFilters | None = None) -> dict[str, int]:
        if self.spec is None:
            return {}
        with _translate(self._where):
            facet = self._client.facet(
                self._collection,
                key="doc_id",
                facet_filter=_filter(filters),
                limit=_FACET_LIMIT,
                exact=True,
            )
        return {str(hit.value): int(hit.count) for hit in facet.hits if hit.count > 0}

    def close(self) -> None:
        self._client.close()


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


@contextmanager
def _translate(where: str) -> Iterator[None]:
    """Map qdrant-client's transport and HTTP errors to ours, naming the server."""
    try:
        yield
    except StoreError:
        raise
    except UnexpectedResponse as exc:
        raise StoreError(f"The Qdrant server at {where} refused the request: {exc}") from exc
    except (ResponseHandlingException, ConnectionError) as exc:
        raise ServiceUnavailableError(
            f"The Qdrant server at {where} is not reachable ({exc}): start it, or unset RAG_QDRANT_URL "
            "to use the embedded store."
        ) from exc
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ServiceUnavailableError(f"The Qdrant server at {where} is not reachable ({exc}).") from exc
