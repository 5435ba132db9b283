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
def test_every_run_ingests_the_same_chunks_and_checks_itself(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_EMBEDDER", "sentence-transformers:all-MiniLM-L6-v2")
    result = ingest.main(["--documents", "6", "--words", "200", "--workers", "1,2", "--ocr-pages", "1"])
    one, two, naive = result["product"]["workers_1"], result["product"]["workers_2"], result["naive_baseline"]
    assert (one["workers"], two["workers"]) == (1, 2)
    assert one["documents"] == two["documents"] == naive["documents"] == 6  # good ones; 2 bad beside them
    assert one["chunks"] == two["chunks"] == naive["chunks"] > 6
    assert result["all_consistent"] and two["check"]["failed_files"] == ["damaged.pdf", "empty.md"]
    # The product batches across files; the baseline makes one call per chunk.
    assert naive["embed_calls"] == naive["chunks"] and one["embed_calls"] < 6
    for run in (one, two, naive):
        assert 0 <= run["non_embedding_share"] <= 1
        assert all(seconds >= 0 for seconds in run["stage_s"].values())
    assert result["ratios"]["wall_1_worker_over_wall_2"] > 0
    assert result["parsing"]["same_blocks"] and result["parsing"]["as_shipped_over_ours"] > 0
    check = result["pdf_text_layer_check"]
    assert check["same_blocks"] and check["ocr_calls"] == 0 and check["files"] == 1 + len(ingest.DEV_SET_PDFS)
    assert result["ratios"]["text_pdf_parse_ours_over_previous"] > 0
    assert result["ocr"]["eng"]["pages"] == result["ocr"]["eng"]["ocr_pages"] == 1
    assert '"benchmark": "ingest"' in capsys.readouterr().out  # the one JSON object on stdout


def test_text_pdfs_parse_the_same_with_the_text_layer_check_and_run_no_ocr(tmp_path: Path) -> None:
    pdfs = [p for p in generate(tmp_path, len(FORMATS) * 2, words_per_document=150) if p.suffix == ".pdf"]

    result = ingest.text_layer_check(pdfs, rounds=1)

    assert result["same_blocks"] and result["ocr_calls"] == 0
    assert result["files"] == 2 and result["pages"] >= 2 and result["ours_over_previous"] > 0


def test_ocr_speed_reads_scanned_pages(tmp_path: Path) -> None:
    from support.scans import require_ocr_tools

    require_ocr_tools()
    result = ingest.ocr_speed(tmp_path, pages=1, languages="eng")

    assert result["pages"] == result["ocr_pages"] == 1 and result["dpi"] == 200
    assert result["pages_per_s_one_core"] > 0 and result["cpu_s_per_page"] > 0
    assert result["text_layer_words_read"] > 0.8
