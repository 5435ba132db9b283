"""A real 3-node Qdrant cluster (testcontainers, the image docker-compose.scale.yml pins, started the same
way: cluster mode, one founding node, two joining through its peer port) behind the server store as
`rag serve` builds it: every node in RAG_QDRANT_URL, 2 copies of every shard. One node is SIGKILLed;
searches go on with the same results, and writes succeed once the store has retried on a live node.

Cluster behaviour can only be shown here: qdrant-client's ":memory:" (and the protocol server of
tests/support/qdrant_rest.py built on it) ignores shards, replicas, ordering and consistency. Skipped, with
the reason, where no Docker engine is reachable (as on the development machines)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest
from support.chunks import make_chunk

from rag.config import Settings
from rag.store import open_store
from rag.store.base import SearchRequest, VectorStore
from rag.types import Chunk, StoreSpec

pytestmark = [pytest.mark.docker, pytest.mark.slow]

QDRANT_IMAGE = "qdrant/qdrant:v1.20.0"  # the tag docker-compose.scale.yml pins
NODES = 3
DIMENSION = 8
SPEC = StoreSpec("test:embedder", DIMENSION)
START_WAIT_S = 120


def _docker_or_skip() -> None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        pytest.skip(
            f"no Docker engine reachable ({exc.__class__.__name__}): the Qdrant cluster test runs where one "
            "is (no Qdrant server binary exists for this machine, and ':memory:' has no cluster)"
        )


def _wait_for(what: str, ready: Callable[[], bool]) -> None:
    """Poll until ``ready()``; a cluster that never gets there fails the test, naming what it waited for."""
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the Qdrant cluster never got ready: {what}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[Any]]:
    """Three started nodes, in the order of their URLs; node 1 founded the cluster."""
    _docker_or_skip()
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network

    with Network() as network:
        nodes: list[Any] = []
        try:
            for number in range(1, NODES + 1):
                command = ["./qdrant", "--uri", f"http://qdrant-{number}:6335"]
                if number > 1:
                    command[1:1] = ["--bootstrap", "http://qdrant-1:6335"]
                node = (
                    DockerContainer(QDRANT_IMAGE)
                    .with_network(network)
                    .with_network_aliases(f"qdrant-{number}")
                    .with_env("QDRANT__CLUSTER__ENABLED", "true")
                    .with_exposed_ports(6333)
                    .with_command(command)
                )
                node.start()
                nodes.append(node)
                _wait_for(f"{_url(node)}/readyz", partial(_answers_ready, _url(node)))
            first = _url(nodes[0])
            _wait_for(
                f"{NODES} peers in {first}/cluster",
                lambda: len(httpx.get(f"{first}/cluster").json()["result"]["peers"]) == NODES,
            )
            yield nodes
        finally:
            for node in nodes:
                node.stop()


def _answers_ready(url: str) -> bool:
    return httpx.get(f"{url}/readyz").status_code == 200


def _url(node: Any) -> str:
    return f"http://{node.get_container_host_ip()}:{node.get_exposed_port(6333)}"


def _chunk(document: int, index: int) -> Chunk:
    return make_chunk(
        f"/kb/doc-{document:03d}.txt",
        index,
        f"document {document} part {index} about topic {document % 7}",
        access=("group:everyone",) if document % 2 else ("group:hr",),
    )


def _vector(document: int, index: int) -> list[float]:
    # Deterministic and spread over the space: no two chunks tie for a place in any query's top 5.
    draw = random.Random(document * 1000 + index)
    return [draw.gauss(0, 1) for _ in range(DIMENSION)]


def _ingest(store: VectorStore, documents: range) -> None:
    chunks = [_chunk(d, i) for d in documents for i in range(3)]
    store.upsert(chunks, [_vector(int(c.source[8:11]), c.index) for c in chunks])


def _top_ids(store: VectorStore, document: int) -> list[str]:
    request = SearchRequest(f"topic {document % 7}", _vector(document, 1), mode="dense", limit=5)
    return [hit.chunk.chunk_id for hit in store.search(request)]


def test_searches_go_on_and_writes_succeed_after_retry_with_a_node_killed(
    cluster: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        embedder="sentence-transformers:unused",
        qdrant_url=",".join(_url(node) for node in cluster),
        collection="cluster_test",
        qdrant_shard_number=3,
        qdrant_replication_factor=2,
        qdrant_write_consistency_factor=1,
        qdrant_timeout_s=10,
        qdrant_retries=10,
        qdrant_retry_max_s=2,
    )
    store = open_store(settings, SPEC)
    _ingest(store, range(100))
    layout = httpx.get(f"{_url(cluster[1])}/collections/cluster_test/cluster").json()["result"]
    shards = [*layout["local_shards"], *layout["remote_shards"]]
    assert sorted({s["shard_id"] for s in shards}) == [0, 1, 2]
    assert all(sum(s["shard_id"] == shard for s in shards) == 2 for shard in range(3)), layout
    before = {document: _top_ids(store, document) for document in range(0, 100, 9)}
    assert store.count() == 300

    cluster[0].get_wrapped_container().kill()  # SIGKILL the founding node, the store's first URL

    caplog.set_level(logging.WARNING, logger="rag.store")
    assert {document: _top_ids(store, document) for document in before} == before
    assert store.count() == 300
    _ingest(store, range(100, 110))  # shards with a copy on the dead node take writes on the other copy
    store.delete_document(_chunk(5, 0).doc_id)
    assert store.count() == 300 + 30 - 3
    assert len(store.get([_chunk(105, 2).chunk_id])) == 1
    assert any("Qdrant request failed" in r.getMessage() for r in caplog.records), "no retry was needed?"
    store.close()
