"""cite(): the model's [n] markers become citations with a quote that is verbatim in the source."""

from __future__ import annotations

import pytest

from rag.citations import Citation, best_quote, cite, is_refusal
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
    cited = cite("Gdansk pays EUR 38 [1].", [hit])
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
        "Fast refunds arrive quickly, in 3 days. [1]", [make_hit(1, TWO_SPEEDS, source="refunds.md")]
    )
    assert cited.citations[0].quote == "Express refunds are paid within 3 days."
