"""Text from page images by Tesseract OCR: the pages of a PDF that have no usable text layer, and image
files (PNG, JPEG, TIFF; a multi-page TIFF is one page per frame).

Tesseract runs as the `tesseract` command (Debian's `tesseract-ocr` and its language packages), one
page per call, inside the parse sandbox's child process: the file's time budget covers it, and a
worker killed for overrunning takes its tesseract with it. PDF pages are rasterised by poppler's
`pdftoppm`. Nothing here downloads anything: the language models are the installed packages.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import DocumentError

if TYPE_CHECKING:
    from PIL import Image

    from rag.config import Settings

log = logging.getLogger(__name__)

# Resolution a PDF page is rasterised at. Measured (bench/README.md) on 36 pages of the English dev
# set's PDFs: 200 dpi found 98.0% of the text layer's words, 300 dpi 97.8%, for 30% more CPU; also on
# the same pages scanned at 300 dpi and degraded (blur, noise, a slight tilt), and for 7-point type
# and Chinese text, 300 dpi read no more.
DPI = 200
# Pixels handed to Tesseract for one page: an A4 page at 600 dpi (35 MP) still passes; anything
# larger is scaled down first, which bounds Tesseract's memory and time per page (measured: a 34 MP
# page of text took 160 MB and 5 s of CPU, 25 MP of noise 360 MB and 12 s).
MAX_OCR_PIXELS = 36_000_000
# An image with more pixels is refused before it is decoded (its header says its size): decoding a
# 20,000 x 20,000 picture would need 1.2 GB for its colours alone. This is Pillow's own
# decompression-bomb threshold (twice its MAX_IMAGE_PIXELS).
MAX_IMAGE_PIXELS = 178_956_970
_IMAGE_FORMATS = ("PNG", "JPEG", "TIFF")
_INSTALL_HINT = (
    "install tesseract-ocr and its language packages (scripts/setup.sh does, as root: apt-get install "
    "tesseract-ocr tesseract-ocr-eng), or set RAG_OCR=off to skip pages that have no text"
)


@dataclass(frozen=True, slots=True)
class OcrOptions:
    """What the parse sandbox needs of the OCR settings, sent with every file (settings are built once,
    in the parent process)."""

    enabled: bool = True
    languages: str = "eng"  # Tesseract's form: eng+kor
    max_pages: int = 500
    timeout_s: float = 300.0  # the file's whole budget: no one call may outlast it

    @classmethod
    def of(cls, settings: Settings) -> OcrOptions:
        return cls(
            enabled=settings.ocr == "auto",
            languages=settings.ocr_languages,
            max_pages=settings.ocr_max_pages,
            timeout_s=settings.file_timeout_s,
        )


DEFAULT = OcrOptions()  # as the settings' defaults are (tests/ingest/test_ocr.py checks)
OFF = OcrOptions(enabled=False)


# -- one page -------------------------------------------------------------------------------------


# Where page-by-page progress goes while one file is read. The parse worker reads one file at a time
# and sends each report to the process that asked for the file (ingest/sandbox.py), whose progress
# bar shows pages: a long scan is minutes of work on one file.
_page_listener: Callable[[int, int], None] | None = None


def listen_to_pages(listener: Callable[[int, int], None] | None) -> None:
    global _page_listener
    _page_listener = listener


def page_read(done: int, total: int) -> None:
    """``done`` of the ``total`` pages this file needs OCR for are read."""
    if _page_listener is not None:
        _page_listener(done, total)


def ocr_page(image: Path, options: OcrOptions, dpi: int | None = None) -> list[str]:
    """The paragraphs Tesseract reads on one page image, in its reading order. ``dpi``: the image's
    resolution when known (Tesseract otherwise guesses it from the size of the text)."""
    check_available(options)
    command = ["tesseract", str(image), "stdout", "-l", options.languages]
    if dpi:
        command += ["--dpi", str(dpi)]
    tsv = _run([*command, "tsv"], options, "OCR")
    return paragraphs(tsv)


def paragraphs(tsv: str) -> list[str]:
    """Tesseract's TSV (one row per word, numbered by block, paragraph and line) as paragraphs: words
    joined by spaces (none between Chinese or Japanese characters), lines by spaces, except that a
    line ending in a hyphen runs on into the next ("ssh-" "keygen": one word; the hyphen is kept, as a
    real hyphen and a word broken at a line end look the same)."""
    found: dict[tuple[str, str], dict[str, list[str]]] = {}
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue  # level 5 is a word; the other levels are the page, blocks, paragraphs and lines
        lines = found.setdefault((cells[2], cells[3]), {})
        lines.setdefault(cells[4], []).append(cells[11].strip())
    result = []
    for lines in found.values():
        text = ""
        for words in lines.values():
            line = functools.reduce(_join, words)
            text = _join(text, line) if not text.endswith("-") or text.endswith(" -") else text + line
        if text:
            result.append(text)
    return result


# Han, Hiragana, Katakana, CJK punctuation and full-width forms: scripts written without spaces, which
# Tesseract nevertheless splits into "words". Hangul is written with spaces.
_UNSPACED = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def _join(left: str, right: str) -> str:
    if not left:
        return right
    if _UNSPACED.match(left[-1]) and _UNSPACED.match(right[0]):
        return left + right
    return f"{left} {right}"


# -- PDF pages ------------------------------------------------------------------------------------


def rasterise(
    pdf: Path, page: int, width_pt: float, height_pt: float, folder: Path, options: OcrOptions
) -> tuple[Path, int]:
    """Page ``page`` of ``pdf`` as a greyscale image at DPI (less for a page so large that it would
    exceed MAX_OCR_PIXELS); returns the image and its resolution."""
    if shutil.which("pdftoppm") is None:
        raise DocumentError(
            "This PDF has pages without a text layer, which are read by OCR after pdftoppm renders them, "
            "and pdftoppm is not installed: install poppler-utils (scripts/setup.sh does, as root)."
        )
    area_in2 = max(width_pt, 1.0) * max(height_pt, 1.0) / 72**2
    dpi = max(min(DPI, int(math.sqrt(MAX_OCR_PIXELS / area_in2))), 1)
    stem = folder / f"page-{page}"
    pages = ["-f", str(page), "-l", str(page)]
    _run(
        ["pdftoppm", "-r", str(dpi), "-gray", *pages, "-singlefile", str(pdf), str(stem)],
        options,
        f"Rendering page {page}",
    )
    return stem.with_suffix(".pgm"), dpi


# -- image files ----------------------------------------------------------------------------------


def image_pages(path: Path, options: OcrOptions, folder: Path) -> Iterator[tuple[int, int, Path, int | None]]:
    """Each frame of an image file (a multi-page TIFF has several) as a greyscale image Tesseract reads
    well, one at a time: (its number from 1, the number of frames, the image, its resolution if
    known). Transparency goes on white, a photo is turned upright as its orientation tag says, and a
    frame is scaled down to MAX_OCR_PIXELS. A damaged, oversized or many-framed file is a
    DocumentError before any frame is decoded."""
    from PIL import Image, UnidentifiedImageError

    # Pillow refuses twice this many pixels as it opens a file (the first frame), before decoding it;
    # _check_size does the same for every frame.
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS // 2
    try:
        with Image.open(path, formats=_IMAGE_FORMATS) as image:
            frames = _frame_count(image, options.max_pages)
            for index in range(frames):
                image.seek(index)
                _check_size(image, index, frames)
                prepared, dpi = _prepared(image)
                out = folder / f"frame-{index + 1}.pgm"
                prepared.save(out, "PPM")
                yield index + 1, frames, out, dpi
    except DocumentError:
        raise
    except UnidentifiedImageError as exc:
        raise DocumentError(
            "The image cannot be read: it is damaged, or not a PNG, JPEG or TIFF file (was it renamed?)."
        ) from exc
    except Image.DecompressionBombError as exc:
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" ({int(pixels.group(1)) / 1e6:,.0f} megapixels)" if pixels else ""
        raise DocumentError(f"The image{size} is {_TOO_LARGE}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # Pillow's ways of saying "damaged"
        raise DocumentError(f"The image is damaged and cannot be read ({_short(exc)}).") from exc


def _frame_count(image: Image.Image, max_pages: int) -> int:
    """Frames, counted from the file's directory without decoding any; more than ``max_pages`` is
    refused here rather than after hours of OCR."""
    count = 1
    while count <= max_pages:
        try:
            image.seek(count)
        except EOFError:
            break
        count += 1
    if count > max_pages:
        raise DocumentError(
            f"The image has more than {max_pages} pages to OCR (RAG_OCR_MAX_PAGES): split it, or raise "
            "the limit (and RAG_FILE_TIMEOUT_S)."
        )
    image.seek(0)
    return count


def _check_size(image: Image.Image, index: int, frames: int) -> None:
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        which = f"Page {index + 1} of the image" if frames > 1 else "The image"
        raise DocumentError(
            f"{which} is {width:,} x {height:,} pixels ({width * height / 1e6:,.0f} megapixels): {_TOO_LARGE}"
        )


_TOO_LARGE = (
    f"more than the {MAX_IMAGE_PIXELS / 1e6:,.0f} megapixels that are read safely. Scale it down (a page "
    "scanned at 300 dpi is about 9 megapixels) and add it again."
)


def _prepared(image: Image.Image) -> tuple[Image.Image, int | None]:
    from PIL import Image, ImageOps

    dpi_info = image.info.get("dpi")
    dpi = float(dpi_info[0]) if dpi_info and float(dpi_info[0]) >= 50 else None
    pixels = image.width * image.height
    scale = min(1.0, math.sqrt(MAX_OCR_PIXELS / pixels))
    target = (max(int(image.width * scale), 1), max(int(image.height * scale), 1))
    if scale < 1 and image.format == "JPEG":
        image.draft("L", target)  # the JPEG decoder scales down as it decodes: less memory, less time
    frame = ImageOps.exif_transpose(image)
    if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
        background = Image.new("RGBA", frame.size, "white")
        frame = Image.alpha_composite(background, frame.convert("RGBA"))
    elif frame.mode.startswith("I"):  # 16- and 32-bit greyscale: to 8 bits by scaling, not clipping
        frame = frame.convert("I").point(lambda value: value * (1 / 256))
    frame = frame.convert("L")
    if frame.width * frame.height > MAX_OCR_PIXELS:
        shrink = math.sqrt(MAX_OCR_PIXELS / (frame.width * frame.height))
        frame = frame.resize(
            (max(int(frame.width * shrink), 1), max(int(frame.height * shrink), 1)),
            Image.Resampling.BILINEAR,
            reducing_gap=2.0,
        )
    if scale < 1:
        log.info(
            "image of %.0f megapixels scaled down to %.0f for OCR",
            pixels / 1e6,
            frame.width * frame.height / 1e6,
        )
    # The resolution of what Tesseract gets: the file's, times however much it was scaled down.
    return frame, round(dpi * math.sqrt(frame.width * frame.height / pixels)) if dpi else None


# -- the commands ---------------------------------------------------------------------------------


def check_available(options: OcrOptions, subject: str = "This file needs OCR") -> None:
    """DocumentError, saying what to install, when tesseract or one of RAG_OCR_LANGUAGES is missing."""
    installed = _installed_languages()
    if installed is None:
        raise DocumentError(f"{subject}, but Tesseract is not installed: {_INSTALL_HINT}.")
    missing = [lang for lang in options.languages.split("+") if lang not in installed]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang.lower().replace('_', '-')}" for lang in missing)
        raise DocumentError(
            f"{subject} in {', '.join(missing)} (RAG_OCR_LANGUAGES), which is not installed: "
            f"apt-get install {packages}, or change RAG_OCR_LANGUAGES (installed: "
            f"{'+'.join(sorted(installed)) or 'none'})."
        )


@functools.cache
def _installed_languages() -> frozenset[str] | None:
    """The language models tesseract has; None when there is no tesseract (asked once per process)."""
    if shutil.which("tesseract") is None:
        return None
    try:
        listed = subprocess.run(
            ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    # The first line names the folder; "osd" is orientation detection, not a language.
    return frozenset(
        line.strip() for line in listed.stdout.splitlines()[1:] if line.strip() not in ("", "osd")
    )


def _run(command: list[str], options: OcrOptions, what: str) -> str:
    env = {
        **os.environ,
        # One thread per call: the parse pool already runs one file per core.
        "OMP_THREAD_LIMIT": "1",
    }
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=options.timeout_s,
            env=env,
            check=False,
            preexec_fn=_die_with_parent(),
        )
    except subprocess.TimeoutExpired as exc:
        raise DocumentError(
            f"{what} took longer than {options.timeout_s:g} s (RAG_FILE_TIMEOUT_S): the file was skipped."
        ) from exc
    except OSError as exc:
        raise DocumentError(f"{what} could not start ({_short(exc)}).") from exc
    if done.returncode != 0:
        log.debug("%s failed: %s", command[0], done.stderr)
        message = _last_error(done.stderr)
        raise DocumentError(f"{what} failed{': ' + message if message else ''}.")
    return done.stdout


def _die_with_parent() -> Callable[[], None] | None:
    """A kill of the parse worker (over its time budget, or at shutdown) must take its tesseract along,
    or the core stays busy with a file nobody waits for: Linux sends the child SIGKILL when its parent
    dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def arm() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)

    return arm


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [""])[-1][:200]


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else exc.__class__.__name__


def elements(paragraphs_: list[str], page: int | None, filename: str) -> list[Any]:
    """unstructured elements (Title, NarrativeText, ListItem, ...) for OCR'd paragraphs, so that they go
    through the same heading and boilerplate rules as a text layer's."""
    from unstructured.documents.elements import ElementMetadata
    from unstructured.partition.text import element_from_text

    result = []
    for text in paragraphs_:
        element = element_from_text(text)
        element.metadata = ElementMetadata(filename=filename, page_number=page)
        result.append(element)
    return result


def image_elements(path: Path, options: OcrOptions) -> list[Any]:
    """An image file's text, page by page (one page per TIFF frame; a single picture has no page
    number). Frames are prepared and read one at a time: a long TIFF never sits on disk decoded."""
    if not options.enabled:
        raise DocumentError(
            "Images are read by OCR, which is off (RAG_OCR=off): set RAG_OCR=auto to ingest them."
        )
    result: list[Any] = []  # a damaged image says so even where Tesseract is missing: ocr_page checks
    with tempfile.TemporaryDirectory(prefix="rag-ocr-") as folder:
        for done, (number, frames, image, dpi) in enumerate(image_pages(path, options, Path(folder)), 1):
            result += elements(ocr_page(image, options, dpi), number if frames > 1 else None, str(path))
            image.unlink()
            page_read(done, frames)
    return result
