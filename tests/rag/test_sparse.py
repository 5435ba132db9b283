"""Our BM25 analysis: what becomes a term, and vectors whose dot product is the BM25 term weight."""

from __future__ import annotations

from rag import sparse


def test_words_are_case_folded_stemmed_and_stop_words_dropped() -> None:
    assert sparse.analyze("How long does the Cleanup wait between rounds?") == [
        "long",
        "cleanup",
        "wait",
        "round",
    ]


def test_identifiers_and_numbers_stay_whole_and_also_match_by_their_parts() -> None:
    assert sparse.analyze("Set max_wal_size, run ssh-keygen on port 4443") == [
        "set",
        "max_wal_size",
        "max",
        "wal",
        "size",
        "run",
        "ssh-keygen",
        "ssh",
        "keygen",
        "port",
        "4443",
    ]


def test_ligatures_and_full_width_forms_are_normalised() -> None:
    assert sparse.analyze("speciﬁed ＡＢＣ") == sparse.analyze("specified abc")


def test_chinese_and_japanese_runs_become_overlapping_bigrams() -> None:
    assert sparse.analyze("公司的VPN网关") == ["公司", "司的", "vpn", "网关"]
    assert sparse.analyze("データベース") == ["デー", "ータ", "タベ", "ベー", "ース"]


def test_a_korean_word_keeps_its_whole_form_so_a_particle_does_not_hide_its_stem() -> None:
    with_particle = set(sparse.analyze("게이트웨이는"))
    bare = set(sparse.analyze("게이트웨이"))
    assert "게이트웨이는" in with_particle
    assert bare - {"게이트웨이"} <= with_particle  # every bigram of the bare word still matches


def test_query_weights_are_one_per_distinct_term() -> None:
    vector = sparse.encode_query("wal wal size")
    assert sorted(vector.values) == [1.0, 1.0]
    assert vector.indices == sorted(vector.indices)


def test_document_weights_saturate_with_repetition_and_shrink_with_length() -> None:
    index = sparse.term_index("vacuum")

    def weight(text: str) -> float:
        vector = sparse.encode_document(text)
        return vector.values[vector.indices.index(index)]

    once, thrice = weight("vacuum table"), weight("vacuum vacuum vacuum table")
    assert once < thrice < 3 * once  # more occurrences count, with diminishing returns
    assert weight("vacuum " + "filler " * 300) < weight("vacuum filler")  # long passages count less


def test_only_stop_words_give_an_empty_vector() -> None:
    assert not sparse.encode_query("what is the")
