"""A generated company corpus for the ingest benchmark: N documents in the formats people drop in.

Deterministic (seeded), so two runs ingest the same bytes. Text is English-like prose built from a
fixed vocabulary, with headings, so parsing and chunking do the work they do on real files.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

FORMATS = ("md", "txt", "html", "docx", "pdf", "csv")
_TOPICS = (
    "onboarding", "security", "travel", "expenses", "procurement", "warranty", "shipping", "support",
    "privacy", "holidays", "payroll", "hardware", "calibration", "returns", "training", "safety",
)  # fmt: skip
_PROSE = (
    "the team reviews every request before the end of the month and records the outcome in the system "
    "customers receive a confirmation with the reference number and the expected delivery date while "
    "managers approve costs above the agreed limit and finance checks the invoice against the order "
    "engineers calibrate each instrument twice a year using certified reference weights and log the "
    "result staff book travel through the portal at least three weeks ahead and choose economy fares "
    "unless the flight is longer than six hours the warranty covers parts and labour for two years "
    "after shipment except damage caused by misuse or unauthorised repair the service desk answers "
    "within four business hours and escalates urgent incidents to the on call engineer"
)
_WORDS = tuple(_PROSE.split())


def _sentence(rng: random.Random, topic: str) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(12, 22))]
    words.insert(rng.randrange(len(words)), topic)
    words.insert(rng.randrange(len(words)), str(rng.randint(2, 9800)))
    return " ".join(words).capitalize() + "."


def _sections(rng: random.Random, topic: str, words: int) -> list[tuple[str, list[str]]]:
    sections: list[tuple[str, list[str]]] = []
    written = 0
    while written < words:
        heading = f"{topic.capitalize()} {rng.choice(['policy', 'process', 'rules', 'overview', 'details'])}"
        paragraphs = [" ".join(_sentence(rng, topic) for _ in range(rng.randint(3, 5))) for _ in range(3)]
        written += sum(len(p.split()) for p in paragraphs)
        sections.append((f"{heading} {len(sections) + 1}", paragraphs))
    return sections


def generate(root: Path, documents: int, words_per_document: int = 1200, seed: int = 7) -> list[Path]:
    """Write ``documents`` files under ``root``, cycling through FORMATS; returns their paths."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(documents):
        kind = FORMATS[i % len(FORMATS)]
        topic = _TOPICS[i % len(_TOPICS)]
        path = root / f"{topic}-{i:04d}.{kind}"
        sections = _sections(rng, topic, words_per_document)
        _WRITERS[kind](path, topic, sections, rng)
        paths.append(path)
    return paths


Sections = list[tuple[str, list[str]]]


def _markdown(path: Path, topic: str, sections: Sections, rng: random.Random) -> None:
    body = "\n\n".join(f"## {h}\n\n" + "\n\n".join(ps) for h, ps in sections)
    path.write_text(f"# {topic.capitalize()} handbook\n\n{body}\n", encoding="utf-8")


def _text(path: Path, topic: str, sections: Sections, rng: random.Random) -> None:
    body = "\n\n".join(f"{h.upper()}\n\n" + "\n\n".join(ps) for h, ps in sections)
    path.write_text(body + "\n", encoding="utf-8")


def _html(path: Path, topic: str, sections: Sections, rng: random.Random) -> None:
    body = "".join(f"<h2>{h}</h2>" + "".join(f"<p>{p}</p>" for p in ps) for h, ps in sections)
    path.write_text(f"<html><head><title>{topic}</title></head><body><h1>{topic}</h1>{body}</body></html>")


def _docx(path: Path, topic: str, sections: Sections, rng: random.Random) -> None:
    import docx

    document = docx.Document()
    document.add_heading(f"{topic.capitalize()} guide", level=1)
    for heading, paragraphs in sections:
        document.add_heading(heading, level=2)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    document.save(str(path))


def _pdf(path: Path, topic: str, sections: Sections, rng: random.Random) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for heading, paragraphs in sections:
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=14)
        pdf.multi_cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    pdf.output(str(path))


def _csv(path: Path, topic: str, sections: Sections, rng: random.Random) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "owner", "limit", "notes"])
        for heading, paragraphs in sections:
            for paragraph in paragraphs:
                writer.writerow(
                    [heading, rng.choice(["finance", "it", "hr"]), rng.randint(10, 5000), paragraph[:240]]
                )


_WRITERS = {"md": _markdown, "txt": _text, "html": _html, "docx": _docx, "pdf": _pdf, "csv": _csv}
