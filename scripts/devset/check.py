"""Check a development set: every answerable question's evidence span occurs exactly once in the corpus,
inside the file its question names; every file is accounted for; print the set's vital statistics.

    python scripts/devset/check.py tests/devsets/en            # exit 1 and a list of problems, or 0

Text is extracted independently of the product's parser (lxml for HTML, pdfminer for PDF, the bytes
for text files), whitespace collapsed, so a span is checked against what the document says, not
against what our pipeline happens to make of it.

Spans in Chinese, Japanese or Korean are matched differently: these scripts put no spaces between
words (or, in Korean, spaces a PDF or a man-page line break may drop or add), so a line break inside
a sentence leaves a space where the reader sees none. A CJK span and the corpus are both NFKC-normalised
and stripped of all whitespace before counting; spans without CJK characters are matched as before.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

TYPES = {"paraphrase", "keyword", "pdf", "table", "multi-sentence", "unanswerable"}
SPLITS = {"dev", "test"}
# Hangul Jamo, CJK and Kangxi radicals (Chromium's PDFs map some ideographs to these; NFKC maps them
# back), CJK punctuation, kana, compatibility Jamo, CJK ideographs (+ extension A), Hangul syllables,
# compatibility ideographs, half-width kana.
CJK = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00ad", "")).strip()


def squeeze(text: str) -> str:
    """The form a CJK span is matched in: NFKC, no whitespace at all."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def extract_text(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".html", ".htm"}:
        import lxml.html

        tree = lxml.html.parse(str(path))
        for bad in tree.xpath("//script|//style"):
            bad.drop_tree()
        return normalise(tree.getroot().text_content())
    if suffix == ".pdf":
        from pdfminer.high_level import extract_text as pdf_text

        return normalise(pdf_text(str(path)))
    return normalise(path.read_text(encoding="utf-8", errors="replace"))


def question_files(root: Path) -> list[Path]:
    main = root / "questions.jsonl"
    return [main] if main.exists() else sorted(root.glob("questions.*.jsonl"))


def check(root: Path) -> tuple[list[str], dict[str, object]]:
    docs = root / "docs"
    files = sorted(p for p in docs.rglob("*") if p.is_file())
    texts = {p.relative_to(docs).as_posix(): extract_text(p) for p in files}
    squeezed: dict[str, str] = {}  # filled on the first CJK span
    problems: list[str] = []
    questions = []
    for qfile in question_files(root):
        for number, line in enumerate(qfile.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                questions.append((f"{qfile.name}:{number}", json.loads(line)))
    seen_ids: set[str] = set()
    for where, q in questions:
        qid = q.get("id", "")
        if qid in seen_ids:
            problems.append(f"{where}: duplicate id {qid}")
        seen_ids.add(qid)
        qtype = q.get("type")
        if qtype not in TYPES:
            problems.append(f"{where}: type {qtype!r} is not one of {sorted(TYPES)}")
        if q.get("split") not in SPLITS:
            problems.append(f"{where}: split {q.get('split')!r} is not one of {sorted(SPLITS)}")
        if q.get("unanswerable"):
            if qtype != "unanswerable":
                problems.append(f"{where}: an unanswerable question must have type 'unanswerable'")
            continue
        source = q.get("source", "")
        if source not in texts:
            problems.append(f"{where}: source {source!r} is not a file under docs/")
            continue
        evidence = normalise(q.get("evidence", ""))
        if len(evidence) < 12:
            problems.append(f"{where}: evidence is missing or too short to be unique")
            continue
        if CJK.search(evidence):
            if not squeezed:
                squeezed.update((name, squeeze(text)) for name, text in texts.items())
            haystacks, needle = squeezed, squeeze(evidence)
        else:
            haystacks, needle = texts, evidence
        total = sum(text.count(needle) for text in haystacks.values())
        in_source = haystacks[source].count(needle)
        if in_source != 1 or total != 1:
            problems.append(
                f"{where}: evidence occurs {in_source}x in {source} and {total}x in the corpus "
                f"(must be exactly once, in its source): {evidence[:80]!r}"
            )
        if not q.get("answer"):
            problems.append(f"{where}: answer (a short reference answer) is missing")
    by_type = Counter(str(q.get("type")) for _, q in questions)
    by_split = Counter(str(q.get("split")) for _, q in questions)
    suffixes = Counter(Path(name).suffix.lower() for name in texts)
    stats: dict[str, object] = {
        "files": len(texts),
        "files_by_type": dict(sorted(suffixes.items())),
        "text_chars": sum(len(t) for t in texts.values()),
        "questions": len(questions),
        "questions_by_type": dict(sorted(by_type.items())),
        "questions_by_split": dict(sorted(by_split.items())),
    }
    return problems, stats


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/devsets/en")
    problems, stats = check(root)
    print(json.dumps(stats, indent=2))
    for problem in problems:
        print("PROBLEM", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
