"""OCR of scanned PDF pages and images, with the real Tesseract and pdftoppm (Debian packages that
scripts/setup.sh installs): which pages are read, what comes out, and every way an image can be bad."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from support.fakes import HashingEmbedder
from support.scans import (
    image_pdf,
    mixed_pdf,
    page_images,
    require_ocr_tools,
    scanned_copy,
    single_colour_png,
    text_pdf,
)

import ingest.ocr as ocr
from ingest.ocr import DEFAULT, OFF, OcrOptions
from ingest.parse import ParsedDocument, parse_file
from ingest.pdf import TextLayer
from ingest.service import IngestService
from rag.config import Settings
from rag.errors import DocumentError, EmptyDocumentError
from rag.knowledge_base import KnowledgeBase

FLEET = [
    "Fleet maintenance policy",
    "Every delivery van is inspected by the workshop in Kettering every ninety days, and the tyre "
    "pressure is logged on the inspection sheet.",
]
INVOICES = [
    "Supplier invoices",
    "Invoices from the glazing contractor Brightpane are approved by the facilities manager and paid "
    "within thirty days of receipt.",
]
BADGES = [
    "Visitor badges",
    "Visitors collect a yellow badge at the reception desk and return it when they leave the building.",
]


@pytest.fixture(name="tools")
def tools_fixture() -> None:
    require_ocr_tools()


@pytest.fixture(name="ocr_calls")
def ocr_calls_fixture(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The images Tesseract was run on: the real ocr_page, counted on its way through."""
    calls: list[Path] = []
    real: Callable[..., list[str]] = ocr.ocr_page

    def counted(image: Path, *args: Any, **kwargs: Any) -> list[str]:
        calls.append(image)
        return real(image, *args, **kwargs)

    monkeypatch.setattr(ocr, "ocr_page", counted)
    return calls


def words(text: str) -> set[str]:
    return {w.strip(".,").lower() for w in text.split()}


def text_of(doc: ParsedDocument, page: int | None = None) -> str:
    """The words on a page: its blocks and their headings (a short line may be either)."""
    return " ".join(" ".join((*b.section, b.text)) for b in doc.blocks if page is None or b.page == page)


# -- the settings ---------------------------------------------------------------------------------


def test_default_options_are_the_settings_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert OcrOptions.of(settings) == DEFAULT
    off = OcrOptions.of(settings.model_copy(update={"ocr": "off"}))
    assert not off.enabled


# -- which pages are read -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "image_share", "shapes", "expected"),
    [
        ("", 0.0, 0, False),  # a blank page: nothing to read
        ("", 0.0, 18, False),  # a web page's header bar, printed on a page of its own
        ("", 0.95, 0, True),  # a scan: a picture and no text
        ("", 0.3, 0, True),  # a receipt pasted onto a page
        ("", 0.0, 2500, True),  # letters drawn as outlines
        ("Page 3", 0.95, 0, True),  # a scanner's page number over a scan
        ("Page 3", 0.0, 0, False),  # a page that says only that: read as it is
        ("Figure 2: the assembly line in Kettering, seen from the gallery", 0.9, 0, False),
        ("(cid:12)(cid:7)(cid:44)(cid:9) " * 20, 0.0, 0, True),  # glyphs without a Unicode map
        ("\ufffd\ufffd\ufffd ab \ufffd\ufffd" * 30, 0.0, 0, True),  # replacement characters
        ("\ue001\ue002\ue003 abc" * 30, 0.0, 0, True),  # private-use glyphs
        ("The workshop inspects every van. \ufffd" * 30, 0.0, 0, False),  # a stray one
        ("The workshop inspects every van every ninety days. " * 20, 0.0, 0, False),
    ],
)
def test_a_page_is_read_by_ocr_when_its_text_layer_is_missing_or_unreadable(
    text: str, image_share: float, shapes: int, expected: bool
) -> None:
    layer = TextLayer(image_area=image_share * 600 * 800, shapes=shapes)
    layer.add_text(text)
    assert layer.needs_ocr(600 * 800) is expected


def test_tesseract_words_become_paragraphs() -> None:
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        ("5", "1", "1", "1", "1", "The"),
        ("5", "1", "1", "1", "2", "work-"),
        ("5", "1", "1", "1", "3", ""),  # Tesseract's empty word
        ("5", "1", "1", "2", "1", "shop"),
        ("5", "1", "1", "2", "2", "opens."),
        ("4", "1", "1", "2", "0", ""),  # a line's own row
        ("5", "1", "2", "1", "1", "公司的"),
        ("5", "1", "2", "1", "2", "网关"),
        ("5", "1", "2", "1", "3", "VPN"),
        ("5", "2", "1", "1", "1", "게이트웨이는"),
        ("5", "2", "1", "1", "2", "열려"),
    ]
    tsv = "\n".join(
        [header]
        + [
            f"{level}\t1\t{b}\t{p}\t{line}\t{w}\t0\t0\t10\t10\t90\t{text}"
            for level, b, p, line, w, text in rows
        ]
    )
    assert ocr.paragraphs(tsv) == ["The work-shop opens.", "公司的网关 VPN", "게이트웨이는 열려"]


# -- PDFs -----------------------------------------------------------------------------------------


@pytest.mark.slow  # Tesseract on several pages
def test_a_mixed_pdf_ocrs_only_its_scanned_pages(tools: None, tmp_path: Path, ocr_calls: list[Path]) -> None:
    original = text_pdf(tmp_path / "original.pdf", [FLEET, INVOICES, BADGES])
    mixed = mixed_pdf(original, tmp_path / "mixed.pdf", scanned={2})

    doc = parse_file(mixed)

    assert len(ocr_calls) == 1  # page 2, the only one without a text layer
    assert {b.page for b in doc.blocks if b.ocr} == {2}
    assert {b.page for b in doc.blocks if not b.ocr} == {1, 3}
    assert {"glazing", "brightpane", "thirty"} <= words(text_of(doc, 2))
    # The text pages are exactly what the text layer says.
    assert text_of(doc, 1) == text_of(parse_file(original), 1)


def test_a_text_pdf_runs_no_ocr_and_parses_as_before(tmp_path: Path, ocr_calls: list[Path]) -> None:
    original = text_pdf(tmp_path / "original.pdf", [FLEET, INVOICES, BADGES])
    handbook = Path(__file__).resolve().parents[2] / "sample_docs" / "employee_handbook.pdf"
    for path in (original, handbook):
        assert parse_file(path, DEFAULT) == parse_file(path, OFF)
    assert ocr_calls == []


@pytest.mark.slow  # Tesseract on several pages
def test_ocr_keeps_page_numbers(tools: None, tmp_path: Path) -> None:
    original = text_pdf(tmp_path / "original.pdf", [FLEET, INVOICES, BADGES])
    scanned = scanned_copy(original, tmp_path / "scanned.pdf")

    text, read = parse_file(original), parse_file(scanned)

    assert all(b.ocr for b in read.blocks) and not any(b.ocr for b in text.blocks)
    for page in (1, 2, 3):
        expected = words(text_of(text, page))
        assert len(words(text_of(read, page)) & expected) >= 0.9 * len(expected), page


def test_a_scanned_pdf_without_tesseract_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned = image_pdf([Image.new("L", (400, 500), 255)], tmp_path / "scan.pdf")
    monkeypatch.setattr(ocr, "_installed_languages", lambda: None)

    with pytest.raises(DocumentError) as excinfo:
        parse_file(scanned)

    assert excinfo.value.message.startswith(
        "This PDF has no usable text layer and needs OCR, but Tesseract is not installed: install "
        "tesseract-ocr and its language packages (scripts/setup.sh does"
    )


def test_a_language_that_is_not_installed_is_named_with_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned = image_pdf([Image.new("L", (400, 500), 255)], tmp_path / "scan.pdf")
    monkeypatch.setattr(ocr, "_installed_languages", lambda: frozenset({"eng"}))

    with pytest.raises(DocumentError) as excinfo:
        parse_file(scanned, OcrOptions(languages="eng+chi_sim"))

    assert (
        "in chi_sim (RAG_OCR_LANGUAGES), which is not installed: apt-get install tesseract-ocr-chi-sim"
        in (excinfo.value.message)
    )


def test_with_ocr_off_a_scan_is_empty_and_says_so(tmp_path: Path, ocr_calls: list[Path]) -> None:
    scanned = image_pdf([Image.new("L", (400, 500), 0)], tmp_path / "scan.pdf")

    with pytest.raises(EmptyDocumentError) as excinfo:
        parse_file(scanned, OFF)

    assert excinfo.value.message == (
        "No text could be extracted from this file. If it is a scanned PDF, it has no text layer, and "
        "OCR is off (RAG_OCR=off)."
    )
    assert ocr_calls == []


def test_a_scan_with_more_pages_than_the_cap_is_refused_before_any_ocr(
    tools: None, tmp_path: Path, ocr_calls: list[Path]
) -> None:
    scanned = image_pdf([Image.new("L", (200, 260), 0)] * 3, tmp_path / "scan.pdf")

    with pytest.raises(DocumentError) as excinfo:
        parse_file(scanned, OcrOptions(max_pages=2))

    assert "3 pages to OCR are more than RAG_OCR_MAX_PAGES (2)" in excinfo.value.message
    assert ocr_calls == []


# -- images ---------------------------------------------------------------------------------------


@pytest.fixture(name="scan_pages")
def scan_pages_fixture(tmp_path: Path) -> list[Image.Image]:
    return page_images(text_pdf(tmp_path / "letter.pdf", [FLEET, INVOICES, BADGES]), dpi=200)


def test_a_png_scan_is_read_as_one_page_without_a_number(
    tools: None, tmp_path: Path, scan_pages: list[Image.Image]
) -> None:
    path = tmp_path / "fleet.png"
    scan_pages[0].save(path)

    doc = parse_file(path)

    assert doc.file_type == "png" and all(b.ocr and b.page is None for b in doc.blocks)
    assert {"kettering", "ninety", "inspected"} <= words(text_of(doc))


@pytest.mark.slow  # Tesseract on several pages
def test_a_multi_page_tiff_is_one_page_per_frame(
    tools: None, tmp_path: Path, scan_pages: list[Image.Image], ocr_calls: list[Path]
) -> None:
    path = tmp_path / "letters.tiff"
    scan_pages[0].save(path, save_all=True, append_images=scan_pages[1:2], compression="tiff_lzw")

    doc = parse_file(path)

    assert len(ocr_calls) == 2 and {b.page for b in doc.blocks} == {1, 2}
    assert "kettering" in words(text_of(doc, 1)) and "brightpane" in words(text_of(doc, 2))


@pytest.mark.slow  # Tesseract on several pages
def test_a_photo_is_turned_upright_and_its_transparency_put_on_white(
    tools: None, tmp_path: Path, scan_pages: list[Image.Image]
) -> None:
    page = scan_pages[0]
    photo = page.rotate(90, expand=True).convert("RGB")  # taken sideways; the tag says so
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    photo.save(tmp_path / "fleet.jpg", exif=exif, quality=90)
    # Black text on a transparent background: without a background, all of it would be black.
    clear = Image.new("LA", page.size, (0, 0))
    clear.putalpha(page.point(lambda v: 255 - v))
    clear.save(tmp_path / "fleet-clear.png")

    for name in ("fleet.jpg", "fleet-clear.png"):
        assert {"kettering", "ninety"} <= words(text_of(parse_file(tmp_path / name))), name


def test_a_larger_picture_is_scaled_down_before_ocr(tmp_path: Path) -> None:
    image = Image.new("RGB", (9000, 6000), "white")  # 54 megapixels: a 600 dpi A3 scan
    image.info["dpi"] = (600, 600)

    prepared, dpi = ocr._prepared(image)

    assert prepared.mode == "L" and prepared.width * prepared.height <= ocr.MAX_OCR_PIXELS
    assert prepared.width / prepared.height == pytest.approx(1.5, rel=0.01)
    assert dpi is not None and 480 <= dpi <= 490


def test_bad_images_fail_one_by_one_with_a_reason(tmp_path: Path, ocr_calls: list[Path]) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.png").write_bytes(b"")
    good = io_png(Image.new("L", (300, 200), 255))
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "garbage.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    (folder / "notes.tif").write_text("These are notes, not a TIFF image at all.\n")
    single_colour_png(folder / "huge.png", 20_000, 20_000)

    failures: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        with pytest.raises(DocumentError) as excinfo:
            parse_file(path)
        failures[path.name] = excinfo.value.message

    assert failures == {
        "empty.png": "The file is empty (0 bytes).",
        "garbage.jpg": "The image cannot be read: it is damaged, or not a PNG, JPEG or TIFF file (was it "
        "renamed?).",
        "huge.png": "The image (400 megapixels) is more than the 179 megapixels that are read safely. Scale "
        "it down (a page scanned at 300 dpi is about 9 megapixels) and add it again.",
        "notes.tif": "This is not a TIFF image (nor a PNG, JPEG or TIFF under another name): was it renamed "
        "or truncated?",
        "truncated.png": failures["truncated.png"],
    }
    assert failures["truncated.png"].startswith("The image is damaged and cannot be read (")
    assert ocr_calls == []


def test_a_tiff_with_more_frames_than_the_cap_is_refused_before_any_ocr(
    tmp_path: Path, ocr_calls: list[Path]
) -> None:
    path = tmp_path / "fax.tiff"
    frames = [Image.new("1", (100, 100), 1)] * 4
    frames[0].save(path, save_all=True, append_images=frames[1:])

    with pytest.raises(DocumentError) as excinfo:
        parse_file(path, OcrOptions(max_pages=3))

    assert excinfo.value.message.startswith("The image has more than 3 pages to OCR (RAG_OCR_MAX_PAGES)")
    assert ocr_calls == []


def test_with_ocr_off_an_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fleet.png"
    Image.new("L", (300, 200), 255).save(path)

    with pytest.raises(DocumentError, match=r"RAG_OCR=off"):
        parse_file(path, OFF)


def io_png(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# -- through the ingest service -------------------------------------------------------------------


@pytest.fixture(name="kb")
def kb_fixture(tmp_path: Path) -> Iterator[KnowledgeBase]:
    settings = Settings(data_dir=tmp_path / "data", ingest_workers=1, _env_file=None)  # type: ignore[call-arg]
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    yield kb
    kb.close()


@pytest.mark.slow  # Tesseract on several pages
def test_scans_and_bad_images_in_one_batch(
    tools: None, tmp_path: Path, kb: KnowledgeBase, scan_pages: list[Image.Image]
) -> None:
    """A PNG and a TIFF scan are ingested in the sandbox, found by the retriever and marked as OCR'd;
    the bad images beside them are reported one by one, and the batch goes on."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    scan_pages[0].save(folder / "fleet.png")
    scan_pages[1].save(
        folder / "invoices.tiff", save_all=True, append_images=[scan_pages[2]], compression="tiff_lzw"
    )
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    single_colour_png(folder / "huge.png", 20_000, 20_000)
    (folder / "note.txt").write_text("The canteen opens at half past seven.\n")

    with IngestService(kb) as service:
        report = service.sync([folder])

    assert report.added == 3, report.failed
    assert sorted(Path(f["path"]).name for f in report.failed) == ["empty.jpg", "garbage.png", "huge.png"]
    hits = kb.retriever().search("glazing contractor Brightpane invoices", top_k=3, mode="sparse")
    assert Path(hits[0].chunk.source).name == "invoices.tiff"
    assert hits[0].chunk.ocr and hits[0].chunk.page == 1
    fleet = kb.retriever().search("delivery van inspected Kettering", top_k=1, mode="sparse")[0].chunk
    assert Path(fleet.source).name == "fleet.png" and fleet.ocr and fleet.page is None
    canteen = kb.retriever().search("canteen opens", top_k=1, mode="sparse")[0].chunk
    assert not canteen.ocr


@pytest.mark.slow  # Tesseract on two pages, in the parse worker
def test_the_pages_read_by_ocr_are_reported_as_they_are_read(
    tools: None, tmp_path: Path, kb: KnowledgeBase
) -> None:
    """A long scan is minutes of work on one file: the parse worker reports each OCR'd page to the
    process that asked (the CLI shows a bar over pages), and the text pages are not counted."""
    original = text_pdf(tmp_path / "original.pdf", [FLEET, INVOICES, BADGES])
    scan = mixed_pdf(original, tmp_path / "scan.pdf", scanned={1, 3})
    reports: list[tuple[str, int, int]] = []

    with IngestService(kb) as service:
        service.on_pages = lambda path, done, total: reports.append((path.name, done, total))
        service.sync([scan])

    assert reports == [("scan.pdf", 1, 2), ("scan.pdf", 2, 2)]


@pytest.mark.slow  # Tesseract on three pages
def test_chunks_of_a_scanned_copy_cite_the_same_pages_as_the_original(tools: None, tmp_path: Path) -> None:
    """A committed dev-set PDF and a scan of it: every chunk of the original has its best-matching OCR
    chunk on the same page, so a citation's page number is the same either way."""
    from ingest.chunk import ChunkingPolicy, chunk_document

    original = Path(__file__).resolve().parents[1] / "devsets/en/docs/python/library-secrets.pdf"
    scanned = scanned_copy(original, tmp_path / "library-secrets.pdf", dpi=300)
    policy = ChunkingPolicy(
        chunk_tokens=120, overlap_tokens=0, max_model_tokens=512, count_tokens=lambda t: len(t.split())
    )

    def chunks(path: Path) -> list[Any]:
        return chunk_document(parse_file(path), doc_id="d", source=str(path), sha256="s", policy=policy)

    text, read = chunks(original), chunks(scanned)

    assert all(c.ocr for c in read) and not any(c.ocr for c in text)
    assert {c.page for c in read} == {c.page for c in text} == {1, 2, 3}
    for chunk in text:
        best = max(read, key=lambda other: len(words(other.text) & words(chunk.text)))
        assert best.page == chunk.page, chunk.text[:80]


def test_a_scan_without_words_is_empty_and_says_so(
    tools: None, tmp_path: Path, ocr_calls: list[Path]
) -> None:
    page = Image.new("L", (1654, 2339), 255)  # A4 at 200 dpi
    page.paste(0, (300, 300, 1300, 1100))  # a black box: something to look at, nothing to read
    scanned = image_pdf([page], tmp_path / "box.pdf")

    with pytest.raises(EmptyDocumentError) as excinfo:
        parse_file(scanned)

    assert len(ocr_calls) == 1
    assert excinfo.value.message == (
        "No text could be extracted from this file. It has no text layer, and nothing on its pages that "
        "OCR could read (blank pages, or pictures and drawings without words)."
    )


# -- what callers see ----------------------------------------------------------------------------


def test_ocr_is_shown_in_payloads_hits_citations_and_labels_only_when_true() -> None:
    from api.presentation import hit_json
    from api.schemas import CitationOut, HitOut
    from rag.citations import Citation
    from rag.labels import place
    from rag.store.base import chunk_from_payload, chunk_payload
    from rag.types import Chunk, Hit

    text = Chunk("c1", "d1", "/docs/a.pdf", 0, "The workshop opens at seven.", "a", page=2)
    scanned = Chunk("c2", "d2", "/docs/scan.pdf", 0, "The workshop opens at seven.", "scan", page=2, ocr=True)

    assert "ocr" not in chunk_payload(text) and chunk_payload(scanned)["ocr"] is True
    assert chunk_from_payload("c2", chunk_payload(scanned)) == scanned
    assert chunk_from_payload("c1", chunk_payload(text)) == text
    assert "ocr" not in hit_json(Hit(text, 1.0)) and hit_json(Hit(scanned, 1.0))["ocr"] is True
    assert "ocr" not in HitOut.of(Hit(text, 1.0)).model_dump(mode="json")
    assert HitOut.of(Hit(scanned, 1.0)).model_dump(mode="json")["ocr"] is True
    cited = [
        Citation(1, c.source, c.page, None, "q", 1.0, c.doc_id, c.chunk_id, ocr=c.ocr)
        for c in (text, scanned)
    ]
    assert ["ocr" in c.to_json() for c in cited] == [False, True]
    assert ["ocr" in CitationOut.of(c).model_dump(mode="json") for c in cited] == [False, True]
    assert place("scan.pdf", 2, "Hours", ocr=True) == "scan.pdf, page 2 (OCR), Hours"
    assert place("photo.png", None, ocr=True) == "photo.png (OCR)"
    assert place("a.pdf", 2, "Hours") == "a.pdf, page 2, Hours"


@pytest.mark.slow  # starts a parse worker and lets Tesseract run into the time budget
def test_a_page_over_the_files_time_budget_takes_its_tesseract_along(tools: None, tmp_path: Path) -> None:
    """The sandbox kills a worker that overruns RAG_FILE_TIMEOUT_S; the tesseract it started must die
    with it, or a core stays busy on a file nobody waits for."""
    import threading
    import time

    from ingest.sandbox import ParseSandbox

    path = tmp_path / "noise.png"
    Image.effect_noise((5000, 5000), 90).convert("L").save(path)  # takes Tesseract far longer than 3 s
    sandbox = ParseSandbox(timeout_s=3, max_memory_mb=3000)
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            worker = sandbox._worker
            for pid in _children(worker.pid) if worker is not None else ():
                seen.add(pid)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with pytest.raises(DocumentError, match=r"took longer than 3 s \(RAG_FILE_TIMEOUT_S\)"):
            sandbox.parse(path)
    finally:
        stop.set()
        watcher.join()
        sandbox.close()
    assert seen, "tesseract never ran"
    deadline = time.monotonic() + 1  # SIGKILL from the kernel: at once, not at its next write
    while any(_running(pid) for pid in seen) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in seen if _running(pid)]


def _running(pid: int) -> bool:
    """Alive: a killed process whose new parent has not reaped it yet (a zombie) is not."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _children(parent: int) -> list[int]:
    """The tesseract processes whose parent is ``parent``."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("Name", "").strip() == "tesseract" and fields.get("PPid", "").strip() == str(parent):
            found.append(int(status.parent.name))
    return found
