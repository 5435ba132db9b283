"""Scanned documents for the OCR tests, made in the test: PDF pages rendered to pictures (poppler's
pdftoppm, as a scanner would see them) and put back into image-only PDFs, PNGs and TIFFs with Pillow."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image


def require_ocr_tools() -> None:
    """Skip when tesseract (with English) or pdftoppm is missing, except where RAG_REQUIRE_ALL_TESTS=1
    (scripts/test.sh, which installs them through scripts/setup.sh): there it is a failure."""
    from ingest.ocr import _installed_languages

    missing = [tool for tool in ("tesseract", "pdftoppm") if shutil.which(tool) is None]
    if not missing and "eng" not in (_installed_languages() or ()):
        missing.append("tesseract-ocr-eng")
    if missing:
        reason = f"OCR tools missing: {', '.join(missing)} (scripts/setup.sh installs them as root)"
        if os.environ.get("RAG_REQUIRE_ALL_TESTS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def text_pdf(path: Path, pages: Sequence[Sequence[str]], size: int = 13) -> Path:
    """A PDF with a text layer: one list of paragraphs per page."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=size)
    for paragraphs in pages:
        pdf.add_page()
        for paragraph in paragraphs:
            pdf.multi_cell(0, size * 0.55, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
    pdf.output(str(path))
    return path


def page_images(pdf: Path, dpi: int = 200) -> list[Image.Image]:
    """Every page of ``pdf`` as a greyscale picture, as a scanner at ``dpi`` makes it."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", str(pdf), f"{folder}/page"], check=True)
        images = []
        for path in sorted(Path(folder).glob("page-*.pgm")):
            with Image.open(path) as image:
                images.append(image.copy())
        return images


def image_pdf(images: Sequence[Image.Image], path: Path, dpi: int = 200) -> Path:
    """An image-only PDF: one picture a page, no text layer (a scanner's output)."""
    images[0].save(path, "PDF", save_all=True, append_images=list(images[1:]), resolution=dpi)
    return path


def scanned_copy(pdf: Path, path: Path, dpi: int = 200) -> Path:
    return image_pdf(page_images(pdf, dpi), path, dpi)


def mixed_pdf(pdf: Path, path: Path, scanned: set[int], dpi: int = 200) -> Path:
    """``pdf`` with the pages numbered in ``scanned`` (from 1) replaced by pictures of themselves."""
    from pypdf import PdfReader, PdfWriter

    with tempfile.TemporaryDirectory() as folder:
        scan = PdfReader(scanned_copy(pdf, Path(folder, "scan.pdf"), dpi))
        text = PdfReader(pdf)
        writer = PdfWriter()
        for number, page in enumerate(text.pages, start=1):
            writer.add_page(scan.pages[number - 1] if number in scanned else page)
        with path.open("wb") as handle:
            writer.write(handle)
    return path


def single_colour_png(path: Path, width: int, height: int) -> Path:
    """A white greyscale PNG of any size, written row by row: a 20,000 x 20,000 picture (400
    megapixels once decoded) in a few hundred kilobytes and little memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\xff" * width  # filter byte "none", then the pixels
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path
