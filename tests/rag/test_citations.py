"""cite(): the model's [n] markers become citations with a quote that is verbatim in the source."""

from __future__ import annotations

import pytest

from rag.citations import Citation, best_quote, cite, claim_terms, is_refusal, supports
from rag.prompt import REFUSAL
from rag.types import Chunk, Hit

REFUNDS = (
    "Standard refunds are paid within 14 days of the request. "
    "Express refunds are paid within 3 days of the request. "
    "Contact billing@example.com for anything else."
)
TRAVEL = "Book flights at least 21 days before departure. Economy class is the default for short trips."
TWO_SPEEDS = (
    "Express refunds are paid within 3 days. "
    "Standard refunds are paid within 14 days of the request to the original card."
)
SECURITY = "Passwords must be at least 14 characters long. Report a lost laptop within 1 hour."


def make_hit(
    n: int, text: str, *, source: str, page: int | None = None, section: str | None = None, score: float = 0.5
) -> Hit:
    chunk = Chunk(
        chunk_id=f"chunk-{n}",
        doc_id=f"doc-{n}",
        source=source,
        index=n,
        text=text,
        title=f"Title {n}",
        section=section,
        page=page,
    )
    return Hit(chunk, score)


@pytest.fixture
def sources() -> list[Hit]:
    return [
        make_hit(1, REFUNDS, source="docs/billing/refunds.pdf", page=4, section="Refunds", score=0.81),
        make_hit(2, TRAVEL, source="docs/travel.md", section="Flights", score=0.62),
        make_hit(3, SECURITY, source="docs/security.docx", score=0.4),
    ]


def test_single_marker_maps_to_its_source_with_all_fields(sources: list[Hit]) -> None:
    cited = cite("Express refunds are paid within 3 days [1].", sources)
    assert cited.text == "Express refunds are paid within 3 days [1]."
    assert cited.dropped_markers == []
    assert cited.citations == [
        Citation(
            n=1,
            source="docs/billing/refunds.pdf",
            page=4,
            section="Refunds",
            quote="Express refunds are paid within 3 days of the request.",
            score=0.81,
            doc_id="doc-1",
            chunk_id="chunk-1",
        )
    ]


def test_adjacent_markers_cite_each_source(sources: list[Hit]) -> None:
    cited = cite("Book flights 21 days ahead and use 14 character passwords [2][3].", sources)
    assert cited.text == "Book flights 21 days ahead and use 14 character passwords [2][3]."
    assert [(c.n, c.source, c.page, c.section) for c in cited.citations] == [
        (2, "docs/travel.md", None, "Flights"),
        (3, "docs/security.docx", None, None),
    ]
    assert [c.quote for c in cited.citations] == [
        "Book flights at least 21 days before departure.",
        "Passwords must be at least 14 characters long.",
    ]
    assert [(c.score, c.doc_id, c.chunk_id) for c in cited.citations] == [
        (0.62, "doc-2", "chunk-2"),
        (0.4, "doc-3", "chunk-3"),
    ]


def test_comma_separated_markers_are_split_into_one_marker_each(sources: list[Hit]) -> None:
    cited = cite("Refunds take 14 days and flights are booked 21 days ahead [1, 2].", sources)
    assert cited.text == "Refunds take 14 days and flights are booked 21 days ahead [1][2]."
    assert [c.n for c in cited.citations] == [1, 2]
    assert [c.source for c in cited.citations] == ["docs/billing/refunds.pdf", "docs/travel.md"]
    assert cited.citations[0].quote == "Standard refunds are paid within 14 days of the request."
    assert cited.citations[1].quote == "Book flights at least 21 days before departure."


def test_marker_without_a_source_is_removed_and_reported(sources: list[Hit]) -> None:
    cited = cite("Gift cards are never refunded [7].", sources)
    assert cited.text == "Gift cards are never refunded."
    assert cited.citations == []
    assert cited.dropped_markers == [7]


def test_only_the_invalid_number_of_a_group_is_dropped(sources: list[Hit]) -> None:
    cited = cite("Refunds take 14 days [1, 7]. Laptops are reported within 1 hour [0][3][7].", sources)
    assert cited.text == "Refunds take 14 days [1]. Laptops are reported within 1 hour [3]."
    assert [c.n for c in cited.citations] == [1, 3]
    assert cited.dropped_markers == [0, 7]
    assert cited.citations[1].quote == "Report a lost laptop within 1 hour."


def test_unmarked_text_no_source_states_has_no_citations(sources: list[Hit]) -> None:
    # A number no source contains, and a sentence too short to match, are never attributed.
    text = "Express refunds are paid within 5 days. Ask your manager."
    cited = cite(text, sources)
    assert (cited.text, cited.citations, cited.dropped_markers) == (text, [], [])


def test_unmarked_sentence_a_source_states_gets_a_matched_citation(sources: list[Hit]) -> None:
    cited = cite("Express refunds are paid within 3 days. Book flights 21 days ahead [2].", sources)
    assert cited.text == "Express refunds are paid within 3 days. Book flights 21 days ahead [2]."
    assert [(c.n, c.origin, c.quote) for c in cited.citations] == [
        (1, "matched", "Express refunds are paid within 3 days of the request."),
        (2, "model", "Book flights at least 21 days before departure."),
    ]


def test_claims_in_several_sentences_pick_the_quote_for_their_own_source(sources: list[Hit]) -> None:
    answer = "Passwords need 14 characters [3]. A lost laptop must be reported within 1 hour [3]."
    cited = cite(answer, sources)
    # One citation per source; both claims count and the sentence sharing most words (and numbers) wins.
    assert [c.n for c in cited.citations] == [3]
    assert cited.citations[0].quote == "Report a lost laptop within 1 hour."


def test_quote_is_the_most_related_sentence_verbatim() -> None:
    source = (
        "Team lunches are on Thursdays.\nThe office opens at 08:00 and closes at 19:00.\nVisitors sign in."
    )
    quote = best_quote(source, "When does the office open?")
    assert quote == "The office opens at 08:00 and closes at 19:00."
    assert quote in source


def test_quote_prefers_the_sentence_with_the_same_number() -> None:
    # Without weighing numbers the two sentences tie on shared words and the longer first one would win.
    source = "Your line manager reviews every expense in the portal. Approval limits go up to 750 per claim."
    quote = best_quote(source, "Your line manager approves claims up to 750.")
    assert quote == "Approval limits go up to 750 per claim."


def test_quote_with_equal_overlap_goes_to_the_fuller_sentence() -> None:
    source = "Refunds are paid. Refunds are paid to the card that was used for the order."
    assert (
        best_quote(source, "refunds are paid") == "Refunds are paid to the card that was used for the order."
    )


def test_long_sentence_is_cut_at_a_word_boundary_and_stays_verbatim() -> None:
    words = [f"item{i:03d}" for i in range(60)]
    sentence = "The travel budget covers " + " ".join(words) + "."
    source = f"Short intro. {sentence} Closing line."
    quote = best_quote(source, "What does the travel budget cover? item001 item002")
    assert quote == "The travel budget covers " + " ".join(words[:34])
    assert len(quote) == 296 and len(quote) <= 300
    assert quote in source
    assert sentence.startswith(quote) and sentence[len(quote)] == " "


def test_long_cited_sentence_gives_a_short_verbatim_quote() -> None:
    long_text = "Allowances: " + ", ".join(f"city{i} EUR {i}" for i in range(80)) + "."
    hit = make_hit(1, long_text, source="allowances.md")
    cited = cite("City38 pays EUR 38 [1].", [hit])
    quote = cited.citations[0].quote
    assert len(long_text) > 1000
    assert quote.startswith("Allowances: city0 EUR 0, city1 EUR 1,")
    assert 250 < len(quote) <= 300
    assert quote in long_text
    assert long_text[len(quote)] == " "


@pytest.mark.parametrize(
    "text",
    [
        REFUSAL,
        "I can't find this in the documents.",
        "I cannot find this in the documents",
        "I can\u2019t find this in the documents.",
        "  I CAN'T FIND THIS\nIN THE DOCUMENTS.  ",
        "Sorry, the documents do not contain the answer.",
    ],
)
def test_refusals_are_recognised(text: str) -> None:
    assert is_refusal(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "Employees get 10 weeks of paid family leave [1].",
        "Keep the documents in the archive for 7 years [2].",
        "",
    ],
)
def test_normal_answers_are_not_refusals(text: str) -> None:
    assert is_refusal(text) is False


def test_marker_after_the_full_stop_of_a_verbatim_claim_quotes_that_claim() -> None:
    cited = cite("Express refunds take 3 days. [1]", [make_hit(1, TWO_SPEEDS, source="refunds.md")])
    assert cited.citations[0].quote == "Express refunds are paid within 3 days."


def test_marker_after_the_full_stop_of_a_paraphrase_quotes_the_claimed_sentence() -> None:
    cited = cite(
        "Express refunds arrive quickly, in 3 days. [1]", [make_hit(1, TWO_SPEEDS, source="refunds.md")]
    )
    assert cited.citations[0].quote == "Express refunds are paid within 3 days."


def test_a_paraphrase_sharing_only_the_number_and_two_words_is_not_taken_as_support() -> None:
    # "fast", "arrive" and "quickly" are not in the passage: 2 of 5 content words is below WORD_SHARE.
    cited = cite(
        "Fast refunds arrive quickly, in 3 days. [1]", [make_hit(1, TWO_SPEEDS, source="refunds.md")]
    )
    assert (cited.text, cited.citations) == ("Fast refunds arrive quickly, in 3 days.", [])
    assert cited.unsupported == ["Fast refunds arrive quickly, in 3 days."]


# The support check: a marker stays only where its passage holds the sentence's numbers, most of its
# named terms and enough of its words; otherwise it moves to the passage that does, or goes.


def test_a_marker_whose_passage_states_the_sentence_is_kept(sources: list[Hit]) -> None:
    cited = cite("Standard refunds are paid within 14 days [1].", sources)
    assert cited.text == "Standard refunds are paid within 14 days [1]."
    assert [(c.n, c.origin, c.supported) for c in cited.citations] == [(1, "model", True)]
    assert (cited.unsupported, cited.moved) == ([], [])


def test_a_marker_on_the_wrong_passage_moves_to_the_one_that_states_it(sources: list[Hit]) -> None:
    cited = cite("Passwords must have at least 14 characters [1].", sources)
    assert cited.text == "Passwords must have at least 14 characters [3]."
    assert [(c.n, c.origin, c.supported, c.quote) for c in cited.citations] == [
        (3, "moved", True, "Passwords must be at least 14 characters long.")
    ]
    assert cited.moved == [(1, 3)]
    assert cited.unsupported == []


def test_a_marker_no_passage_supports_is_dropped_and_the_sentence_listed(sources: list[Hit]) -> None:
    # 30 days is in no passage, though refunds and days are.
    cited = cite("Standard refunds are paid within 30 days [1]. Book flights 21 days ahead [2].", sources)
    assert cited.text == "Standard refunds are paid within 30 days. Book flights 21 days ahead [2]."
    assert [(c.n, c.origin) for c in cited.citations] == [(2, "model")]
    assert cited.unsupported == ["Standard refunds are paid within 30 days."]
    assert cited.dropped_markers == []  # those are markers that pointed at no passage at all


def test_a_named_term_the_passage_lacks_fails_the_check(sources: list[Hit]) -> None:
    # Every word but "Lufthansa" is in the travel passage.
    cited = cite("Economy class is the default for Lufthansa trips [2].", sources)
    assert (cited.text, cited.citations) == ("Economy class is the default for Lufthansa trips.", [])
    assert cited.unsupported == ["Economy class is the default for Lufthansa trips."]
    assert supports("Economy class is the default for short trips.", sources[1]) is True


def test_a_sentence_sharing_too_few_words_with_its_passage_is_unsupported(sources: list[Hit]) -> None:
    cited = cite(
        "Express refunds are paid within 3 days [1]. They arrive as gift vouchers by post [1].", sources
    )
    assert cited.text == "Express refunds are paid within 3 days [1]. They arrive as gift vouchers by post."
    assert [(c.n, c.quote) for c in cited.citations] == [
        (1, "Express refunds are paid within 3 days of the request.")
    ]
    assert cited.unsupported == ["They arrive as gift vouchers by post."]


def test_each_marker_of_a_sentence_is_checked_against_its_own_part(sources: list[Hit]) -> None:
    cited = cite("Express refunds take 3 days [2] and flights are booked 21 days ahead [1].", sources)
    assert cited.text == "Express refunds take 3 days [1] and flights are booked 21 days ahead [2]."
    assert [(c.n, c.origin) for c in cited.citations] == [(1, "moved"), (2, "moved")]
    assert cited.moved == [(2, 1), (1, 2)]


def test_of_two_markers_only_the_supporting_one_stays(sources: list[Hit]) -> None:
    cited = cite("Passwords need 14 characters [2][3].", sources)
    assert cited.text == "Passwords need 14 characters [3]."
    assert [(c.n, c.origin) for c in cited.citations] == [(3, "model")]
    assert (cited.moved, cited.unsupported) == ([], [])


def test_a_model_marker_and_a_moved_one_on_the_same_passage_count_as_the_models(sources: list[Hit]) -> None:
    cited = cite("Express refunds take 3 days [1]. Standard refunds take 14 days [2].", sources)
    assert cited.text == "Express refunds take 3 days [1]. Standard refunds take 14 days [1]."
    assert [(c.n, c.origin) for c in cited.citations] == [(1, "model")]
    assert cited.moved == [(2, 1)]


def test_a_sentence_with_nothing_to_check_keeps_its_marker_unverified(sources: list[Hit]) -> None:
    cited = cite("Yes [2].", sources)
    assert cited.text == "Yes [2]."
    assert [(c.n, c.origin, c.supported) for c in cited.citations] == [(2, "model", False)]
    assert cited.unsupported == []


def test_the_file_name_and_section_count_as_part_of_the_passage() -> None:
    hit = make_hit(1, "RTO: 45 minutes. RPO: 5 minutes.", source="ops/database_failover_runbook.txt")
    cited = cite("The database failover RTO is 45 minutes [1].", [hit])
    assert [(c.n, c.origin, c.quote) for c in cited.citations] == [(1, "model", "RTO: 45 minutes.")]


def test_numbers_match_across_thousands_separators_and_zero_decimals() -> None:
    hit = make_hit(1, "The learning budget is EUR 1500.00 per employee and year.", source="handbook.md")
    assert supports("Your learning budget is EUR 1,500 per year.", hit) is True
    assert supports("Your learning budget is EUR 1,600 per year.", hit) is False


POOLER = (
    "PgBouncer listens for client connections and hands them to a pool of server connections. "
    "Each pool belongs to one database and one user. "
    "Pools are sized per database. "
    "The server itself is configured separately. "
    "The default port of the PostgreSQL server is 5432."
)


def test_a_number_from_another_part_of_the_passage_does_not_support_the_claim() -> None:
    # Every number and word of the claim is in the passage, but 5432 is the server's port.
    hit = make_hit(1, POOLER, source="pgbouncer.txt")
    assert supports("PgBouncer listens on port 5432.", hit) is False
    cited = cite("PgBouncer listens on port 5432 [1].", [hit])
    assert (cited.text, cited.citations) == ("PgBouncer listens on port 5432.", [])
    assert cited.unsupported == ["PgBouncer listens on port 5432."]


def test_a_number_within_two_sentences_of_what_the_claim_says_about_it_supports_it() -> None:
    hit = make_hit(1, POOLER, source="pgbouncer.txt")
    assert supports("The PostgreSQL server listens on port 5432 by default.", hit) is True
    assert supports("The server is configured separately, on port 5432.", hit) is True


def test_a_number_in_the_section_or_title_stands_for_the_whole_passage() -> None:
    hit = make_hit(1, POOLER, source="pgbouncer.txt", section="Changes in PgBouncer 1.21")
    assert supports("PgBouncer 1.21 listens for client connections.", hit) is True


def test_each_number_of_a_compound_claim_sits_by_its_own_clause() -> None:
    hit = make_hit(1, REFUNDS + " " + TRAVEL, source="policies.md")
    assert supports("Standard refunds take 14 days and flights are booked 21 days ahead.", hit) is True
    assert supports("Standard refunds take 21 days and flights are booked 14 days ahead.", hit) is False


def test_passages_cited_together_do_not_lend_each_other_words_for_a_number() -> None:
    # The first passage ends on 40, the second starts with what the claim says: neither says the
    # upload limit for reports is 40 megabytes, and their texts must not be read as one.
    archive = "The archive keeps old releases. Tape drives are slow. Shelves hold 40."
    limits = "Upload limits for reports are set in megabytes. Ask IT to raise them."
    figures, uploads = make_hit(1, archive, source="a.md"), make_hit(2, limits, source="b.md")
    cited = cite("The upload limit for reports is 40 megabytes [1][2].", [figures, uploads])
    assert (cited.citations, cited.unsupported) == ([], ["The upload limit for reports is 40 megabytes."])


def test_case_and_simple_inflections_do_not_matter() -> None:
    hit = make_hit(1, "Line managers approve expense claims up to EUR 750.", source="expenses.md")
    assert supports("A LINE MANAGER approved the expense claim of EUR 750.", hit) is True


def test_claim_terms_pick_numbers_named_terms_and_content_words() -> None:
    terms = claim_terms(
        'Run `pg_dump` on PostgreSQL with the "fast mode" in Amsterdam: 1,500 MB in 2.0 hours [2].'
    )
    assert terms.numbers == {"1500", "2"}
    assert terms.named == {"pg_dump", "postgresql", "fast", "mod", "amsterdam", "mb"}
    assert terms.words == {"run", "dump", "postgresql", "fast", "mod", "amsterdam", "hour"}


def test_list_numbers_and_the_first_word_are_not_claims() -> None:
    terms = claim_terms("1. Employees book trains.")
    assert terms.numbers == frozenset() and terms.named == frozenset()
    assert terms.words == {"employe", "book", "train"}


def test_markers_between_two_full_stops_leave_one(sources: list[Hit]) -> None:
    cited = cite("Express refunds are paid within 3 days. [1].", sources)
    assert cited.text == "Express refunds are paid within 3 days [1]."


def test_an_abbreviation_does_not_end_the_sentence_its_marker_belongs_to(sources: list[Hit]) -> None:
    cited = cite("Some refunds are fast, e.g. express refunds take 3 days [2].", sources)
    assert cited.text == "Some refunds are fast, e.g. express refunds take 3 days [1]."
    assert [(c.n, c.origin) for c in cited.citations] == [(1, "moved")]
