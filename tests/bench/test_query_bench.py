"""bench/query.py through its real code path at a toy size: 12,000 synthetic chunks (enough for Qdrant Edge
to build HNSW segments that are searched as graphs), a dozen queries, the real query embedder and reranker
model, and the qdrant-client `:memory:` baseline. Behaviour only: no timing is asserted."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import query
from bench.query import Config, SyntheticCorpus
from rag.store.edge import EdgeStore

pytestmark = pytest.mark.slow  # loads the MiniLM embedder and reranker

SIZE = 12_000


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("bench-query")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        query.main(
            [
                "--sizes", str(SIZE), "--queries", "12", "--warmup", "2",
                "--baseline-queries", "5", "--ef-sweep", "64", "--rerank-candidates", "5",
                "--e2e-queries", "4", "--rerank-tokens", "48,96", "--rerank-repeats", "2",
                "--workdir", str(workdir),
            ]
        )  # fmt: skip
    parsed: dict[str, Any] = json.loads(out.getvalue())  # stdout holds exactly one JSON object
    assert not any(workdir.iterdir()), "the stores are removed unless --keep"
    return parsed


@pytest.fixture(scope="module")
def result(report: dict[str, Any]) -> dict[str, Any]:
    (only,) = report["results"]
    assert isinstance(only, dict)
    return only


def _latency_blocks(result: dict[str, Any]) -> list[dict[str, float]]:
    edge, base = result["edge"], result["baseline_qdrant_client_memory"]
    blocks: list[dict[str, float]] = [edge[name] for name in ("dense_hnsw", "dense_exact", "hybrid")]
    blocks += [base["dense"], base["hybrid"], *edge["hnsw_ef_sweep"]]
    for variant in result["e2e"].values():
        blocks += [variant[stage] for stage in ("embed", "retrieve", "rerank", "total")]
    return blocks


def test_the_report_has_machine_config_results_and_summary(report: dict[str, Any]) -> None:
    assert report["benchmark"] == "query"
    assert report["machine"]["cores"] >= 1
    assert report["config"]["sizes"] == [SIZE]
    assert [row["size"] for row in report["summary"]["table"]] == [SIZE]
    assert report["summary"]["target"]["size"] == SIZE


def test_the_store_holds_every_chunk_with_an_hnsw_index(result: dict[str, Any]) -> None:
    build = result["build"]
    assert build["chunks"] == build["points"] == SIZE
    assert build["dense_hnsw_built"]
    assert result["disk"]["allocated_mib"] > 0
    assert result["disk"]["apparent_mib"] >= result["disk"]["allocated_mib"]


def test_exact_search_is_the_ground_truth(result: dict[str, Any]) -> None:
    edge = result["edge"]
    assert edge["recall_at_10_exact_vs_itself"] == 1.0
    # An independent brute force in numpy agrees (float32 ties aside).
    assert edge["recall_at_10_exact_vs_numpy"] >= 0.99
    assert result["baseline_qdrant_client_memory"]["recall_at_10_vs_edge_exact"] >= 0.99


def test_hnsw_recall_is_a_fraction_and_high_on_clustered_data(result: dict[str, Any]) -> None:
    edge = result["edge"]
    assert 0.9 <= edge["recall_at_10_hnsw_vs_exact"] <= 1.0
    for point in edge["hnsw_ef_sweep"]:
        assert 0.0 <= point["recall_at_10"] <= 1.0
        assert 0.0 <= point["identical_to_default_share"] <= 1.0


def test_percentiles_are_ordered_and_counted(result: dict[str, Any]) -> None:
    for block in _latency_blocks(result):
        assert 0 < block["p50_ms"] <= block["p95_ms"] <= block["p99_ms"]
        assert block["n"] > 0
    assert result["edge"]["dense_hnsw"]["n"] == 12
    assert result["baseline_qdrant_client_memory"]["dense"]["n"] == 5


def test_ratios_compare_against_baselines_from_the_same_run(result: dict[str, Any]) -> None:
    ratios = result["ratios"]
    for name in ("hnsw_to_exact_p95", "edge_to_baseline_dense_p95", "edge_to_baseline_hybrid_p95"):
        assert ratios[name] > 0
    base = result["baseline_qdrant_client_memory"]
    edge_p95 = base["edge_same_queries"]["dense_hnsw"]["p95_ms"]
    assert ratios["edge_to_baseline_dense_p95"] == pytest.approx(edge_p95 / base["dense"]["p95_ms"], rel=0.01)


def test_end_to_end_stages_add_up_and_rerank_the_candidates(result: dict[str, Any]) -> None:
    variants = result["e2e"]
    assert "torch_default_threads" in variants
    for e2e in variants.values():
        assert e2e["reranked_per_query"] == 5
        assert e2e["total"]["n"] == 4
        parts = sum(e2e[stage]["mean_ms"] for stage in ("embed", "retrieve", "rerank"))
        assert parts == pytest.approx(e2e["total"]["mean_ms"], rel=0.01)


def test_rerank_cost_is_measured_per_passage_length(report: dict[str, Any]) -> None:
    rerank = report["rerank_cost"]
    assert rerank["candidates"] == 5
    assert set(rerank["by_passage_tokens"]) == {"48_tokens", "96_tokens"}
    for variants in rerank["by_passage_tokens"].values():
        assert variants["torch_default_threads"]["n"] == 2


def test_reopening_in_a_fresh_process_is_measured(result: dict[str, Any]) -> None:
    reopen = result["reopen"]
    assert reopen["open_s"] > 0
    assert reopen["first_query_ms"] > 0
    assert reopen["rss_after_queries_mib"] >= reopen["rss_before_open_mib"] > 0


def test_baseline_is_skipped_with_a_reason_above_the_limit(tmp_path: Path) -> None:
    corpus = SyntheticCorpus(100, Config(baseline_max=50))
    skipped = query.measure_baseline(corpus, corpus.queries(2), {}, corpus.config)
    assert "skipped" in skipped
    assert "--baseline-max" in skipped["skipped"]


def test_the_corpus_is_deterministic_clustered_and_held_out() -> None:
    config = Config(points_per_cluster=50)
    first, second = SyntheticCorpus(500, config), SyntheticCorpus(500, config)
    chunks_a, vectors_a = next(first.batches())
    chunks_b, vectors_b = next(second.batches())
    assert [c.text for c in chunks_a] == [c.text for c in chunks_b]
    assert (vectors_a == vectors_b).all()
    assert len({c.doc_id for c in chunks_a}) == 500 // config.chunks_per_doc
    queries = first.queries(20)
    matrix = np.asarray([q.vector for q in queries], dtype=np.float32)
    # Held out: no query is a stored point, but each has close neighbours in its own cluster.
    similarities = vectors_a @ matrix.T
    assert similarities.max() < 0.999
    assert (similarities.max(axis=0) > 0.3).all()


@pytest.fixture(scope="module")
def storages_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    workdir = tmp_path_factory.mktemp("bench-query-storages")
    snapshot = workdir.parent / "build-progress.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        query.main(
            [
                "--sizes", str(SIZE), "--storages", "memory,disk-8bit", "--no-e2e", "--queries", "8",
                "--warmup", "1", "--ef-sweep", "64", "--baseline-max", "0", "--oversampling-sweep", "1,2",
                "--progress-json", str(snapshot), "--workdir", str(workdir), "--keep",
            ]
        )  # fmt: skip
    return json.loads(out.getvalue()), workdir


def test_store_layouts_are_measured_side_by_side(storages_report: tuple[dict[str, Any], Path]) -> None:
    report, workdir = storages_report
    assert [(r["size"], r["storage"]) for r in report["results"]] == [(SIZE, "memory"), (SIZE, "disk-8bit")]
    assert [row["storage"] for row in report["summary"]["table"]] == ["memory", "disk-8bit"]
    memory, tall = report["results"]
    assert "oversampling_sweep" not in memory["edge"]
    sweep = tall["edge"]["oversampling_sweep"]
    assert [step["oversampling"] for step in sweep] == [1.0, 2.0]
    assert all(0.0 <= step["recall_at_10"] <= 1.0 and step["n"] == 8 for step in sweep)
    for result in (memory, tall):
        assert result["build"]["chunks"] == SIZE
        assert 0.0 <= result["edge"]["recall_at_10_hnsw_vs_exact"] <= 1.0
        assert result["reopen"]["store_rss_mib"] > 0 and result["disk"]["allocated_mib"] > 0
        # The reopened store's memory, split: its own heap, and pages of its files the searches read.
        assert result["reopen"]["store_anon_rss_mib"] > 0 and result["reopen"]["store_file_rss_mib"] >= 0
    # Reopened (fresh process, then the timed searches) with the layout it was built with: never changed.
    stored = json.loads((workdir / f"size-{SIZE}-disk-8bit" / query.COLLECTION / "store.json").read_text())
    assert stored["storage"] == {"on_disk": True, "quantization": "8bit"}
    assert report["config"]["storages"]["disk-8bit"] == query.STORAGES["disk-8bit"]


def test_a_build_leaves_a_snapshot_of_how_far_it_got(storages_report: tuple[dict[str, Any], Path]) -> None:
    _, workdir = storages_report
    snapshot = json.loads((workdir.parent / "build-progress.json").read_text())
    assert snapshot["storage"] == "disk-8bit" and snapshot["stage"] == "done"  # the last build's
    assert snapshot["chunks"] == SIZE
    assert snapshot["upsert_s"] > 0 and snapshot["optimize_s"] > 0 and snapshot["rss_mib"] > 0
    assert snapshot["anon_rss_mib"] > 0 and snapshot["file_rss_mib"] >= 0


def test_an_unknown_store_layout_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        query.parse_args(["--storages", "memory,tape"])
    assert "tape" in capsys.readouterr().err


def test_a_kept_store_is_reused_not_rebuilt(storages_report: tuple[dict[str, Any], Path]) -> None:
    _, workdir = storages_report
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        query.main(
            [
                "--sizes", str(SIZE), "--storages", "disk-8bit", "--no-e2e", "--queries", "4",
                "--warmup", "1",
                "--ef-sweep", "", "--baseline-max", "0", "--oversampling-sweep", "2",
                "--workdir", str(workdir), "--keep", "--reuse",
            ]
        )  # fmt: skip
    (result,) = json.loads(out.getvalue())["results"]
    assert result["build"]["reused"]
    assert result["build"]["chunks"] == SIZE
    assert result["edge"]["recall_at_10_exact_vs_numpy"].startswith("skipped")  # no vectors kept


def test_the_streamed_truth_is_numpys_top_k_over_the_whole_corpus() -> None:
    config = Config(points_per_cluster=50, batch=300)
    corpus = SyntheticCorpus(2_000, config)
    queries = corpus.queries(15)
    whole = np.concatenate([vectors for _, vectors in corpus.batches()])
    assert len(whole) == 2_000
    assert query.streamed_top_k(corpus, queries) == query.numpy_top_k(whole, queries)


def test_a_stepped_build_optimizes_every_step_and_uses_numpys_truth_above_exact_max(tmp_path: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        query.main(
            [
                "--sizes", "6000", "--storages", "disk-8bit", "--no-e2e", "--queries", "6", "--warmup", "1",
                "--ef-sweep", "", "--baseline-max", "0", "--oversampling-sweep", "",
                "--optimize-every", "2000", "--exact-max", "1000", "--workdir", str(tmp_path),
            ]
        )  # fmt: skip
    result = json.loads(out.getvalue())["results"][0]
    steps = result["build"]["optimize_steps"]
    assert [step["chunks"] for step in steps] == [2000, 4000, 6000]
    assert all(step["disk_allocated_mib"] > 0 and step["segments"] >= 1 for step in steps)
    assert result["build"]["chunks"] == 6000
    assert "skipped" in result["edge"]["dense_exact"]
    assert result["ratios"]["hnsw_to_exact_p95"] is None
    assert 0.5 <= result["edge"]["recall_at_10_hnsw_vs_exact"] <= 1.0


class Killed(Exception):
    """Stands for the build's process being stopped."""


def test_a_build_cut_short_goes_on_from_its_last_step_with_reuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = [
        "--sizes", "6000", "--storages", "disk-8bit", "--no-e2e", "--queries", "6", "--warmup", "1",
        "--ef-sweep", "", "--baseline-max", "0", "--oversampling-sweep", "", "--optimize-every", "2000",
        "--workdir", str(tmp_path), "--keep",
    ]  # fmt: skip
    real_optimize = EdgeStore.optimize
    passes = []

    def optimize_then_die(store: EdgeStore) -> None:
        passes.append(1)
        if len(passes) == 3:
            raise Killed  # during the third pass: the first two steps are on disk
        real_optimize(store)

    monkeypatch.setattr(EdgeStore, "optimize", optimize_then_die)
    with pytest.raises(Killed), contextlib.redirect_stdout(io.StringIO()):
        query.main(args)
    monkeypatch.setattr(EdgeStore, "optimize", real_optimize)
    partial = json.loads((tmp_path / "size-6000-disk-8bit" / query.PARTIAL_RECORD).read_text())
    assert partial["chunks"] == 4000 and len(partial["optimize_steps"]) == 2
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        query.main([*args, "--reuse"])
    build = json.loads(out.getvalue())["results"][0]["build"]
    assert build["chunks"] == 6000 and build["resumed_at_chunks"] == [4000]
    assert [step["chunks"] for step in build["optimize_steps"]] == [2000, 4000, 6000]
    assert build["upsert_s"] > partial["upsert_s"]  # the seconds of both parts
    assert not (tmp_path / "size-6000-disk-8bit" / query.PARTIAL_RECORD).exists()
