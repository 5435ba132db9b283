"""Parsing real files of every supported type into blocks, and refusing bad files with a readable reason.

Every input is built here, in ``tmp_path``, with the libraries that write those formats.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest
from fpdf import FPDF
from hypothesis import given, settings
from hypothesis import strategies as st
from pptx.util import Inches
from pypdf import PdfReader, PdfWriter

from ingest.ocr import OFF
from ingest.parse import FILE_TYPES, Block, parse_file, table_to_text
from rag.errors import DocumentError, EmptyDocumentError, UnsupportedFileError

RATES = [("City", "Per diem"), ("Oslo", "80 EUR"), ("Rome", "60 EUR")]
RATES_TEXT = "City | Per diem\nCity: Oslo; Per diem: 80 EUR\nCity: Rome; Per diem: 60 EUR"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_pdf(path: Path, pages: list[list[tuple[int, str]]]) -> Path:
    """One page per list; each (y in mm, line) is written at that height in Helvetica (Latin-1 only)."""
    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=12)
    for lines in pages:
        pdf.add_page()
        for y, line in lines:
            pdf.set_xy(10, y)
            pdf.cell(0, 10, line)
    pdf.output(str(path))
    return path


def texts(blocks: list[Block]) -> list[str]:
    return [b.text for b in blocks]


# -- plain text, markdown, html ----------------------------------------------------------------------


def test_plain_text_paragraphs_and_title_from_file_name(tmp_path: Path) -> None:
    path = write(
        tmp_path / "office_hours-2024.txt",
        "Welcome to the handbook.\n\nThe office opens at nine o'clock every weekday morning.\n",
    )

    doc = parse_file(path)

    assert (doc.title, doc.file_type) == ("office hours 2024", "txt")
    assert doc.blocks == [
        Block("Welcome to the handbook.", (), None),
        Block("The office opens at nine o'clock every weekday morning.", (), None),
    ]


def test_markdown_headings_become_the_section_path(tmp_path: Path) -> None:
    path = write(
        tmp_path / "travel.md",
        "# Travel policy\n\nTravel needs approval.\n\n"
        "## Per diem\n\nDaily allowance is paid in cash.\n\n"
        "### Abroad\n\nForeign rates apply.\n\n"
        "## Hotels\n\nBook via the portal.\n\n"
        "# Expenses\n\nReceipts are required.\n",
    )

    doc = parse_file(path)

    assert doc.file_type == "md"
    assert [(b.text, b.section) for b in doc.blocks] == [
        ("Travel needs approval.", ("Travel policy",)),
        ("Daily allowance is paid in cash.", ("Travel policy", "Per diem")),
        ("Foreign rates apply.", ("Travel policy", "Per diem", "Abroad")),
        ("Book via the portal.", ("Travel policy", "Hotels")),
        ("Receipts are required.", ("Expenses",)),
    ]


def test_markdown_table_becomes_labelled_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path / "rates.markdown",
        "# Rates\n\n| City | Per diem |\n|---|---|\n| Oslo | 80 EUR |\n| Rome | 60 EUR |\n",
    )

    [table] = parse_file(path).blocks

    assert table == Block(RATES_TEXT, ("Rates",), None, "table")


def test_upper_case_extension_is_recognised(tmp_path: Path) -> None:
    doc = parse_file(write(tmp_path / "NOTES.MD", "# Notes\n\nBring a laptop.\n"))

    assert (doc.file_type, doc.blocks) == ("md", [Block("Bring a laptop.", ("Notes",), None)])


def test_html_headings_paragraphs_and_table(tmp_path: Path) -> None:
    path = write(
        tmp_path / "benefits.html",
        "<html><body><h1>Benefits</h1><p>Health insurance is included.</p>"
        "<h2>Dental</h2><p>Dental care is covered at fifty percent.</p>"
        "<table><tr><th>City</th><th>Per diem</th></tr><tr><td>Oslo</td><td>80 EUR</td></tr></table>"
        "</body></html>",
    )

    doc = parse_file(path)

    assert doc.file_type == "html"
    assert doc.blocks == [
        Block("Health insurance is included.", ("Benefits",), None),
        Block("Dental care is covered at fifty percent.", ("Benefits", "Dental"), None),
        Block("City | Per diem\nCity: Oslo; Per diem: 80 EUR", ("Benefits", "Dental"), None, "table"),
    ]


# -- delimited files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "sep"), [("rates.csv", ","), ("rates.tsv", "\t")])
def test_delimited_file_becomes_one_labelled_table(tmp_path: Path, name: str, sep: str) -> None:
    path = write(tmp_path / name, "".join(sep.join(row) + "\n" for row in RATES))

    doc = parse_file(path)

    assert doc.file_type == name.rsplit(".", 1)[1]
    assert doc.blocks == [Block(RATES_TEXT, (), None, "table")]
    assert "City: Oslo; Per diem: 80 EUR" in doc.blocks[0].text.splitlines()


# -- e-mail ------------------------------------------------------------------------------------------


def test_email_gets_a_header_block_and_its_subject_as_section(tmp_path: Path) -> None:
    path = write(
        tmp_path / "closure.eml",
        "From: HR Team <hr@example.com>\n"
        "To: all@example.com\n"
        "Subject: Office closure\n"
        "Date: Fri, 20 Dec 2024 09:30:00 +0100\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "The office is closed between Christmas and New Year.\n"
        "\n"
        "Urgent requests go to the on-call phone.\n",
    )

    doc = parse_file(path)

    assert doc.file_type == "eml"
    assert doc.blocks == [
        Block(
            "Subject: Office closure\nFrom: HR Team <hr@example.com>\nTo: all@example.com\n"
            "Date: Fri, 20 Dec 2024 09:30:00 +0100",
            ("Office closure",),
            None,
        ),
        Block("The office is closed between Christmas and New Year.", ("Office closure",), None),
        Block("Urgent requests go to the on-call phone.", ("Office closure",), None),
    ]


def test_email_without_subject_is_labelled_no_subject(tmp_path: Path) -> None:
    path = write(tmp_path / "note.eml", "From: a@example.com\nTo: b@example.com\n\nJust a short note.\n")

    blocks = parse_file(path).blocks

    assert blocks[0].text.splitlines()[:3] == [
        "Subject: (no subject)",
        "From: a@example.com",
        "To: b@example.com",
    ]
    assert blocks[1] == Block("Just a short note.", ("(no subject)",), None)


def test_email_without_date_header_has_no_date_line(tmp_path: Path) -> None:
    path = write(tmp_path / "note.eml", "From: a@example.com\nTo: b@example.com\n\nJust a short note.\n")
    os.utime(path, (1_000_000_000, 1_000_000_000))  # 2001-09-09

    header = parse_file(path).blocks[0]

    assert header.text == "Subject: (no subject)\nFrom: a@example.com\nTo: b@example.com"


# -- office formats ----------------------------------------------------------------------------------


def test_docx_heading_styles_become_the_section_path(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Intro before any heading.")
    document.add_heading("Leave policy", level=1)
    document.add_paragraph("Employees get 25 days of annual leave.")
    document.add_heading("Sick leave", level=2)
    document.add_paragraph("Report sickness before ten.")
    table = document.add_table(rows=len(RATES), cols=2)
    for r, row in enumerate(RATES):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_heading("Contacts", level=1)
    document.add_paragraph("Call HR on extension 42.")
    path = tmp_path / "leave.docx"
    document.save(str(path))

    doc = parse_file(path)

    assert doc.file_type == "docx"
    assert doc.blocks == [
        Block("Intro before any heading.", (), None),
        Block("Employees get 25 days of annual leave.", ("Leave policy",), None),
        Block("Report sickness before ten.", ("Leave policy", "Sick leave"), None),
        Block(RATES_TEXT, ("Leave policy", "Sick leave"), None, "table"),
        Block("Call HR on extension 42.", ("Contacts",), None),
    ]


def test_docx_page_header_and_footer_are_kept_under_their_own_section(tmp_path: Path) -> None:
    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Acme - Leave Policy - Classification: Internal"
    document.sections[0].footer.paragraphs[0].text = "Acme B.V. - HR-POL-7"
    document.add_heading("Leave policy", level=1)
    document.add_paragraph("Employees get 25 days of annual leave.")
    path = tmp_path / "leave.docx"
    document.save(str(path))

    assert parse_file(path).blocks == [
        Block("Acme - Leave Policy - Classification: Internal", ("Page header",), None),
        Block("Employees get 25 days of annual leave.", ("Leave policy",), None),
        Block("Acme B.V. - HR-POL-7", ("Page footer",), None),
    ]


def test_docx_table_with_a_merged_header_cell_keeps_values_under_their_headers(tmp_path: Path) -> None:
    document = docx.Document()
    table = document.add_table(rows=3, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1))
    table.cell(0, 0).text = "Name"
    table.cell(0, 2).text = "Age"
    for r, row in enumerate([("Ann", "Smith", "30"), ("Bob", "Jones", "41")], start=1):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    path = tmp_path / "staff.docx"
    document.save(str(path))

    [block] = parse_file(path).blocks

    ann = block.text.splitlines()[1]
    assert "Age: 30" in ann
    assert "Smith" in ann
    assert "Age: Smith" not in ann


def test_pptx_slides_give_page_numbers_and_slide_sections(tmp_path: Path) -> None:
    deck = pptx.Presentation()
    for number in (1, 2, 3):
        slide = deck.slides.add_slide(deck.slide_layouts[1])  # title and content
        slide.shapes.title.text = f"Topic {number}"
        slide.placeholders[1].text = f"Body text of slide {number}"
    slide = deck.slides.add_slide(deck.slide_layouts[5])  # title only, plus a table
    slide.shapes.title.text = "Per diem rates"
    table = slide.shapes.add_table(len(RATES), 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for r, row in enumerate(RATES):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Questions"
    path = tmp_path / "review.pptx"
    deck.save(str(path))

    doc = parse_file(path)

    assert doc.file_type == "pptx"
    assert doc.blocks == [
        Block("Body text of slide 1", ("Slide 1: Topic 1",), 1),
        Block("Body text of slide 2", ("Slide 2: Topic 2",), 2),
        Block("Body text of slide 3", ("Slide 3: Topic 3",), 3),
        Block(RATES_TEXT, ("Slide 4: Per diem rates",), 4, "table"),
        Block("Questions", ("Slide 5: Questions",), 5),  # a title-only slide still says something
    ]


def test_xlsx_sheets_name_the_section_and_empty_cells_are_skipped(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    rates = workbook.active
    rates.title = "Rates"
    for row in RATES:
        rates.append(row)
    staff = workbook.create_sheet("Staff")
    staff_rows: list[tuple[str | None, ...]] = [
        ("Name", "Room", "Phone"),
        ("Alice", None, "555-0100"),
        ("Bob", "12", None),
    ]
    for staff_row in staff_rows:
        staff.append(staff_row)
    path = tmp_path / "lists.xlsx"
    workbook.save(str(path))

    doc = parse_file(path)

    assert doc.file_type == "xlsx"
    assert doc.blocks == [
        Block(RATES_TEXT, ("Rates",), 1, "table"),
        Block(
            "Name | Room | Phone\nName: Alice; Phone: 555-0100\nName: Bob; Room: 12", ("Staff",), 2, "table"
        ),
    ]


def test_xlsx_title_row_does_not_leak_into_the_next_sheet(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    rates = workbook.active
    rates.title = "Rates"
    rates.append(["Per diem rates 2024"])
    rates.append([])
    for row in RATES:
        rates.append(row)
    contacts = workbook.create_sheet("Contacts")
    contacts.append(["Name", "Phone"])
    contacts.append(["Alice", "555-0100"])
    path = tmp_path / "rates.xlsx"
    workbook.save(str(path))

    blocks = parse_file(path).blocks

    assert blocks[-1] == Block("Name | Phone\nName: Alice; Phone: 555-0100", ("Contacts",), 2, "table")


# -- PDF ---------------------------------------------------------------------------------------------


def test_pdf_blocks_carry_their_page_numbers(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "scope.pdf",
        [
            [(20, "The first page explains the scope of the policy.")],
            [(20, "The second page lists the approval steps.")],
        ],
    )

    doc = parse_file(path)

    assert doc.file_type == "pdf"
    assert [(b.text, b.page) for b in doc.blocks] == [
        ("The first page explains the scope of the policy.", 1),
        ("The second page lists the approval steps.", 2),
    ]


def test_pdf_numbered_and_short_lines_followed_by_prose_become_headings(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "hours.pdf",
        [
            [
                (10, "1. Scope"),
                (20, "This policy applies to every employee of the company."),
                (35, "1.1 Contractors"),
                (45, "Contractors follow the rules of their own employer."),
                (60, "2. Working hours"),
                (70, "Core hours are from ten to three."),
                (85, "Flexible time"),  # unnumbered, under a numbered heading: its subsection
                (95, "Outside core hours, time is flexible."),
            ],
            [(10, "3. Overtime"), (20, "Overtime needs approval by a manager.")],
        ],
    )

    assert [(b.text, b.section, b.page) for b in parse_file(path).blocks] == [
        ("This policy applies to every employee of the company.", ("1. Scope",), 1),
        ("Contractors follow the rules of their own employer.", ("1. Scope", "1.1 Contractors"), 1),
        ("Core hours are from ten to three.", ("2. Working hours",), 1),
        ("Outside core hours, time is flexible.", ("2. Working hours", "Flexible time"), 1),
        ("Overtime needs approval by a manager.", ("3. Overtime",), 2),
    ]


def test_pdf_short_lines_without_prose_after_them_stay_text(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "list.pdf", [[(10, "Oslo"), (20, "Rome"), (30, "Lisbon")]])

    assert [(b.text, b.section) for b in parse_file(path).blocks] == [
        ("Oslo", ()),
        ("Rome", ()),
        ("Lisbon", ()),
    ]


def test_plain_text_short_lines_before_paragraphs_become_headings(tmp_path: Path) -> None:
    path = write(
        tmp_path / "remote.txt",
        "Remote work\n\nStaff may work remotely up to 3 days a week.\n\n"
        "Equipment\n\nLaptops are provided by IT.\n",
    )

    assert parse_file(path).blocks == [
        Block("Staff may work remotely up to 3 days a week.", ("Remote work",), None),
        Block("Laptops are provided by IT.", ("Equipment",), None),
    ]


def test_pdf_keeps_latin1_text(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "cafe.pdf", [[(20, "Café prices in Zürich are high for naïve visitors.")]])

    assert texts(parse_file(path).blocks) == ["Café prices in Zürich are high for naïve visitors."]


BODIES = [
    "Travel must be approved by a manager before booking.",
    "Hotels are booked through the internal portal only.",
    "Expenses are reimbursed within thirty days of submission.",
]


def test_pdf_running_headers_and_footers_are_dropped(tmp_path: Path) -> None:
    pages = [
        [(10, "Acme Corp - Internal"), (40, body), (280, f"Page {n} of 3")]
        for n, body in enumerate(BODIES, 1)
    ]
    path = write_pdf(tmp_path / "travel.pdf", pages)

    doc = parse_file(path)

    assert [(b.text, b.page) for b in doc.blocks] == [(body, n) for n, body in enumerate(BODIES, 1)]


def test_pdf_with_two_pages_keeps_its_repeated_lines(tmp_path: Path) -> None:
    pages = [[(10, "Acme Corp - Internal"), (40, body)] for body in BODIES[:2]]
    path = write_pdf(tmp_path / "short.pdf", pages)

    assert texts(parse_file(path).blocks) == [
        "Acme Corp - Internal",
        BODIES[0],
        "Acme Corp - Internal",
        BODIES[1],
    ]


# -- tables ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            "<table><tr><th>City</th><th>Per diem</th></tr>"
            "<tr><td>Oslo</td><td>80 EUR</td></tr><tr><td>Rome</td><td>60 EUR</td></tr></table>",
            RATES_TEXT,
            id="header-and-labelled-rows",
        ),
        pytest.param(
            "<table><tr><th>City</th><th>Per diem</th></tr></table>",
            "City | Per diem",
            id="header-only",
        ),
        pytest.param(
            "<table><tr><td>Name</td><td>Room</td><td>Phone</td></tr>"
            "<tr><td>Alice</td><td></td><td>555-0100</td></tr><tr><td>Bob</td><td>12</td><td/></tr></table>",
            "Name | Room | Phone\nName: Alice; Phone: 555-0100\nName: Bob; Room: 12",
            id="empty-cells-are-skipped",
        ),
        pytest.param(
            "<table><tr><th>City</th><th>Per diem</th><th>Currency</th></tr><tr><td>Oslo</td></tr></table>",
            "City | Per diem | Currency\nCity: Oslo",
            id="short-ragged-row",
        ),
        pytest.param(
            "<table><tr><th>City</th><th>Per diem</th></tr><tr><td></td><td></td></tr>"
            "<tr><td>Oslo</td><td>80 EUR</td></tr></table>",
            "City | Per diem\nCity: Oslo; Per diem: 80 EUR",
            id="empty-rows-are-dropped",
        ),
        pytest.param(
            "<table><tr><td></td><td>Q1</td><td>Q2</td></tr><tr><td>Sales</td><td>10</td><td>12</td></tr></table>",
            " | Q1 | Q2\nSales | 10 | 12",
            id="header-with-a-blank-cell-falls-back-to-plain-rows",
        ),
        pytest.param(
            "<table><tr><th>Team</th></tr><tr><td>R&amp;D\n   and   QA</td></tr></table>",
            "Team\nTeam: R&D and QA",
            id="entities-and-white-space",
        ),
        pytest.param("<table></table>", "", id="no-rows"),
    ],
)
def test_table_to_text(html: str, expected: str) -> None:
    assert table_to_text(html) == expected


def test_table_to_text_keeps_cells_beyond_the_header() -> None:
    html = (
        "<table><tr><th>City</th><th>Per diem</th></tr>"
        "<tr><td>Oslo</td><td>80 EUR</td><td>approx.</td></tr></table>"
    )

    assert "approx." in table_to_text(html)


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "error", "phrase"),
    [
        pytest.param("empty.pdf", b"", EmptyDocumentError, "The file is empty (0 bytes).", id="zero-bytes"),
        pytest.param(
            "blank.txt", b"  \n\t\n   \n", EmptyDocumentError, "No text could be extracted", id="white-space"
        ),
        pytest.param(
            "report.docx",
            bytes(range(256)) * 8,
            DocumentError,
            "This is not a valid Word (.docx) file",
            id="binary-renamed-docx",
        ),
        pytest.param(
            "deck.pptx",
            b"%PDF-1.7\n" + b"x" * 200,
            DocumentError,
            "not a valid PowerPoint",
            id="pdf-renamed-pptx",
        ),
        pytest.param(
            "notes.md",
            b"# notes\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            DocumentError,
            "This .md file contains binary data, not text.",
            id="binary-markdown",
        ),
        pytest.param(
            "scan.pdf",
            b"GIF89a" + bytes(range(256)) * 4,
            DocumentError,
            "This is not a PDF file (no PDF header)",
            id="no-pdf-header",
        ),
        pytest.param(
            "broken.pdf",
            b"%PDF-1.7\n" + bytes(range(256)) * 8,
            DocumentError,
            "The PDF is damaged and cannot be read",
            id="pdf-header-then-garbage",
        ),
    ],
)
def test_bad_files_raise_a_specific_readable_error(
    tmp_path: Path, name: str, content: bytes, error: type[DocumentError], phrase: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(DocumentError) as excinfo:
        parse_file(path)

    assert excinfo.type is error
    assert phrase in excinfo.value.message


def test_truncated_pdf_is_reported_as_damaged(tmp_path: Path) -> None:
    good = write_pdf(tmp_path / "good.pdf", [[(20, "Some text that will be cut off.")]]).read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(good[: len(good) // 2])

    with pytest.raises(DocumentError) as excinfo:
        parse_file(path)

    assert excinfo.type is DocumentError
    assert excinfo.value.message.startswith("The PDF is damaged and cannot be read: ")


def test_password_protected_pdf_asks_for_the_password_to_be_removed(tmp_path: Path) -> None:
    plain = write_pdf(tmp_path / "plain.pdf", [[(20, "Salaries are confidential.")]])
    writer = PdfWriter()
    writer.append(PdfReader(str(plain)))
    writer.encrypt("secret")
    path = tmp_path / "salaries.pdf"
    with path.open("wb") as handle:
        writer.write(handle)

    with pytest.raises(DocumentError) as excinfo:
        parse_file(path)

    assert excinfo.type is DocumentError
    assert "password-protected" in excinfo.value.message
    assert "Remove the password" in excinfo.value.message


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    plain = write_pdf(tmp_path / "plain.pdf", [[(20, "Printing is restricted, reading is not.")]])
    writer = PdfWriter()
    writer.append(PdfReader(str(plain)))
    writer.encrypt(user_password="", owner_password="owner")
    path = tmp_path / "restricted.pdf"
    with path.open("wb") as handle:
        writer.write(handle)

    assert texts(parse_file(path).blocks) == ["Printing is restricted, reading is not."]


def test_pdf_without_a_text_layer_is_empty(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60)  # a drawing, as in a scan: nothing to extract
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))

    with pytest.raises(EmptyDocumentError) as excinfo:
        parse_file(path, OFF)  # with OCR: tests/ingest/test_ocr.py

    assert excinfo.value.message == (
        "No text could be extracted from this file. If it is a scanned PDF, it has no text layer, and "
        "OCR is off (RAG_OCR=off)."
    )
    assert excinfo.value.code == "empty_document"


def test_zip_that_is_not_a_word_document_is_a_document_error(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(["not", "a", "letter"])
    path = tmp_path / "letter.docx"  # a real Excel workbook with a Word extension
    workbook.save(str(path))

    with pytest.raises(DocumentError) as excinfo:
        parse_file(path)

    assert excinfo.type is DocumentError
    assert excinfo.value.message.startswith("Could not read this DOCX file: ")
    assert "is not a Word file" in excinfo.value.message


@pytest.mark.parametrize("name", ["notes.rtf", "Makefile", "archive.tar.gz"])
def test_unsupported_extension_lists_the_supported_types(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "Some perfectly readable text.")
    suffix = path.suffix or "(none)"

    with pytest.raises(UnsupportedFileError) as excinfo:
        parse_file(path)

    message = excinfo.value.message
    assert message.startswith(f"Unsupported file type {suffix!r}; supported: ")
    assert all(ext in message for ext in FILE_TYPES)
    assert excinfo.value.code == "unsupported_file_type"


def test_text_after_a_long_run_of_white_space_is_not_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "padded.txt", " " * 9000 + "Hello world.\n")

    assert texts(parse_file(path).blocks) == ["Hello world."]


def test_utf16_text_file_is_text(tmp_path: Path) -> None:
    path = tmp_path / "notepad.txt"
    path.write_bytes("Saved by Notepad as Unicode.".encode("utf-16"))

    assert texts(parse_file(path).blocks) == ["Saved by Notepad as Unicode."]


def test_pdfs_are_read_without_unstructureds_layout_model_packages(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "report.pdf", [[(20, "Quarterly report.")], [(11, "Revenue grew by 4%.")]])
    # A fresh interpreter in which unstructured-inference and its OCR wrapper cannot be imported: the
    # plain install has neither (they would drag CUDA torch), and PDFs must still be read.
    script = (
        "import sys\n"
        "sys.modules['unstructured_inference'] = None\n"
        "sys.modules['unstructured_pytesseract'] = None\n"
        "from pathlib import Path\n"
        "from ingest.parse import parse_file\n"
        f"for block in parse_file(Path({str(path)!r})).blocks:\n"
        "    print(block.page, block.text)\n"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1 Quarterly report.", "2 Revenue grew by 4%."]


def test_library_messages_become_a_sentence_about_the_file(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Leave policy.")
    path = tmp_path / "policy.docx"
    document.save(str(path))
    with zipfile.ZipFile(path) as original:
        members = {name: original.read(name) for name in original.namelist()}
    members["word/document.xml"] = b"<w:document><w:body><w:p>unclosed"
    with zipfile.ZipFile(path, "w") as broken:
        for name, data in members.items():
            broken.writestr(name, data)

    with pytest.raises(DocumentError) as excinfo:
        parse_file(path)

    assert excinfo.value.message == (
        "Could not read this DOCX file: its XML is malformed, or too large or deeply nested to read safely."
    )


@given(words=st.lists(st.text(alphabet=st.characters(categories=["L", "N", "P"]), min_size=1), min_size=13))
@settings(max_examples=200, deadline=None)
def test_a_text_of_more_than_12_words_is_never_a_title(words: list[str]) -> None:
    """The premise of skipping spaCy's narrative check for long texts (ingest/parse.py): whatever the
    check says, unstructured would not call such a text a Title, the only kind we act on."""
    from unstructured.partition.text_type import is_possible_title

    assert not is_possible_title(" ".join(words))


def test_long_paragraphs_are_classified_without_spacy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import unstructured.partition.text_type as text_type

    (tmp_path / "warm.txt").write_text("Warm up\n\nThe parser reads this once.")
    parse_file(tmp_path / "warm.txt")
    calls: list[str] = []
    real = text_type.sent_tokenize  # type: ignore[attr-defined]

    def counted(text: str) -> list[str]:
        calls.append(text)
        return real(text)

    monkeypatch.setattr(text_type, "sent_tokenize", counted)
    long = "Employees receive twenty seven days of paid annual leave in every calendar year they work."
    (tmp_path / "leave.txt").write_text(f"Vacation days\n\n{long}\n")
    doc = parse_file(tmp_path / "leave.txt")
    assert [(b.section, b.text) for b in doc.blocks] == [(("Vacation days",), long)]
    assert long not in calls and "Vacation days" in calls  # only the short line needed spaCy
