"""One contract, every VectorStore: embedded Qdrant Edge, qdrant-client (`:memory:` standing in for a
server here) and a real Qdrant server in Docker where an engine is reachable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.chunks import make_chunk

from rag.config import Settings
from rag.errors import StoreMismatchError
from rag.store import open_store as open_embedded_store
from rag.store.base import SearchRequest, VectorStore
from rag.store.edge import EdgeStore
from rag.store.server import ServerStore
from rag.types import SearchFilters, StoreSpec, document_id

SPEC = StoreSpec("test:embedder", 4)
Opener = Callable[[StoreSpec | None], VectorStore]


def _docker_skip_reason() -> str | None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        return (
            f"no Docker engine reachable ({exc.__class__.__name__}): "
            "the Qdrant-server container test runs where one is"
        )
    return None


@pytest.fixture(params=["edge", "edge-on-disk-8bit", "qdrant-client-memory", "qdrant-server-docker"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """A function that (re)opens the same store; the previous handle is closed first, as a restart would."""
    opened: list[VectorStore] = []

    def closing(make: Callable[[StoreSpec | None], VectorStore]) -> Opener:
        def opener(spec: StoreSpec | None) -> VectorStore:
            for store in opened:
                if isinstance(store, EdgeStore):
                    store.close()
            opened.clear()
            store = make(spec)
            opened.append(store)
            return store

        return opener

    if request.param.startswith("edge"):
        settings = Settings(data_dir=tmp_path, embedder="sentence-transformers:unused", _env_file=None)  # type: ignore[call-arg]
        if request.param == "edge-on-disk-8bit":  # RAG_STORE_ON_DISK and RAG_STORE_QUANTIZATION, HNSW built
            settings = settings.model_copy(
                update={"store_on_disk": True, "store_quantization": "8bit", "hnsw_threshold": 0}
            )
        yield closing(lambda spec: open_embedded_store(settings, spec))
        for store in opened:
            store.close()
        return

    if request.param == "qdrant-server-docker":
        reason = _docker_skip_reason()
        if reason:
            pytest.skip(reason)
        from qdrant_client import QdrantClient
        from testcontainers.qdrant import QdrantContainer

        with QdrantContainer("qdrant/qdrant:v1.20.0") as container:
            client = QdrantClient(
                url=f"http://{container.get_container_host_ip()}:{container.exposed_rest_port}"
            )
            yield closing(lambda spec: ServerStore(client, "contract", "docker").open(spec))
        return

    from qdrant_client import QdrantClient

    client = QdrantClient(":memory:")
    yield closing(lambda spec: ServerStore(client, "contract", ":memory:").open(spec))


CORPUS = [
    (
        make_chunk(
            "/kb/handbook.pdf",
            0,
            "Parental leave policy: 16 weeks at full pay.",
            section="Leave",
            page=3,
            file_type="pdf",
        ),
        [1.0, 0.0, 0.0, 0.0],
    ),
    (
        make_chunk(
            "/kb/handbook.pdf",
            1,
            "Office hours policy: 9 to 17 on weekdays.",
            section="Hours",
            page=1,
            file_type="pdf",
        ),
        [0.0, 1.0, 0.0, 0.0],
    ),
    (
        make_chunk(
            "/kb/prices.xlsx",
            0,
            "SKU: HX-200; Price: 1450 EUR; the zebra edition.",
            section="Hardware",
            page=1,
            file_type="xlsx",
        ),
        [0.0, 0.0, 1.0, 0.0],
    ),
    (
        make_chunk(
            "/kb/notes.md", 0, "The policy review meeting is on Monday; policy owners attend.", file_type="md"
        ),
        [0.0, 0.0, 0.0, 1.0],
    ),
]


def filled(open_store: Opener) -> VectorStore:
    store = open_store(SPEC)
    store.upsert([c for c, _ in CORPUS], [v for _, v in CORPUS])
    return store


def test_upsert_roundtrips_every_chunk_field(open_store: Opener) -> None:
    store = filled(open_store)
    hits = store.search(SearchRequest(text="anything", dense=[1.0, 0.0, 0.0, 0.0], mode="dense", limit=1))
    assert [h.chunk for h in hits] == [CORPUS[0][0]]
    assert store.count() == 4
    assert store.chunk_counts() == {
        document_id("/kb/handbook.pdf"): 2,
        document_id("/kb/prices.xlsx"): 1,
        document_id("/kb/notes.md"): 1,
    }


def test_upsert_is_idempotent(open_store: Opener) -> None:
    store = filled(open_store)
    store.upsert([c for c, _ in CORPUS], [v for _, v in CORPUS])
    assert store.count() == 4


def test_dense_search_orders_by_similarity(open_store: Opener) -> None:
    store = filled(open_store)
    hits = store.search(SearchRequest(text="x", dense=[0.1, 0.9, 0.3, 0.0], mode="dense", limit=3))
    assert [h.chunk.index for h in hits][:2] == [1, 0] or hits[0].chunk.text.startswith("Office hours")
    assert hits[0].chunk.text.startswith("Office hours")
    assert hits[1].chunk.text.startswith("SKU")
    assert hits[0].score > hits[1].score > hits[2].score


def test_sparse_search_matches_words_with_stemming_and_case(open_store: Opener) -> None:
    store = filled(open_store)
    hits = store.search(SearchRequest(text="PARENTAL Leaves", dense=None, mode="sparse", limit=5))
    assert hits and hits[0].chunk.text.startswith("Parental leave")
    assert all("Parental" in h.chunk.text or "Leave" in h.chunk.embed_text for h in hits)


def test_sparse_search_weights_rare_terms_by_idf(open_store: Opener) -> None:
    store = filled(open_store)
    # "policy" is in three of four chunks (twice in one), "zebra" in one: the rare term must win.
    hits = store.search(SearchRequest(text="policy zebra", dense=None, mode="sparse", limit=2))
    assert hits[0].chunk.source == "/kb/prices.xlsx"


def test_hybrid_fuses_dense_and_sparse(open_store: Opener) -> None:
    store = filled(open_store)
    # Dense points at the office-hours chunk, BM25 at the price list: both must come back, on top.
    hits = store.search(
        SearchRequest(text="HX-200 zebra", dense=[0.0, 1.0, 0.0, 0.0], mode="hybrid", limit=2)
    )
    assert {h.chunk.source for h in hits} == {"/kb/handbook.pdf", "/kb/prices.xlsx"}
    assert {h.chunk.index for h in hits if h.chunk.source == "/kb/handbook.pdf"} == {1}


def test_stop_word_query_falls_back_to_dense_in_hybrid(open_store: Opener) -> None:
    store = filled(open_store)
    assert store.search(SearchRequest(text="the of and", dense=None, mode="sparse", limit=3)) == []
    hits = store.search(SearchRequest(text="the of and", dense=[1.0, 0.0, 0.0, 0.0], mode="hybrid", limit=1))
    assert hits[0].chunk.text.startswith("Parental")


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_filters_restrict_every_mode(open_store: Opener, mode: Any) -> None:
    store = filled(open_store)
    dense = None if mode == "sparse" else [1.0, 0.0, 0.0, 0.0]
    only_prices = SearchFilters(sources=["/kb/prices.xlsx"])
    hits = store.search(
        SearchRequest(text="zebra leave price", dense=dense, mode=mode, limit=5, filters=only_prices)
    )
    assert hits and {h.chunk.source for h in hits} == {"/kb/prices.xlsx"}
    by_type = SearchFilters(file_types=["md"])
    hits = store.search(SearchRequest(text="policy leave", dense=dense, mode=mode, limit=5, filters=by_type))
    assert hits and {h.chunk.file_type for h in hits} == {"md"}
    by_doc = SearchFilters(doc_ids=[document_id("/kb/handbook.pdf")])
    assert store.count(by_doc) == 2


def test_delete_points_and_documents(open_store: Opener) -> None:
    store = filled(open_store)
    store.delete_points([CORPUS[1][0].chunk_id])
    assert store.count() == 3
    store.delete_document(document_id("/kb/handbook.pdf"))
    assert store.count() == 2
    assert document_id("/kb/handbook.pdf") not in store.chunk_counts()


def test_set_source_relabels_without_touching_vectors(open_store: Opener) -> None:
    store = filled(open_store)
    doc = document_id("/kb/prices.xlsx")
    store.set_source(doc, "/kb/archive/prices-2026.xlsx", "prices 2026")
    hits = store.search(SearchRequest(text="x", dense=[0.0, 0.0, 1.0, 0.0], mode="dense", limit=1))
    assert hits[0].chunk.source == "/kb/archive/prices-2026.xlsx"
    assert hits[0].chunk.title == "prices 2026"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)


def test_reopen_keeps_data_and_refuses_another_embedder(open_store: Opener) -> None:
    filled(open_store)
    store = open_store(SPEC)
    assert store.count() == 4
    with pytest.raises(StoreMismatchError) as err:
        open_store(StoreSpec("other:model", 8))
    assert "test:embedder" in err.value.message and "rag reindex" in err.value.message
    assert open_store(None).spec == SPEC


def test_drop_empties_the_store_and_allows_a_new_dimension(open_store: Opener) -> None:
    store = filled(open_store)
    store.drop()
    store = open_store(StoreSpec("other:model", 8))
    assert store.count() == 0
    assert store.spec == StoreSpec("other:model", 8)


def test_empty_store_without_spec_answers_nothing(open_store: Opener) -> None:
    store = open_store(None)
    assert store.count() == 0
    assert store.chunk_counts() == {}
    assert store.search(SearchRequest(text="leave", dense=None, mode="sparse")) == []


def test_get_returns_chunks_by_id_in_the_order_asked(open_store: Opener) -> None:
    store = filled(open_store)
    wanted = [CORPUS[2][0].chunk_id, "00000000-0000-0000-0000-000000000000", CORPUS[0][0].chunk_id]
    assert store.get(wanted) == [CORPUS[2][0], CORPUS[0][0]]
    assert store.get([]) == []


def test_get_vectors_returns_chunks_with_their_dense_vectors_in_the_order_asked(open_store: Opener) -> None:
    store = filled(open_store)
    wanted = [CORPUS[3][0].chunk_id, "00000000-0000-0000-0000-000000000000", CORPUS[1][0].chunk_id]
    got = store.get_vectors(wanted)
    assert [chunk for chunk, _ in got] == [CORPUS[3][0], CORPUS[1][0]]
    assert [vector for _, vector in got] == [pytest.approx(CORPUS[3][1]), pytest.approx(CORPUS[1][1])]
    assert store.get_vectors([]) == []


# -- access labels: who may read a chunk --------------------------------------------------------------


def _labelled(open_store: Opener) -> VectorStore:
    """The corpus with the handbook readable by HR, the price list by alice alone, the notes by all."""
    labels = {
        "/kb/handbook.pdf": ("group:hr",),
        "/kb/prices.xlsx": ("user:alice@example.com",),
        "/kb/notes.md": ("group:everyone",),
    }
    store = open_store(SPEC)
    chunks = [replace(c, access=labels[c.source]) for c, _ in CORPUS]
    store.upsert(chunks, [v for _, v in CORPUS])
    return store


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_an_access_filter_keeps_other_readers_chunks_out_of_every_search(
    open_store: Opener, mode: str
) -> None:
    store = _labelled(open_store)
    everyone = SearchFilters(access=("group:everyone", "user:bob@example.com"))
    request = SearchRequest(text="policy zebra", dense=[0.5, 0.5, 0.5, 0.5], mode=mode, limit=10)  # type: ignore[arg-type]
    seen = {h.chunk.source for h in store.search(replace(request, filters=everyone))}
    assert seen == {"/kb/notes.md"}
    alice = SearchFilters(access=("group:everyone", "user:alice@example.com"))
    seen = {h.chunk.source for h in store.search(replace(request, filters=alice))}
    assert seen <= {"/kb/notes.md", "/kb/prices.xlsx"} and "/kb/prices.xlsx" in seen
    unfiltered = {h.chunk.source for h in store.search(request)}
    assert "/kb/handbook.pdf" in unfiltered


def test_an_access_filter_narrows_counts_and_facets(open_store: Opener) -> None:
    store = _labelled(open_store)
    hr = SearchFilters(access=("group:everyone", "group:hr"))
    assert store.count(hr) == 3
    assert store.chunk_counts(hr) == {document_id("/kb/handbook.pdf"): 2, document_id("/kb/notes.md"): 1}
    assert store.count(SearchFilters(access=())) == 0
    assert store.chunk_counts(SearchFilters(access=("group:nobody",))) == {}


def test_set_access_relabels_a_document_without_touching_vectors(open_store: Opener) -> None:
    store = _labelled(open_store)
    notes = document_id("/kb/notes.md")
    store.set_access(notes, ["group:hr"])
    everyone = SearchFilters(access=("group:everyone",))
    assert store.count(everyone) == 0
    hits = store.search(
        SearchRequest(
            text="x",
            dense=[0.0, 0.0, 0.0, 1.0],
            mode="dense",
            limit=1,
            filters=SearchFilters(access=("group:hr",)),
        )
    )
    assert hits[0].chunk.doc_id == notes and hits[0].chunk.access == ("group:hr",)
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
