"""PDF text as unstructured's "fast" strategy reads it, without its layout-model package.

`unstructured.partition.pdf` imports `unstructured-inference` (and through it a CUDA build of torch
and torchvision) even for the fast strategy, which uses none of it: the text comes from pdfminer's
layout analysis, each text box classified by unstructured's text rules (title, list item, narrative)
and sorted into reading order by XY-cut. This module does the same with the parts of `unstructured`
that stand alone, so that a plain `pip install private-rag` reads PDFs.

A page whose text layer is missing or unreadable (a scan) is read by OCR instead (ingest/ocr.py); every
other page as before.

Not carried over: links from annotations and the values of filled-in form fields (AcroForm widgets).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ingest.ocr as ocr
from rag.errors import DocumentError

# Some PDFs carry an ICC colour space pdfminer cannot read; colours are not needed for text, so the
# page's colour spaces are dropped before pdfminer looks at them (as unstructured does on import).
_PATCHED = False


def _drop_colour_spaces() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from pdfminer.pdfinterp import PDFPageInterpreter

    original = PDFPageInterpreter.init_resources

    def init_resources(self: PDFPageInterpreter, resources: Any) -> None:
        if isinstance(resources, dict) and "ColorSpace" in resources:
            resources = {k: v for k, v in resources.items() if k != "ColorSpace"}
        original(self, resources)

    PDFPageInterpreter.init_resources = init_resources  # type: ignore[method-assign]
    _PATCHED = True


def pdf_elements(
    path: Path, languages: list[str] | None = None, options: ocr.OcrOptions = ocr.OFF
) -> tuple[list[Any], set[int]]:
    """unstructured elements (Title, NarrativeText, ListItem, ...) with page numbers and coordinates,
    page by page in reading order; and the numbers of the pages whose text OCR read (``options``
    enabled: those without a usable text layer)."""
    from unstructured.partition.utils.constants import SORT_MODE_BASIC, SORT_MODE_XY_CUT
    from unstructured.partition.utils.sorting import sort_page_elements

    _drop_colour_spaces()
    pages: list[_Page] = []
    with path.open("rb") as handle:
        for page in _pages(handle, str(path), languages, judge=options.enabled):
            ordered = sort_page_elements(page.elements, SORT_MODE_BASIC)
            page.elements = sort_page_elements(ordered, SORT_MODE_XY_CUT)
            pages.append(page)
    read = _read_scanned_pages(path, pages, options) if options.enabled else set()
    return [element for page in pages for element in page.elements], read


# -- does a page need OCR? ------------------------------------------------------------------------

# Characters no reader can use: the replacement character, private-use code points (glyphs of a font
# without a Unicode map), control characters; pdfminer writes a glyph it cannot map as "(cid:N)".
_UNREADABLE = re.compile(r"\(cid:\d+\)|[\ufffd\ue000-\uf8ff\U000f0000-\U0010ffff\x00-\x08\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")
# A scanned page's text layer is at most a stamped page number, a date, a scanner's footer; a page of
# real text has hundreds of characters.
_FEW_CHARACTERS = 50
# A text layer in which this share of the characters is unreadable is no better than none.
_UNREADABLE_SHARE = 0.3
# The share of the page that pictures cover for a page with a few characters to count as a scan.
_SCAN_IMAGE_SHARE = 0.5
# A page without text is read when pictures cover this share of it, or when this many shapes are drawn
# on it (text drawn as outlines); not for a web page's header bar or a rule (the dev set's Chromium
# PDFs end on such a page: 18 shapes, no picture), nor a blank page.
_PICTURE_SHARE = 0.1
_MANY_SHAPES = 100


@dataclass(slots=True)
class TextLayer:
    """What a page's text layer holds, counted as the page is read."""

    readable: int = 0  # characters other than white space that are not unreadable
    unreadable: int = 0
    image_area: float = 0.0  # points squared covered by pictures (overlaps counted twice)
    shapes: int = 0  # lines, curves and rectangles, and characters drawn inside figures

    def add_text(self, text: str) -> None:
        unreadable = len(_UNREADABLE.findall(text))
        self.unreadable += unreadable
        self.readable += len(_SPACE.sub("", _UNREADABLE.sub("", text)))

    def needs_ocr(self, page_area: float) -> bool:
        """No text but a picture or many shapes; mostly unreadable characters; or a few characters on
        a page that is mostly picture (a scan with a stamped page number)."""
        total = self.readable + self.unreadable
        if total == 0:
            return self.image_area >= _PICTURE_SHARE * page_area or self.shapes >= _MANY_SHAPES
        if self.unreadable > _UNREADABLE_SHARE * total:
            return True
        return self.readable < _FEW_CHARACTERS and self.image_area >= _SCAN_IMAGE_SHARE * page_area


@dataclass(slots=True)
class _Page:
    number: int
    width: float  # points
    height: float
    elements: list[Any]
    layer: TextLayer = field(default_factory=TextLayer)

    @property
    def needs_ocr(self) -> bool:
        return self.layer.needs_ocr(self.width * self.height)


def _measure_drawing(box: Any, layer: TextLayer) -> None:
    """Pictures and shapes: the area pictures cover and how many shapes are drawn (a figure may hold
    pictures, shapes and characters of its own)."""
    from pdfminer.layout import LTChar, LTCurve, LTFigure, LTImage

    if isinstance(box, LTImage):
        layer.image_area += max(box.width, 0) * max(box.height, 0)
    elif isinstance(box, LTFigure):
        for child in box:
            _measure_drawing(child, layer)
    elif isinstance(box, (LTCurve, LTChar)):
        layer.shapes += 1


def _read_scanned_pages(path: Path, pages: list[_Page], options: ocr.OcrOptions) -> set[int]:
    """OCR every page that needs it, one at a time; its OCR text replaces the text layer when it reads
    more characters (a page of only a title stays as it was)."""
    scanned = [page for page in pages if page.needs_ocr]
    if not scanned:
        return set()
    which = f"{len(scanned)} of this PDF's {len(pages)} pages have" if len(pages) > 1 else "This PDF has"
    if len(scanned) > options.max_pages:
        raise DocumentError(
            f"{which} no usable text layer: {len(scanned)} pages to OCR are more than RAG_OCR_MAX_PAGES "
            f"({options.max_pages}). Split the file, or raise the limit (and RAG_FILE_TIMEOUT_S)."
        )
    ocr.check_available(options, f"{which} no usable text layer and need{'s' if len(pages) == 1 else ''} OCR")
    read: set[int] = set()
    with tempfile.TemporaryDirectory(prefix="rag-ocr-") as folder:
        for done, page in enumerate(scanned, start=1):
            image, dpi = ocr.rasterise(path, page.number, page.width, page.height, Path(folder), options)
            elements = ocr.elements(ocr.ocr_page(image, options, dpi), page.number, str(path))
            image.unlink()
            found = TextLayer()
            for element in elements:
                found.add_text(element.text)
            if found.readable > page.layer.readable:
                page.elements = elements
                read.add(page.number)
            ocr.page_read(done, len(scanned))
    return read


# -- the text layer -------------------------------------------------------------------------------


def _pages(handle: Any, filename: str, languages: list[str] | None, judge: bool) -> Iterator[_Page]:
    from unstructured.cleaners.core import clean_extra_whitespace_with_index_run
    from unstructured.documents.coordinates import PixelSpace
    from unstructured.documents.elements import CoordinatesMetadata, ElementMetadata
    from unstructured.partition.pdf_image.pdfminer_utils import (
        get_text_with_deduplication,
        open_pdfminer_pages_generator,
        rect_to_bbox,
    )
    from unstructured.partition.text import element_from_text
    from unstructured.partition.utils.config import env_config

    threshold = env_config.PDF_CHAR_DUPLICATE_THRESHOLD
    for number, (_page, layout) in enumerate(open_pdfminer_pages_generator(handle), start=1):
        system = PixelSpace(width=layout.width, height=layout.height)
        page: list[Any] = []
        layer = TextLayer()
        for box in layout:
            if not hasattr(box, "get_text"):
                if judge:
                    _measure_drawing(box, layer)
                continue  # figures and lines: their text, if any, is not part of the flow
            # Deduplicated: some PDFs draw bold text by printing every character twice.
            raw = get_text_with_deduplication(box, threshold)
            if judge:
                layer.add_text(raw)
            text, _ = clean_extra_whitespace_with_index_run(raw)
            if not text.strip():
                continue
            x1, y1, x2, y2 = rect_to_bbox(box.bbox, layout.height)
            points = ((x1, y1), (x1, y2), (x2, y2), (x2, y1))
            element = element_from_text(text, coordinates=points, coordinate_system=system)
            element.metadata = ElementMetadata(
                filename=filename,
                page_number=number,
                coordinates=CoordinatesMetadata(points=points, system=system),
                languages=languages,
            )
            page.append(element)
        yield _Page(number, layout.width, layout.height, _join_list_items(page, system), layer)


def _join_list_items(elements: list[Any], system: Any) -> list[Any]:
    """A list item's text that pdfminer put in boxes of its own (a bullet and its text drawn apart, a
    wrapped line) joins the item: boxes close below it and not left of it, as unstructured judges them.
    Unlike unstructured 0.27, which keeps only the last of several continuations, all of them stay."""
    from unstructured.documents.elements import CoordinatesMetadata, ListItem

    joined: list[Any] = []
    item: Any = None
    bounds: Any = None  # the list item's own box, before any continuation widened it
    for element in elements:
        if isinstance(element, ListItem):
            coordinates: Any = element.metadata.coordinates  # always set by _pages
            item, bounds = element, coordinates.points
        elif item is not None and joined and joined[-1] is item and _continues(element, bounds):
            item.text = f"{item.text} {element.text}"
            (ax, ay), (bx, by) = item.metadata.coordinates.points[0], element.metadata.coordinates.points[0]
            x2 = max(item.metadata.coordinates.points[2][0], element.metadata.coordinates.points[2][0])
            y2 = max(item.metadata.coordinates.points[1][1], element.metadata.coordinates.points[1][1])
            x1, y1 = min(ax, bx), min(ay, by)
            item.metadata.coordinates = CoordinatesMetadata(
                points=((x1, y1), (x1, y2), (x2, y2), (x2, y1)), system=system
            )
            continue
        joined.append(element)
    return joined


def _continues(element: Any, bounds: Any) -> bool:
    """unstructured's check_coords_within_boundary: within 20% of the item's width to either side, not
    left of it, and starting within 30% of its height of its top or bottom."""
    (x_min, y_min), (_, y_max), (x_max, _) = bounds[0], bounds[1], bounds[2]
    width, height = x_max - x_min, y_max - y_min
    (left, top), right = element.metadata.coordinates.points[0], element.metadata.coordinates.points[2][0]
    x_ok = x_min - 0.2 * width < left and right < x_max + 0.2 * width and left >= x_min
    y_ok = y_min - 0.3 * height < top < y_max + 0.3 * height
    return bool(x_ok and y_ok)
