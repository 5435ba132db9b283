"""Small real documents for tests."""

from __future__ import annotations

from pathlib import Path


def write_pdf(path: Path, pages: list[str], password: str | None = None) -> None:
    """A real PDF with one page per string (fpdf2 core fonts: Latin-1 text), optionally encrypted."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    pdf.output(str(path))
    if password:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(str(path)))
        writer.encrypt(password)
        writer.write(str(path))
