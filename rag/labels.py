"""How a passage's place in its document is written for people: one wording for the prompt, the
refusal message, the CLI and the OpenAI-compatible answer."""

from __future__ import annotations

from pathlib import Path


def file_name(source: str) -> str:
    return Path(source).name


def place(
    name: str, page: int | None, section: str | None = None, *, section_prefix: str = "", ocr: bool = False
) -> str:
    """``"handbook.pdf, page 2, 3. Annual leave"``: the name, then the page and section it has;
    ``"scan.pdf, page 2 (OCR)"`` for text read from a page image, which may hold misread words."""
    parts = [name]
    if page is not None:
        parts.append(f"page {page}")
    if ocr:
        parts[-1] += " (OCR)"
    if section:
        parts.append(f"{section_prefix}{section}")
    return ", ".join(parts)


def printable(text: str, limit: int | None = None) -> str:
    """``text`` safe to show on a terminal or in a log: control characters (an ANSI escape in a file
    name) and bytes that are not UTF-8 escaped, optionally cut to ``limit`` characters."""
    cut = text if limit is None else text[:limit]
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)
    shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")
    return shown + ("..." if limit is not None and len(text) > limit else "")
