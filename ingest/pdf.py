"""PDF text as unstructured's "fast" strategy reads it, without its layout-model package.

`unstructured.partition.pdf` imports `unstructured-inference` (and through it a CUDA build of torch
and torchvision) even for the fast strategy, which uses none of it: the text comes from pdfminer's
layout analysis, each text box classified by unstructured's text rules (title, list item, narrative)
and sorted into reading order by XY-cut. This module does the same with the parts of `unstructured`
that stand alone, so that a plain `pip install private-rag` reads PDFs.

Not carried over: links from annotations and the values of filled-in form fields (AcroForm widgets).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def pdf_elements(path: Path, languages: list[str] | None = None) -> list[Any]:
    """unstructured elements (Title, NarrativeText, ListItem, ...) with page numbers and coordinates,
    page by page in reading order."""
    from unstructured.partition.utils.constants import SORT_MODE_BASIC, SORT_MODE_XY_CUT
    from unstructured.partition.utils.sorting import sort_page_elements

    _drop_colour_spaces()
    elements: list[Any] = []
    with path.open("rb") as handle:
        for page_elements in _pages(handle, str(path), languages):
            ordered = sort_page_elements(page_elements, SORT_MODE_BASIC)
            elements += sort_page_elements(ordered, SORT_MODE_XY_CUT)
    return elements


def _pages(handle: Any, filename: str, languages: list[str] | None) -> Iterator[list[Any]]:
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
        for box in layout:
            if not hasattr(box, "get_text"):
                continue  # figures and lines: their text, if any, is not part of the flow
            # Deduplicated: some PDFs draw bold text by printing every character twice.
            text, _ = clean_extra_whitespace_with_index_run(get_text_with_deduplication(box, threshold))
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
        yield _join_list_items(page, system)


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
