"""Build a scanned copy of a dev set: every PDF replaced by an image-only PDF of its pages, as a
scanner makes them (poppler's pdftoppm at 300 dpi, greyscale, JPEG pictures in a PDF written by
Pillow: no text layer), every other file and the questions as they are (names do not change, so the
questions' `source` paths hold). Beside it, `pdf-questions/questions.jsonl`: only the questions whose
source is a PDF, to score the original and the scanned copy on the same questions.

    .venv/bin/python scripts/devset/build_scanned.py     # tests/devsets/en -> build/devsets/en-scanned
    .venv/bin/python scripts/devset/build_scanned.py SRC_SET OUT_DIR

Then, with the same embedding cache for both (bench/README.md has the numbers):

    rag eval build/devsets/en-scanned/pdf-questions --docs tests/devsets/en/docs --no-answers \
        --embedding-cache build/eval-cache-ocr.sqlite
    rag eval build/devsets/en-scanned/pdf-questions --docs build/devsets/en-scanned/docs --no-answers \
        --embedding-cache build/eval-cache-ocr.sqlite

The copy is large (about 0.5 MB a page) and rebuilt in a minute or two, so it lives in build/, not in
the repository. Needs poppler-utils (scripts/setup.sh installs it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SCAN_DPI = 300  # what office scanners default to for documents
JPEG_QUALITY = 75


def scan(pdf: Path, out: Path) -> int:
    """``pdf`` as an image-only PDF; returns its number of pages."""
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["pdftoppm", "-r", str(SCAN_DPI), "-gray", str(pdf), f"{folder}/page"], check=True)
        pages = sorted(Path(folder).glob("page-*.pgm"))
        images = [Image.open(page) for page in pages]
        images[0].save(
            out, "PDF", save_all=True, append_images=images[1:], resolution=SCAN_DPI, quality=JPEG_QUALITY
        )
        for image in images:
            image.close()
    left = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    if left.strip():
        raise SystemExit(f"{out} still has a text layer")
    return len(pages)


def build(source: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source / "docs", out / "docs")
    pages = 0
    pdfs = sorted((out / "docs").rglob("*.pdf"))
    for pdf in pdfs:
        pages += scan(source / "docs" / pdf.relative_to(out / "docs"), pdf)
        print(f"scanned {pdf.relative_to(out)}", file=sys.stderr)
    shutil.copy2(source / "questions.jsonl", out / "questions.jsonl")
    lines = (source / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    on_pdfs = [
        line for line in lines if line.strip() and str(json.loads(line).get("source", "")).endswith(".pdf")
    ]
    (out / "pdf-questions").mkdir()
    (out / "pdf-questions" / "questions.jsonl").write_text("\n".join(on_pdfs) + "\n", encoding="utf-8")
    print(f"{len(pdfs)} PDFs ({pages} pages) scanned; {len(on_pdfs)} questions on PDFs", file=sys.stderr)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    build(
        Path(arguments[0]) if arguments else ROOT / "tests" / "devsets" / "en",
        Path(arguments[1]) if len(arguments) > 1 else ROOT / "build" / "devsets" / "en-scanned",
    )
