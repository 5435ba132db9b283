"""How a passage's place in its document is written for people: one wording for the prompt, the
refusal message, the CLI and the OpenAI-compatible answer."""

from __future__ import annotations

from pathlib import Path


def file_name(source: str) -> str:
    return Path(source).name


def place(name: str, page: int | None, section: str | None = None, *, section_prefix: str = "") -> str:
    """``"handbook.pdf, page 2, 3. Annual leave"``: the name, then the page and section it has."""
    parts = [name]
    if page is not None:
        parts.append(f"page {page}")
    if section:
        parts.append(f"{section_prefix}{section}")
    return ", ".join(parts)
