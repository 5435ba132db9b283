"""The embedded store: Qdrant Edge, Qdrant's own engine in-process, on disk under the data dir."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import qdrant_edge as qe

from rag import sparse as bm25
from rag.disk import ensure_free_space
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
from rag.store.owner import DataDirOwner
from rag.types import LEGACY_ANALYZER, Chunk, Hit, SearchFilters, StoreSpec

_UPSERT_BATCH = 256
_NEW_SHARD_BYTES = 16 * 1024 * 1024  # what a new, empty shard allocates, with room to spare
_FACET_LIMIT = 1_000_000
# The engine's HNSW defaults, restated because its config type wants them all to move the graph to disk.
_HNSW_M, _HNSW_EF_CONSTRUCT, _HNSW_FULL_SCAN_KB = 16, 100, 10_000
# 8-bit copies by the engine's TurboQuant, not its scalar int8: on clustered 384-d cosine vectors
# (8,000 points, tests/rag/store/test_edge_storage.py's) scalar int8 let HNSW find 0.50-0.57 of the true
# top 10, even rescored, at hnsw_ef 2048 or with the copies ignored at search (the graph is built on their
# scores); TurboQuant 8-bit found 0.99, at the same byte per dimension.
_EIGHT_BITS = qe.TurboQuantBitSize.Bits8

log = logging.getLogger("rag.store")


@dataclass(frozen=True, slots=True)
class EdgeStorage:
    """Where the shard keeps its indexes (RAG_STORE_ON_DISK, RAG_STORE_QUANTIZATION); oversampling is
    read at search time only (RAG_STORE_OVERSAMPLING)."""

    on_disk: bool = False
    quantization: Literal["none", "8bit"] = "none"
    oversampling: float = 2.0

    def layout(self) -> dict[str, Any]:
        """What store.json records: the part of these options the files are built with."""
        return {"on_disk": self.on_disk, "quantization": self.quantization}

    def describe(self) -> str:
        where = "on disk (mmap)" if self.on_disk else "in memory"
        quantized = ", 8-bit copies in memory" if self.quantization == "8bit" else ""
        return f"vectors and indexes {where}{quantized}"

    @classmethod
    def from_layout(cls, layout: dict[str, Any], oversampling: float) -> EdgeStorage:
        return cls(bool(layout["on_disk"]), layout["quantization"], oversampling)


# Stores from before RAG_STORE_ON_DISK record no layout: they were built with the engine's defaults.
_DEFAULT_LAYOUT = EdgeStorage().layout()


class EdgeStore:
    """One Qdrant Edge shard per knowledge base: ``<collection dir>/shard`` plus ``store.json``."""

    def __init__(
        self,
        collection_dir: Path,
        owner: DataDirOwner,
        hnsw_threshold: int,
        hnsw_ef: int = DEFAULT_HNSW_EF,
        min_free_disk_mb: int = 0,
        storage: EdgeStorage | None = None,
    ) -> None:
        self._dir = collection_dir
        self._storage = storage or EdgeStorage()
        self._min_free_disk_mb = min_free_disk_mb
        self._owner = owner
        self._hnsw_threshold = hnsw_threshold
        self._hnsw_ef = hnsw_ef
        self.spec: StoreSpec | None = None
        self._shard: Any = None

    # -- opening -------------------------------------------------------------------------------------

    @property
    def _shard_dir(self) -> Path:
        return self._dir / "shard"

    @property
    def _meta_path(self) -> Path:
        return self._dir / "store.json"

    def exists(self) -> bool:
        return self._meta_path.exists() and self._shard_dir.exists()

    def open(self, wanted: StoreSpec | None) -> EdgeStore:
        """Open the shard, creating it for ``wanted`` if there is none yet."""
        if self.exists():
            meta = json.loads(self._meta_path.read_text(encoding="utf-8"))
            self.spec = StoreSpec(
                embedder=meta["embedder"],
                dimension=int(meta["dimension"]),
                analyzer=str(meta.get("analyzer", LEGACY_ANALYZER)),
            )
            if wanted is not None:
                check_spec(self.spec, wanted, str(self._dir))
            recorded = EdgeStorage.from_layout(
                meta.get("storage", _DEFAULT_LAYOUT), self._storage.oversampling
            )
            self._keep_quantization(recorded)
            if recorded.layout() == self._storage.layout():
                self._shard = _edge_call(qe.EdgeShard.load, str(self._shard_dir))
            else:
                self._change_storage(meta, recorded)
            self._index_payload_fields()
            return self
        if wanted is None:
            return self  # nothing ingested yet (or a store to drop): an empty store
        if self._shard_dir.exists():
            self._recover_interrupted_creation()
        self._create(wanted)
        return self

    def _recover_interrupted_creation(self) -> None:
        """A shard folder without store.json: a creation cut short (a full disk, a kill) is removed and
        redone; a shard that holds chunks is kept, and the user is told how to rebuild it."""
        try:
            shard = qe.EdgeShard.load(str(self._shard_dir))
            try:
                points: int | None = int(shard.count(qe.CountRequest(exact=True)))
            finally:
                shard.close()
        except Exception:  # qdrant-edge raises bare Exception; a half-written shard does not load
            points = None
        if points == 0:
            shutil.rmtree(self._shard_dir)
            return
        state = f"holds {points} chunks" if points else "cannot be read"
        raise StoreError(
            f"The store in {self._dir} {state} but its store.json is missing, so it is not known which "
            "embedder made it: run `rag reindex --yes` to rebuild it from your files (they are untouched)."
        )

    def _keep_quantization(self, recorded: EdgeStorage) -> None:
        """The engine adds 8-bit copies in place but cannot drop them (a shard's config cannot say "no
        quantisation", only leave it as it is): the store keeps them, and search keeps using them."""
        if recorded.quantization == "none" or self._storage.quantization != "none":
            return
        log.warning(
            "The store in %s keeps its 8-bit vector copies although RAG_STORE_QUANTIZATION=none: they "
            "cannot be removed from an existing store. To drop them, rebuild it from your files with "
            "`rag reindex --yes`; to silence this, set RAG_STORE_QUANTIZATION=%s.",
            self._dir,
            recorded.quantization,
        )
        self._storage = replace(self._storage, quantization=recorded.quantization)

    def _change_storage(self, meta: dict[str, Any], recorded: EdgeStorage) -> None:
        """The engine takes a new layout in place: loading with it records it, and its optimiser rewrites
        the existing segments at the next optimize() (after the next ingest); until then search reads
        them as they are."""
        assert self.spec is not None
        config = _edge_config(self.spec.dimension, self._storage, explicit=True)
        self._shard = _edge_call(qe.EdgeShard.load, str(self._shard_dir), config)
        self._write_meta(meta | {"storage": self._storage.layout()})
        log.warning(
            "The store in %s now keeps %s (it kept %s): its %d chunks are rewritten so at the next "
            "optimisation, after the next ingest (about as long as that many chunks took to index).",
            self._dir,
            self._storage.describe(),
            recorded.describe(),
            self.count(),
        )

    def _create(self, spec: StoreSpec) -> None:
        config = _edge_config(spec.dimension, self._storage)
        ensure_free_space(self._dir, _NEW_SHARD_BYTES, self._min_free_disk_mb)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._shard = _edge_call(qe.EdgeShard.create, str(self._shard_dir), config)
        self._index_payload_fields()
        # The meta file is written last: a shard without it is an interrupted creation, redone next time.
        self._write_meta(
            {
                "embedder": spec.embedder,
                "dimension": spec.dimension,
                "analyzer": spec.analyzer,
                "schema": 1,
                "storage": self._storage.layout(),
            }
        )
        self.spec = spec

    def _write_meta(self, meta: dict[str, Any]) -> None:
        tmp = self._meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta))
        tmp.replace(self._meta_path)

    def _index_payload_fields(self) -> None:
        """Index the fields we filter by; a store from an older version gains the newer ones (access)."""
        indexed = set(self._shard.info().payload_schema)
        for name in INDEXED_FIELDS:
            if name not in indexed:
                self._shard.update(qe.UpdateOperation.create_field_index(name, qe.PayloadSchemaType.Keyword))

    # -- writing -------------------------------------------------------------------------------------

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        shard = self._require()
        ensure_free_space(self._dir, _bytes_to_store(chunks, vectors), self._min_free_disk_mb)
        points = [
            qe.Point(
                id=chunk.chunk_id,
                vector={DENSE: list(vector), SPARSE: _sparse(bm25.encode_document(chunk.embed_text))},
                payload=chunk_payload(chunk),
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        for start in range(0, len(points), _UPSERT_BATCH):
            shard.update(qe.UpdateOperation.upsert_points(points[start : start + _UPSERT_BATCH]))

    def delete_points(self, chunk_ids: Sequence[str]) -> None:
        if chunk_ids and self._shard is not None:
            self._shard.update(qe.UpdateOperation.delete_points(list(chunk_ids)))

    def delete_document(self, doc_id: str) -> None:
        if self._shard is not None:
            self._shard.update(qe.UpdateOperation.delete_points_by_filter(_doc_filter(doc_id)))

    def delete_stale_chunks(self, doc_id: str, keep: Sequence[str]) -> None:
        if self._shard is not None:
            stale = qe.Filter(
                must=[qe.FieldCondition(key="doc_id", match=qe.MatchValue(doc_id))],
                must_not=[qe.HasIdCondition(set(keep))],
            )
            self._shard.update(qe.UpdateOperation.delete_points_by_filter(stale))

    def set_source(self, doc_id: str, source: str, title: str) -> None:
        self._require().update(
            qe.UpdateOperation.set_payload_by_filter(_doc_filter(doc_id), {"source": source, "title": title})
        )

    def set_access(self, doc_id: str, access: Sequence[str]) -> None:
        self._require().update(
            qe.UpdateOperation.set_payload_by_filter(_doc_filter(doc_id), {"access": list(access)})
        )

    def drop(self) -> None:
        self._close_shard()
        shutil.rmtree(self._shard_dir, ignore_errors=True)
        self._meta_path.unlink(missing_ok=True)
        self.spec = None

    def optimize(self) -> None:
        if self._shard is None:
            return
        if self.count() >= self._hnsw_threshold:
            # Optimising writes new segments beside the old ones before dropping them.
            ensure_free_space(self._dir, _rewrite_bytes(self._shard_dir), self._min_free_disk_mb)
            self._shard.optimize()
        # The engine truncates its WAL, and drops the segments optimising replaced, only at a flush;
        # without one both grow until the store is closed (2.4 GB of WAL per million chunks written).
        self._shard.flush()

    # -- reading -------------------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> list[Hit]:
        if self._shard is None:
            return []
        flt = _filter(request.filters)
        dense = qe.Query.Nearest(list(request.dense), using=DENSE) if request.dense is not None else None
        sparse_vector = bm25.encode_query(request.text)
        sparse = qe.Query.Nearest(_sparse(sparse_vector), using=SPARSE) if sparse_vector else None
        if request.mode == "sparse":
            if sparse is None:
                return []  # only stop words: BM25 has nothing to match on
            query = qe.QueryRequest(limit=request.limit, query=sparse, filter=flt, with_payload=True)
        elif request.mode == "dense" or sparse is None:
            params = self._dense_params(flt)
            query = qe.QueryRequest(
                limit=request.limit, query=dense, filter=flt, with_payload=True, params=params
            )
        else:
            params = self._dense_params(flt)
            query = qe.QueryRequest(
                limit=request.limit,
                with_payload=True,
                filter=flt,
                prefetches=[
                    qe.Prefetch(limit=request.prefetch_limit, query=dense, filter=flt, params=params),
                    qe.Prefetch(limit=request.prefetch_limit, query=sparse, filter=flt),
                ],
                query=qe.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]  # stub lists Fusion, not its Rrf
            )
        return [
            Hit(chunk=chunk_from_payload(p.id, p.payload or {}), score=float(p.score))
            for p in self._shard.query(query)
        ]

    def _dense_params(self, flt: qe.Filter | None) -> qe.SearchParams:
        return _search_params(self._plan_dense(flt), self._storage)

    def _plan_dense(self, flt: qe.Filter | None) -> DensePlan:
        """Plain HNSW unless a filter strands it (rag/store/filtered_search.py): the engine's estimate
        from the payload index is enough to pick a tier, and costs ~0.1 ms at 1M chunks."""
        if flt is None:
            return plan_dense_search(None, 0, self._hnsw_ef)
        matching = int(self._shard.count(qe.CountRequest(exact=False, filter=flt)))
        total = int(self._shard.count(qe.CountRequest(exact=False)))
        return plan_dense_search(matching, total, self._hnsw_ef)

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        if self._shard is None or not chunk_ids:
            return []
        records = self._shard.retrieve(point_ids=list(chunk_ids), with_payload=True, with_vector=False)
        found = {str(r.id): chunk_from_payload(r.id, r.payload or {}) for r in records}
        return [found[i] for i in chunk_ids if i in found]

    def get_vectors(self, chunk_ids: Sequence[str]) -> list[tuple[Chunk, list[float]]]:
        if self._shard is None or not chunk_ids:
            return []
        records = self._shard.retrieve(point_ids=list(chunk_ids), with_payload=True, with_vector=[DENSE])
        found = {
            str(r.id): (chunk_from_payload(r.id, r.payload or {}), vector)
            for r in records
            if (vector := dense_vector_of(r.vector)) is not None
        }
        return [found[i] for i in chunk_ids if i in found]

    def count(self, filters: SearchFilters | None = None) -> int:
        if self._shard is None:
            return 0
        return int(self._shard.count(qe.CountRequest(exact=True, filter=_filter(filters))))

    def chunk_counts(self, filters: SearchFilters | None = None) -> dict[str, int]:
        if self._shard is None:
            return {}
        request = qe.FacetRequest(key="doc_id", limit=_FACET_LIMIT, exact=True, filter=_filter(filters))
        facet = self._shard.facet(request)
        return {str(hit.value): int(hit.count) for hit in facet.hits if hit.count > 0}

    # -- lifecycle -----------------------------------------------------------------------------------

    def close(self) -> None:
        self._close_shard()
        self._owner.release()

    def _close_shard(self) -> None:
        if self._shard is not None:
            self._shard.flush()
            self._shard.close()
            self._shard = None

    def _require(self) -> Any:
        if self._shard is None:
            raise StoreError("The knowledge base is not open for writing (no embedder spec was given).")
        return self._shard


def _sparse(vector: bm25.SparseVector) -> qe.SparseVector:
    return qe.SparseVector(indices=vector.indices, values=vector.values)


def _edge_config(dimension: int, storage: EdgeStorage, explicit: bool = False) -> qe.EdgeConfig:
    """The shard's config: the engine's defaults (everything in memory) unless ``storage`` says else.

    ``explicit``: for an existing shard, which keeps whatever a config leaves unset, so moving back into
    memory must say so."""
    dense: dict[str, Any] = {}
    sparse: dict[str, Any] = {}
    if storage.on_disk or explicit:
        memory = {"memory": qe.Memory.Cold} if storage.on_disk else {"on_disk": False}
        dense |= memory
        sparse |= memory
        dense["hnsw_config"] = qe.HnswIndexConfig(
            m=_HNSW_M, ef_construct=_HNSW_EF_CONSTRUCT, full_scan_threshold=_HNSW_FULL_SCAN_KB, **memory
        )
    if storage.quantization == "8bit":
        dense["quantization_config"] = qe.TurboQuantQuantizationConfig(
            bits=_EIGHT_BITS, memory=qe.Memory.Pinned
        )
    return qe.EdgeConfig(
        vectors={DENSE: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine, **dense)},
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf, **sparse)},
    )


def _search_params(plan: DensePlan, storage: EdgeStorage) -> qe.SearchParams:
    if plan.method is DenseMethod.EXACT:
        # Exact means exact: score the full vectors, not their 8-bit copies.
        ignore = qe.QuantizationSearchParams(ignore=True) if storage.quantization != "none" else None
        return qe.SearchParams(exact=True, quantization=ignore)
    quantization = None
    if storage.quantization != "none":
        # Walk with the 8-bit copies, then rescore the best oversampling x limit with the full vectors.
        quantization = qe.QuantizationSearchParams(rescore=True, oversampling=storage.oversampling)
    acorn = None
    if plan.method is DenseMethod.ACORN:
        # max_selectivity 1.0: the store has decided; the engine's own cut-off (0.4) must not undo it.
        acorn = qe.AcornSearchParams(enable=True, max_selectivity=1.0)
    return qe.SearchParams(hnsw_ef=plan.hnsw_ef, acorn=acorn, quantization=quantization)


def _filter(filters: SearchFilters | None) -> qe.Filter | None:
    if filters is None or filters.empty:
        return None
    must: list[Any] = [
        qe.FieldCondition(key=key, match=qe.MatchAny(values)) for key, values in filters.conditions()
    ]
    return qe.Filter(must=must)


def _doc_filter(doc_id: str) -> qe.Filter:
    return qe.Filter(must=[qe.FieldCondition(key="doc_id", match=qe.MatchValue(doc_id))])


def _bytes_to_store(chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> int:
    """A generous estimate of what upserting these points allocates: the dense vector, the payload
    (text, embed text, labels), the sparse vector, each once in a segment and once in the WAL."""
    per_point = (len(vectors[0]) * 4 + 512) if vectors else 0
    text = sum(2 * len(c.text) + 3 * len(c.embed_text) for c in chunks)
    return 2 * (per_point * len(chunks) + text)


def _rewrite_bytes(shard_dir: Path) -> int:
    """What one optimisation may write beside the segments it replaces. The engine rewrites a segment
    (or merges a few small ones) at a time, into a segment no larger than its inputs: the two largest
    segments bound that. Asking for the whole store instead stopped a 9M-chunk store (28 GB) with 27 GB
    free from ever optimising again."""
    folder = shard_dir / "segments"
    segments = [d for d in folder.iterdir() if d.is_dir()] if folder.is_dir() else []
    return sum(sorted((_allocated_bytes(d) for d in segments), reverse=True)[:2])


def _allocated_bytes(folder: Path) -> int:
    """Disk blocks in use under ``folder`` (its files are sparse: their sizes say little)."""
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def _edge_call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # qdrant-edge raises bare Exception for everything
        raise StoreError(f"Qdrant Edge could not open the store at {args[0]}: {exc}") from exc
