"""The ingest benchmark on a tiny corpus: its JSON is complete and consistent (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import ingest
from bench.corpus import FORMATS, generate
from ingest.parse import parse_file


def test_generated_corpus_has_every_format_and_parses(tmp_path: Path) -> None:
    files = generate(tmp_path, len(FORMATS), words_per_document=150)
    assert sorted(p.suffix.lstrip(".") for p in files) == sorted(FORMATS)
    for path in files:
        parsed = parse_file(path)
        assert sum(len(b.text) for b in parsed.blocks) > 300, path
    again = generate(tmp_path / "again", len(FORMATS), words_per_document=150)
    assert (tmp_path / "again" / files[0].name).read_bytes() == files[0].read_bytes() == again[0].read_bytes()


@pytest.mark.slow  # embeds with MiniLM
def test_product_and_naive_runs_ingest_the_same_chunks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "sentence-transformers:all-MiniLM-L6-v2")
    result = ingest.main(["--documents", "6", "--words", "200"])
    product, naive = result["product"], result["naive_baseline"]
    other = result["product_other_parse_ahead"]
    assert product["documents"] == naive["documents"] == other["documents"] == 6
    assert product["chunks"] == naive["chunks"] == other["chunks"] > 6
    assert other["parse_ahead"] is not product["parse_ahead"]  # both ways of running the service
    # The product batches across files; the baseline makes one call per chunk.
    assert naive["embed_calls"] == naive["chunks"] and product["embed_calls"] < 6
    for run in (product, other, naive):
        assert 0 <= run["non_embedding_share"] <= 1
        assert all(seconds >= 0 for seconds in run["stage_s"].values())
        assert run["throughput"]["embed_chunks_per_s"] > 0
    assert result["ratios"]["naive_wall_over_product_wall"] > 0
    assert '"benchmark": "ingest"' in capsys.readouterr().out  # the one JSON object on stdout
