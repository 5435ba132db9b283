#!/usr/bin/env python3
"""Generate the private-rag sample knowledge base.

This script writes a small but realistic document collection for the
fictional company "Aldermoor Instruments B.V." (Utrecht, Netherlands), a
maker of wireless industrial sensors (the Kite product line) and of the
Aldermoor Beacon SaaS monitoring platform.  The collection is used to
demo and evaluate the RAG pipeline: ingestion of many file formats,
chunking, retrieval and answering.

Generated files (all written next to this script):

    employee_handbook.pdf            7-page PDF with page header/footer
    data_retention_policy.pdf        3-page PDF with a retention table
    information_security_policy.docx Word, Heading 1/2 styles, table
    product_spec_kite_v3.docx        Word product specification, tables
    expense_policy.md                Markdown with per-diem table
    incident_response_runbook.md     Markdown runbook
    release_notes_platform_4.md      Markdown release notes
    travel_policy.html               HTML with booking-class table
    onboarding_guide.html            HTML with first-week schedule
    database_failover_runbook.txt    Plain-text runbook
    it_faq.txt                       Plain-text Q&A
    price_list_2026.xlsx             Excel, sheets Hardware/Subscriptions/Services
    support_tiers.csv                CSV, support plans x severities
    office_directory.csv             CSV, offices and teams
    q3_2026_all_hands.pptx           PowerPoint, 10 slides incl. a table
    product_roadmap_2027.pptx        PowerPoint, 9 slides incl. a table
    meeting_notes_2026-09-14.eml     RFC 822 e-mail with meeting notes
    vendor_contract_renewal.eml      RFC 822 e-mail thread (vendor renewal)

``questions.jsonl`` (30 evaluation questions with expected source file and
answer) is maintained by hand next to this script and is NOT generated.

Re-run with:

    .venv/bin/python sample_docs/generate.py

Requirements: python-docx, python-pptx, openpyxl and fpdf2 (2.8.x).  The
output is deterministic as far as the libraries allow: document metadata
dates, e-mail Date headers and ZIP member timestamps are fixed, so
re-running produces identical files.  All text is plain ASCII because the
PDF core fonts only cover Latin-1.
"""

from __future__ import annotations

import csv
import datetime as dt
import email.policy
import io
import textwrap
import zipfile
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from html import escape
from pathlib import Path

from docx import Document
from docx.shared import Pt
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.writer.excel import ExcelWriter
from pptx import Presentation
from pptx.util import Inches
from pptx.util import Pt as PptPt

OUT_DIR = Path(__file__).resolve().parent
COMPANY = "Aldermoor Instruments B.V."
AUTHOR = "Aldermoor Instruments"
MAIL_DOMAIN = "aldermoor.example"
# Fixed timestamp used for all document metadata and ZIP members.
FIXED_TS = dt.datetime(2026, 10, 1, 9, 0, 0)
ZIP_TS = (2026, 10, 1, 9, 0, 0)

# A block of body text: a paragraph (str), a bulleted list (("bullets", [...])),
# a numbered list (("steps", [...])) or a table (("table", [[header], [row], ...])).
Block = object
Section = tuple[str, list[Block]]


# ---------------------------------------------------------------------------
# Generic helpers
# ---------------------------------------------------------------------------


def check_ascii(text: str, where: str) -> str:
    """Fail loudly if non-ASCII text sneaks into a document."""
    try:
        text.encode("ascii")
    except UnicodeEncodeError as exc:  # pragma: no cover - authoring error
        bad = text[max(exc.start - 20, 0) : exc.end + 20]
        raise ValueError(f"non-ASCII text in {where}: {bad!r}") from exc
    return text


def write_text(name: str, text: str) -> Path:
    path = OUT_DIR / name
    check_ascii(text, name)
    path.write_text(text, encoding="ascii", newline="\n")
    return path


def normalize_zip(path: Path) -> None:
    """Rewrite an OOXML zip with fixed member timestamps (deterministic bytes)."""
    with zipfile.ZipFile(path) as src:
        members = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for filename, data in members:
            info = zipfile.ZipInfo(filename, date_time=ZIP_TS)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, data)
    path.write_bytes(buf.getvalue())


def md_table(rows: Sequence[Sequence[str]]) -> str:
    header, *body = rows
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def render_markdown(title: str, intro: list[str], sections: list[Section]) -> str:
    """Render sections to Markdown (## for sections, ### for '### ' prefixed paragraphs)."""
    out = [f"# {title}", ""]
    for para in intro:
        out += [para, ""]
    for heading, blocks in sections:
        out += [f"## {heading}", ""]
        for block in blocks:
            if isinstance(block, str):
                out += [block, ""]
            elif block[0] == "bullets":
                out += [f"- {item}" for item in block[1]] + [""]
            elif block[0] == "steps":
                out += [f"{i}. {item}" for i, item in enumerate(block[1], 1)] + [""]
            elif block[0] == "table":
                out += [md_table(block[1]), ""]
            elif block[0] == "code":
                out += ["```", *block[1], "```", ""]
    return "\n".join(out).rstrip() + "\n"


def render_html(title: str, meta: str, intro: list[str], sections: list[Section]) -> str:
    """Render sections to a standalone HTML page (h1/h2/h3, p, ul, ol, table)."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(title)} - {escape(AUTHOR)}</title>",
        "<style>body{font-family:Arial,sans-serif;max-width:60em;margin:2em auto;}"
        "table{border-collapse:collapse;}th,td{border:1px solid #999;padding:4px 8px;}"
        "th{background:#e8eef4;}</style>",
        "</head>",
        "<body>",
        f"<header><p>{escape(COMPANY)} | Intranet | People &amp; Workplace</p></header>",
        "<main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{escape(meta)}</p>',
    ]
    out += [f"<p>{escape(p)}</p>" for p in intro]
    for heading, blocks in sections:
        out.append(f"<h2>{escape(heading)}</h2>")
        for block in blocks:
            if isinstance(block, str):
                if block.startswith("### "):
                    out.append(f"<h3>{escape(block[4:])}</h3>")
                else:
                    out.append(f"<p>{escape(block)}</p>")
            elif block[0] in ("bullets", "steps"):
                tag = "ul" if block[0] == "bullets" else "ol"
                out.append(f"<{tag}>")
                out += [f"  <li>{escape(item)}</li>" for item in block[1]]
                out.append(f"</{tag}>")
            elif block[0] == "table":
                header, *body = block[1]
                out.append("<table>")
                out.append("  <tr>" + "".join(f"<th>{escape(c)}</th>" for c in header) + "</tr>")
                for row in body:
                    out.append("  <tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
                out.append("</table>")
    out += [
        "</main>",
        f"<footer><p>{escape(COMPANY)} - Internal use only - Questions: "
        f"people@{MAIL_DOMAIN}</p></footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# PDF helpers (fpdf2, core fonts)
# ---------------------------------------------------------------------------


class CompanyPDF(FPDF):
    """A4 PDF with a repeated header line and 'Page N of M' footer."""

    def __init__(self, header_line: str, footer_line: str) -> None:
        super().__init__(format="A4")
        self.header_line = header_line
        self.footer_line = footer_line
        self.set_auto_page_break(auto=True, margin=20)
        self.set_margins(20, 18, 20)

    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 6, self.header_line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.line(20, self.get_y(), 190, self.get_y())
        self.ln(5)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 8, f"{self.footer_line} - Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def new_pdf(title: str, subject: str, header_line: str, footer_line: str) -> CompanyPDF:
    pdf = CompanyPDF(header_line, footer_line)
    pdf.set_title(title)
    pdf.set_subject(subject)
    pdf.set_author(AUTHOR)
    pdf.set_creator("sample_docs/generate.py")
    pdf.set_creation_date(FIXED_TS.replace(tzinfo=dt.UTC))
    return pdf


def pdf_text(pdf: CompanyPDF, line_height: float, text: str) -> None:
    """Left-aligned paragraph (justified text would put extra gaps into extracted text)."""
    pdf.multi_cell(0, line_height, check_ascii(text, "pdf"), align="L",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def pdf_blocks(pdf: CompanyPDF, heading: str | None, blocks: Iterable[Block]) -> None:
    """Write one section: heading, paragraphs, lists and tables."""
    if heading:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 13)
        pdf_text(pdf, 7, heading)
        pdf.ln(1)
    for block in blocks:
        if isinstance(block, str):
            if block.startswith("### "):
                pdf.set_font("Helvetica", "B", 11)
                pdf_text(pdf, 6, block[4:])
            else:
                pdf.set_font("Helvetica", "", 10.5)
                pdf_text(pdf, 5.2, block)
            pdf.ln(2)
        elif block[0] in ("bullets", "steps"):
            pdf.set_font("Helvetica", "", 10.5)
            for i, item in enumerate(block[1], 1):
                marker = "-" if block[0] == "bullets" else f"{i}."
                pdf.set_x(24)
                pdf.cell(7, 5.2, marker)
                pdf_text(pdf, 5.2, item)
                pdf.ln(0.8)
            pdf.ln(1.5)
        elif block[0] == "table":
            rows = block[1]
            widths = block[2] if len(block) > 2 else None
            pdf.set_font("Helvetica", "", 9)
            with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.8) as table:
                for row in rows:
                    r = table.row()
                    for cell in row:
                        r.cell(check_ascii(cell, "pdf table"))
            pdf.ln(3)


# ---------------------------------------------------------------------------
# Office helpers (python-docx, python-pptx, openpyxl), CSV and e-mail
# ---------------------------------------------------------------------------


def set_core_props(props, title: str, subject: str) -> None:
    """Fixed metadata for docx/pptx core properties (deterministic output)."""
    props.title = title
    props.subject = subject
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.created = FIXED_TS
    props.modified = FIXED_TS
    props.revision = 1


def build_docx(name: str, title: str, subject: str, header_line: str,
               intro: list[str], sections: list[Section]) -> Path:
    doc = Document()
    set_core_props(doc.core_properties, title, subject)
    doc.styles["Normal"].font.name = "Calibri"
    doc.styles["Normal"].font.size = Pt(11)
    section = doc.sections[0]
    section.header.paragraphs[0].text = header_line
    section.footer.paragraphs[0].text = f"{COMPANY} - {subject}"
    doc.add_heading(title, level=0)
    for para in intro:
        doc.add_paragraph(check_ascii(para, name))
    for heading, blocks in sections:
        doc.add_heading(check_ascii(heading, name), level=1)
        for block in blocks:
            if isinstance(block, str):
                if block.startswith("### "):
                    doc.add_heading(check_ascii(block[4:], name), level=2)
                else:
                    doc.add_paragraph(check_ascii(block, name))
            elif block[0] in ("bullets", "steps"):
                style = "List Bullet" if block[0] == "bullets" else "List Number"
                for item in block[1]:
                    doc.add_paragraph(check_ascii(item, name), style=style)
            elif block[0] == "table":
                rows = block[1]
                table = doc.add_table(rows=len(rows), cols=len(rows[0]))
                table.style = "Table Grid"
                for r, row in enumerate(rows):
                    for c, value in enumerate(row):
                        cell = table.cell(r, c)
                        cell.text = check_ascii(value, name)
                        if r == 0:
                            for run in cell.paragraphs[0].runs:
                                run.bold = True
                doc.add_paragraph()
    path = OUT_DIR / name
    doc.save(str(path))
    normalize_zip(path)
    return path


# A slide is (title, body) where body is a list of bullets (str, or (level, str))
# or ("table", rows).
Slide = tuple[str, object]


def build_pptx(name: str, title: str, subtitle: str, subject: str,
               slides: list[Slide], notes: dict[int, str] | None = None) -> Path:
    prs = Presentation()  # default 10 x 7.5 inch template
    set_core_props(prs.core_properties, title, subject)
    first = prs.slides.add_slide(prs.slide_layouts[0])
    first.shapes.title.text = check_ascii(title, name)
    first.placeholders[1].text = check_ascii(subtitle, name)
    for idx, (slide_title, body) in enumerate(slides, start=2):
        if isinstance(body, tuple) and body[0] == "table":
            slide = prs.slides.add_slide(prs.slide_layouts[5])  # title only
            slide.shapes.title.text = check_ascii(slide_title, name)
            rows = body[1]
            shape = slide.shapes.add_table(len(rows), len(rows[0]), Inches(0.5), Inches(1.6),
                                           Inches(9.0), Inches(0.42) * len(rows))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    cell = shape.table.cell(r, c)
                    cell.text = check_ascii(value, name)
                    cell.text_frame.paragraphs[0].font.size = PptPt(15)
            if len(body) > 2:
                box = slide.shapes.add_textbox(Inches(0.5), Inches(1.8) + Inches(0.42) * len(rows),
                                               Inches(9.0), Inches(0.8))
                box.text_frame.text = check_ascii(body[2], name)
                box.text_frame.paragraphs[0].font.size = PptPt(14)
        else:
            slide = prs.slides.add_slide(prs.slide_layouts[1])  # title and content
            slide.shapes.title.text = check_ascii(slide_title, name)
            frame = slide.placeholders[1].text_frame
            for i, item in enumerate(body):
                level, text = item if isinstance(item, tuple) else (0, item)
                para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
                para.text = check_ascii(text, name)
                para.level = level
                para.font.size = PptPt(18 if level == 0 else 15)
        if notes and idx in notes:
            slide.notes_slide.notes_text_frame.text = check_ascii(notes[idx], name)
    path = OUT_DIR / name
    prs.save(str(path))
    normalize_zip(path)
    return path


def build_xlsx(name: str, title: str, sheets: list[tuple[str, list[list[object]], list[int]]]) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.title = title
    wb.properties.creator = AUTHOR
    wb.properties.lastModifiedBy = AUTHOR
    wb.properties.created = FIXED_TS
    wb.properties.modified = FIXED_TS
    header_fill = PatternFill("solid", fgColor="DCE6F1")
    for sheet_name, rows, widths in sheets:
        ws = wb.create_sheet(sheet_name)
        for row in rows:
            for value in row:
                if isinstance(value, str):
                    check_ascii(value, f"{name}:{sheet_name}")
            ws.append(row)
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.fill = header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for i, width in enumerate(widths):
            ws.column_dimensions[chr(ord("A") + i)].width = width
        ws.freeze_panes = "A2"
    path = OUT_DIR / name
    # ExcelWriter directly instead of wb.save(): save() stamps "modified" with now().
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).save()
    normalize_zip(path)
    return path


def build_csv(name: str, rows: list[list[object]]) -> Path:
    path = OUT_DIR / name
    with path.open("w", encoding="ascii", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        for row in rows:
            for value in row:
                check_ascii(str(value), name)
            writer.writerow(row)
    return path


def person(name: str) -> str:
    """'Jane Doe' -> 'Jane Doe <jane.doe@aldermoor.example>'."""
    local = name.lower().replace(" ", ".")
    return f"{name} <{local}@{MAIL_DOMAIN}>"


def build_eml(name: str, headers: dict[str, str], body: str) -> Path:
    msg = EmailMessage(policy=email.policy.default)  # LF line endings on disk
    for key, value in headers.items():
        msg[key] = check_ascii(value, name)
    check_ascii(body, name)
    too_long = [line for line in body.splitlines() if len(line) > 78]
    if too_long:  # keep 7bit transfer encoding readable
        raise ValueError(f"{name}: body line too long: {too_long[0]!r}")
    msg.set_content(body, charset="us-ascii", cte="7bit")
    path = OUT_DIR / name
    path.write_bytes(msg.as_bytes())
    return path


# ---------------------------------------------------------------------------
# 1. Employee handbook (PDF, 7 pages; one list entry per page)
# ---------------------------------------------------------------------------

HANDBOOK_PAGES: list[list[Section]] = [
    [
        ("1. About this handbook", [
            "This handbook describes the employment terms, policies and benefits that apply to "
            "all employees of Aldermoor Instruments B.V. and its subsidiaries Aldermoor "
            "Instruments GmbH (Hamburg), Aldermoor Instruments Sp. z o.o. (Gdansk), Aldermoor "
            "Instruments Unipessoal Lda. (Porto) and Aldermoor Instruments Inc. (Austin). Where "
            "local law or a collective agreement grants more favourable terms, the local terms "
            "apply. Country-specific supplements are available from the People team.",
            "Version 2026.1 of this handbook takes effect on 1 March 2026 and replaces version "
            "2024.2. The handbook is owned by Sanne de Groot, Head of People, and is reviewed "
            "every year in January. Proposed changes are discussed with the Works Council "
            "(Ondernemingsraad) in Utrecht before they are published.",
            "Aldermoor was founded in 2009 in Utrecht by Ingrid Vermeulen (CEO) and Henrik Olsen "
            "(today Head of Hardware Engineering). We design the Kite family of wireless "
            "industrial sensors and operate the Aldermoor Beacon monitoring platform, which is "
            "used by more than 600 industrial customers in 21 countries.",
        ]),
        ("2. Working hours", [
            "A full-time position at Aldermoor is 40 hours per week in the Netherlands, Germany, "
            "Poland and the United States, and 39 hours per week in Portugal. Part-time contracts "
            "are available from 24 hours per week; all leave entitlements are calculated pro "
            "rata.",
            "We use flexible working hours. Core hours are 10:00 to 15:00 local time on Monday to "
            "Thursday and 10:00 to 13:00 on Friday; team meetings should be scheduled inside "
            "core hours. Outside core hours you decide when you work, as long as you agree the "
            "pattern with your team and are reachable for customers where your role requires it.",
            "### Overtime and time off in lieu",
            "Overtime must be requested by your manager in advance. Employees in salary grades "
            "A1 to B3 receive time off in lieu at a rate of 1:1 for weekday overtime and 1.5:1 "
            "for work on Saturdays, Sundays and public holidays. A maximum of 40 hours of time "
            "off in lieu can be banked; hours above that limit are paid out with the next "
            "salary run. Grades C1 and higher are not eligible for overtime compensation.",
            "### Time registration",
            "Engineering and customer support staff book their hours in the time tracking tool "
            "by 12:00 noon every Monday for the previous week. Hours booked on customer "
            "projects are invoiced, so please book accurately to the nearest half hour.",
        ]),
    ],
    [
        ("3. Annual leave and public holidays", [
            "Full-time employees receive 27 days of paid annual leave per calendar year, in "
            "addition to the public holidays of the country in which they are employed. After "
            "five years of continuous service you receive one extra day, and after ten years "
            "two extra days (29 days in total). Employees in Austin receive 20 days of paid "
            "time off plus the ten US federal holidays observed by the company.",
            "Leave is requested in the HR portal at least two weeks in advance for periods "
            "longer than three consecutive working days. Managers respond within five working "
            "days. During the annual stock-count and calibration week in the Hamburg "
            "warehouse (the first full week of December) leave for warehouse staff needs "
            "approval from the Hamburg site lead.",
            "### Carry-over",
            "You may carry over up to 5 unused days into the next calendar year. Carried-over "
            "days must be taken before 1 April; days not taken by then expire, unless local "
            "statutory rules require otherwise. Statutory leave days that could not be taken "
            "because of illness do not expire.",
            "### Company closure days",
            "All offices are closed between Christmas and New Year. In 2026 the closure days "
            "are 28, 29 and 30 December; these three days are deducted from your annual leave. "
            "The customer support on-call rota in Porto and the platform on-call rota continue "
            "to operate during the closure and are compensated separately.",
        ]),
        ("4. Sick leave", [
            "If you are ill, inform your manager by phone or chat before 09:00 on the first "
            "day of absence and register the sick day in the HR portal. Tell us when you expect "
            "to return; you do not need to share medical details. In the Netherlands the "
            "company works with occupational health service ArboNed Midden; you may be "
            "contacted by the company doctor after two weeks of absence.",
            "During illness you continue to receive 100% of your salary for the first 52 weeks "
            "and 70% during the second year (Netherlands). Other countries follow local rules "
            "described in the country supplement.",
        ]),
    ],
    [
        ("5. Parental and family leave", [
            "Aldermoor wants to be a good place to start or grow a family. The entitlements "
            "below are in addition to the statutory leave in your country of employment and "
            "apply equally to birth mothers, partners, adoptive parents and foster parents.",
            "### Aldermoor Family Leave",
            "Every employee who becomes a parent receives 10 weeks of fully paid Aldermoor "
            "Family Leave on top of the statutory parental leave. The leave can be taken in one "
            "block or in blocks of at least one full week, and must be used within 12 months of "
            "the birth or adoption. You keep building up annual leave while you are on family "
            "leave, and your bonus target is pro-rated but never reduced below the target of "
            "a full-time colleague in the same grade.",
            "### How to request family leave",
            ("steps", [
                "Inform your manager and the People team (people@aldermoor.example) at least 10 "
                "weeks before the expected date of birth or adoption.",
                "Submit the leave request in the HR portal under Leave > Family leave, and attach "
                "the pregnancy statement or the adoption confirmation.",
                "Agree a handover plan with your manager; the People team can fund temporary "
                "cover for roles in customer support and manufacturing liaison.",
                "Within two weeks after the birth or adoption, upload the birth certificate or "
                "adoption decision so that payroll can process the leave correctly.",
            ]),
            "### Other family leave",
            "Short-term care leave: up to 10 working days per year at 100% pay to care for a "
            "sick child, partner or parent. Bereavement leave: 5 working days for the death of a "
            "partner, child or parent and 2 working days for other close relatives. Moving day: "
            "1 day per calendar year when you move house.",
            "Employees returning from maternity, family or long-term leave may work 80% of their "
            "contract hours at 100% pay during their first four weeks back (the return ramp).",
        ]),
    ],
    [
        ("6. Remote and hybrid work", [
            "Aldermoor is a hybrid company. Most roles combine office days with working from "
            "home; some roles in manufacturing liaison, the Hamburg lab and the Porto support "
            "floor are office-based and are marked as such in the job description.",
            "### Office days",
            "Hybrid employees work in the office at least two days per week. Tuesday "
            "and Thursday are anchor days on which teams meet in person; please do not schedule "
            "remote-only team rituals on anchor days. Fully remote contracts are only offered for "
            "roles where no Aldermoor office exists within 100 km of the employee's home.",
            "### Working from abroad",
            "You may work temporarily from another country for up to 25 working days per "
            "calendar year, provided that the country is in the EU/EEA, Switzerland or the United "
            "Kingdom and you remain employed by the same Aldermoor entity. Requests must be "
            "submitted in the HR portal at least 10 working days in advance and are approved by "
            "your manager and the People team, who check tax and social security rules. Working "
            "from countries outside this list requires written approval from the Head of People "
            "and the Information Security team.",
            "### Home office set-up",
            "New hybrid employees receive a one-off home office allowance of EUR 600 for a desk, "
            "chair and lighting, paid with the first salary. In addition, hybrid and remote "
            "employees receive a monthly internet and utilities allowance of EUR 30 (net, where "
            "tax rules allow). Make sure your home workplace meets the ergonomic checklist on the "
            "intranet; the People team reimburses a professional workplace assessment once every "
            "three years.",
            "### Security when working remotely",
            "Always use the company VPN when accessing internal systems, lock your screen when "
            "you leave your laptop, and never work on confidential customer data in public "
            "places such as trains or cafes. Details are in the Information Security Policy.",
        ]),
    ],
    [
        ("7. Equipment and IT", [
            "Every employee receives a laptop on their first day. You can choose between a "
            "MacBook Pro 14-inch and a Lenovo ThinkPad T14s; hardware engineers in Hamburg also "
            "receive a Linux workstation in the lab. Laptops are replaced every four years, or "
            "earlier if they fail and cannot be repaired economically.",
            "Office-based and hybrid employees receive a 27-inch monitor, keyboard, mouse and "
            "headset for the office and may take a second set home. Employees with an on-call "
            "role or a customer-facing role receive a company smartphone (iPhone 16 or Google "
            "Pixel 9) with a mobile plan that includes roaming within the EU.",
            "### Looking after company equipment",
            ("bullets", [
                "Equipment remains the property of Aldermoor and must be returned on your last "
                "working day.",
                "Report loss or theft of a device immediately to the IT helpdesk and to the "
                "Security team.",
                "Do not install unlicensed software. Software requests go through the IT "
                "self-service portal.",
                "Private use of the laptop and phone is allowed within reason; private data is "
                "not backed up.",
                "Demo kits with Kite sensors and gateways are signed out via the Hamburg lab "
                "inventory and must be returned within 30 days.",
            ]),
            "### Buying your laptop",
            "When a laptop is replaced after four years you may buy the old device for EUR 100, "
            "after IT has wiped it. Phones can be bought after three years for EUR 50.",
        ]),
    ],
    [
        ("8. Code of conduct", [
            "We expect every employee to act with integrity towards customers, suppliers and "
            "colleagues. The full Code of Conduct is signed by every new employee; the most "
            "important rules are summarised below.",
            "### Gifts and hospitality",
            "You may accept gifts and hospitality from customers or suppliers with a value of up "
            "to EUR 50 per occasion. Anything above EUR 50, and any gift of cash or vouchers "
            "regardless of value, must be declined or reported to the Compliance Officer, "
            "Pieter Jansen (General Counsel), who keeps the gift register. Invitations to "
            "events that include travel or overnight stays always require prior approval.",
            "### Conflicts of interest",
            "Declare any side job, board seat or financial interest in a supplier, customer or "
            "competitor in the HR portal before you accept it. Side jobs are generally allowed if "
            "they do not compete with Aldermoor and do not exceed 8 hours per week.",
            "### Respectful workplace",
            "Aldermoor does not tolerate harassment, discrimination or bullying. If you "
            "experience or witness unacceptable behaviour, you can talk to your manager, the "
            "People team or the confidential counsellor Marieke Bos (external, reachable on "
            "+31 30 799 4188). Reports can also be made anonymously through the Speak Up "
            "hotline, which is operated by an independent provider and available 24/7 in "
            "English, Dutch, German, Polish and Portuguese.",
            "### Export control and anti-bribery",
            "Kite sensors and gateways contain radio equipment and encryption and are subject to "
            "export control. Never promise a delivery to a new country before Sales Operations "
            "has completed the export screening. Facilitation payments are prohibited in every "
            "country, even where they are customary.",
            "### Consequences",
            "Breaches of the Code of Conduct can lead to disciplinary measures up to and "
            "including dismissal. Reports made in good faith will never lead to negative "
            "consequences for the person who reports.",
        ]),
    ],
    [
        ("9. Benefits", [
            "In addition to salary, Aldermoor offers the following benefits. Amounts are for "
            "full-time employees in the Netherlands; other countries have equivalent benefits "
            "listed in the country supplement.",
            "### Pension",
            "All employees join the company pension plan from the first day of employment. "
            "Aldermoor pays 65% of the pension premium and the employee pays 35%. You can make "
            "additional voluntary contributions through the pension portal.",
            "### Holiday allowance and bonus",
            "Dutch employees receive a holiday allowance of 8% of the annual gross salary, paid "
            "in May. All employees participate in the annual company bonus, with a target of 5% "
            "to 15% of annual salary depending on grade, paid in March for the previous year.",
            "### Learning and development",
            "Every employee has a personal learning budget of EUR 1,500 per calendar year for "
            "courses, conferences, certifications and books. Unused budget can be carried over "
            "once, to a maximum of EUR 3,000. In addition, everybody has three learning days per "
            "year that do not count as annual leave.",
            "### Health and well-being",
            ("bullets", [
                "Gym and sports subsidy: 50% of the membership fee, up to EUR 35 per month.",
                "Bicycle lease: lease an (electric) bicycle through a gross salary exchange, "
                "up to a bicycle value of EUR 4,000.",
                "Public transport: commuting by public transport is reimbursed in full; commuting "
                "by bicycle is compensated at EUR 0.23 per kilometre.",
                "Employee assistance programme: six free sessions per year with a coach or "
                "psychologist, arranged confidentially.",
                "Annual flu vaccination in all European offices in October.",
            ]),
            "### Discounts",
            "Employees receive a 40% discount on Kite sensors for private or hobby use (maximum "
            "five units per year) and can use a free Beacon Starter account for up to 10 sensors.",
        ]),
        ("10. Contacts", [
            "People team: people@aldermoor.example. Payroll questions: payroll@aldermoor.example. "
            "Works Council: or@aldermoor.example. Compliance Officer: Pieter Jansen.",
        ]),
    ],
]


def build_employee_handbook() -> Path:
    pdf = new_pdf("Employee Handbook 2026", "Employment terms, policies and benefits",
                  f"{COMPANY} - Employee Handbook - Version 2026.1",
                  "Aldermoor Instruments - Internal")
    for page_no, sections in enumerate(HANDBOOK_PAGES):
        pdf.add_page()
        if page_no == 0:
            pdf.set_font("Helvetica", "B", 20)
            pdf.cell(0, 12, "Employee Handbook", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_font("Helvetica", "", 10)
            pdf.cell(0, 6, "Version 2026.1 - effective 1 March 2026 - owner: Sanne de Groot, Head of People",
                     new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(3)
        for heading, blocks in sections:
            pdf_blocks(pdf, heading, blocks)
    path = OUT_DIR / "employee_handbook.pdf"
    pdf.output(str(path))
    return path


# ---------------------------------------------------------------------------
# 2. Data retention policy (PDF, 3 pages, retention table)
# ---------------------------------------------------------------------------

RETENTION_TABLE = [
    ["Record type", "Retention period", "Owner", "Basis / trigger"],
    ["Payroll and salary records", "7 years after the end of the tax year", "Payroll Manager",
     "Tax law"],
    ["Accounting records, invoices, ledgers", "7 years after the end of the financial year",
     "CFO", "Civil Code art. 2:10"],
    ["Employee personnel files", "2 years after the end of employment", "Head of People",
     "GDPR, legitimate interest"],
    ["Copies of employee ID documents", "5 years after the end of employment",
     "Payroll Manager", "Wage tax law"],
    ["Job applicant data (not hired)", "4 weeks after the vacancy is filled (1 year with consent)",
     "Talent Acquisition Lead", "GDPR, consent"],
    ["Customer contracts and order forms", "10 years after the contract ends", "General Counsel",
     "Limitation periods"],
    ["CRM data of prospects without contract", "24 months after the last interaction",
     "VP Sales", "Legitimate interest"],
    ["Support tickets", "3 years after ticket closure", "Head of Customer Support", "Contract"],
    ["Support call recordings", "90 days after the call", "Head of Customer Support", "Consent"],
    ["Beacon sensor telemetry (customer data)", "Per subscription plan; deleted 30 days after "
     "contract termination", "CTO", "Data processing agreement"],
    ["Beacon application logs", "180 days", "Head of Platform Engineering", "Security"],
    ["Security logs (SIEM, VPN, badge access)", "13 months", "CISO", "ISO 27001"],
    ["Reception visitor register", "6 months", "Office Manager Utrecht", "Security"],
    ["CCTV recordings (offices, Hamburg warehouse)", "28 days, unless needed for an investigation",
     "Facilities Manager", "Legitimate interest"],
    ["Mailbox of a departed employee", "60 days after the last working day", "Head of IT",
     "Business continuity"],
    ["Kite calibration and test certificates", "15 years after the production date",
     "Head of Hardware Engineering", "Product liability, ISO 9001"],
    ["Speak Up reports", "5 years after the case is closed", "Compliance Officer",
     "Whistleblower law"],
    ["Board and shareholder minutes", "Permanently", "General Counsel", "Corporate law"],
]

RETENTION_PAGES: list[list[Section]] = [
    [
        ("1. Purpose", [
            "This policy defines how long Aldermoor Instruments keeps business records and "
            "personal data, who is responsible for each type of record, and how records are "
            "deleted at the end of their retention period. Keeping data longer than necessary "
            "increases legal and security risk and storage cost; deleting data too early can "
            "breach legal obligations. The policy implements the storage limitation principle "
            "of the GDPR (article 5(1)(e)).",
        ]),
        ("2. Scope", [
            "The policy applies to all Aldermoor entities, all employees and contractors, and all "
            "records regardless of format: paper, e-mail, files in the document management "
            "system, databases, backups and data held by processors on our behalf (for example "
            "the payroll provider and the hosting provider Stratoline Cloud GmbH).",
            "Customer telemetry stored in the Beacon platform is processed on behalf of our "
            "customers. Its retention is defined in the customer's subscription and data "
            "processing agreement; this policy only sets the deletion deadline after a contract "
            "ends.",
        ]),
        ("3. Principles", [
            ("bullets", [
                "Every record type has exactly one owner who decides on access and deletion.",
                "The retention period starts at the trigger event listed in the schedule (for "
                "example the end of employment or the end of the tax year).",
                "At the end of the retention period records are deleted or anonymised within "
                "60 days.",
                "Backups follow the backup cycle: data deleted from a live system disappears from "
                "backups when the last backup containing it expires, at most 35 days later.",
                "A legal hold overrides every retention period (see section 7).",
            ]),
        ]),
        ("4. Roles", [
            "The Data Protection Officer, Elif Yilmaz, owns this policy, maintains the retention "
            "schedule and reports on compliance to the management team twice a year. Record "
            "owners (see the schedule) make sure that systems under their responsibility apply "
            "the retention periods, preferably through automated deletion jobs. The Head of IT, "
            "Jonas Becker, provides the technical deletion and anonymisation tooling. The "
            "General Counsel, Pieter Jansen, decides on legal holds.",
        ]),
    ],
    [
        ("5. Retention schedule", [
            "The following schedule lists the retention period and owner for the main record "
            "types. Record types that are not listed must be submitted to the Data Protection "
            "Officer, who adds them to the schedule within one month.",
            ("table", RETENTION_TABLE, (52, 50, 38, 30)),
            "Where a period is expressed in years after an event, deletion happens in the "
            "first quarter following the end of the period. Example: payroll records for tax "
            "year 2026 are deleted in the first quarter of 2034.",
        ]),
    ],
    [
        ("6. Deletion procedure", [
            "Record owners run the deletion procedure at least once per quarter for records that "
            "are not deleted automatically.",
            ("steps", [
                "Run the retention report in the document management system or the relevant "
                "application to list records whose retention period has ended.",
                "Check the legal hold register (maintained by the General Counsel) and remove "
                "every record under legal hold from the list.",
                "Delete the records, or anonymise them where statistics must be kept. Paper "
                "records are shredded using the locked confidential waste bins (DIN 66399 "
                "security level P-4).",
                "Record the deletion in the deletion log: record type, number of records, date "
                "and the name of the person who performed the deletion.",
                "Send the quarterly deletion summary to the Data Protection Officer by the 15th "
                "day of the month following the quarter.",
            ]),
        ]),
        ("7. Legal hold", [
            "When litigation, an audit, a regulatory investigation or a Speak Up investigation "
            "is expected, the General Counsel can place records under legal hold. Records under "
            "legal hold must not be deleted or altered until the hold is lifted in writing. "
            "Automated deletion jobs must be suspended for the affected records within 2 working "
            "days of the hold notice.",
        ]),
        ("8. Exceptions and review", [
            "Exceptions to the schedule require written approval from the Data Protection "
            "Officer and the record owner and are valid for a maximum of 12 months. The policy is "
            "reviewed annually by the Data Protection Officer; the next review is due in "
            "November 2026.",
        ]),
        ("9. Document control", [
            "Policy number: LEG-POL-004. Version 3.1, approved by the management team on 20 "
            "January 2026, effective 1 February 2026. Owner: Elif Yilmaz, Data Protection Officer "
            "(dpo@aldermoor.example).",
        ]),
    ],
]


def build_data_retention_policy() -> Path:
    pdf = new_pdf("Data Retention Policy", "Record retention schedule and deletion procedure",
                  f"{COMPANY} - Data Retention Policy - LEG-POL-004 v3.1",
                  "Aldermoor Instruments - Internal - Confidential")
    for page_no, sections in enumerate(RETENTION_PAGES):
        pdf.add_page()
        if page_no == 0:
            pdf.set_font("Helvetica", "B", 20)
            pdf.cell(0, 12, "Data Retention Policy", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(2)
        for heading, blocks in sections:
            pdf_blocks(pdf, heading, blocks)
    path = OUT_DIR / "data_retention_policy.pdf"
    pdf.output(str(path))
    return path


# ---------------------------------------------------------------------------
# 3. Information security policy (DOCX)
# ---------------------------------------------------------------------------

INFOSEC_INTRO = [
    "Policy number: SEC-POL-001. Version 4.2, approved by the management team on 3 March 2026. "
    "Policy owner: Priya Raman, Chief Information Security Officer (CISO).",
    "This policy sets the minimum security rules for everyone who works for or with Aldermoor "
    "Instruments. It is part of our ISO/IEC 27001 information security management system "
    "(certified since June 2023, certificate number ISMS-NL-23-0871).",
]

INFOSEC_SECTIONS: list[Section] = [
    ("1. Purpose and scope", [
        "The purpose of this policy is to protect the confidentiality, integrity and "
        "availability of Aldermoor information, of the Beacon platform and of the data our "
        "customers entrust to us. It applies to all employees, contractors, interns and "
        "temporary staff, to all company devices and to private devices used for work, and to "
        "all locations including home offices.",
        "Violations of this policy may lead to disciplinary measures. Questions about the policy "
        "can be sent to security@aldermoor.example.",
    ]),
    ("2. Roles and responsibilities", [
        ("bullets", [
            "CISO (Priya Raman): owns the policy, runs the Security team and reports on security "
            "risks to the management team every month.",
            "Head of IT (Jonas Becker): operates the corporate IT environment in line with this "
            "policy, including identity management, endpoint management and the VPN.",
            "Head of Platform Engineering (Agnieszka Nowak): responsible for the security of the "
            "Beacon production environment.",
            "Managers: make sure their team members complete the annual security training and "
            "approve access requests only where there is a business need.",
            "Every employee: follows this policy and reports incidents immediately.",
        ]),
    ]),
    ("3. Data classification", [
        "All information is classified in one of four levels. The owner of the information "
        "decides the level; when in doubt, use the higher level. Documents classified "
        "Confidential or Strictly Confidential must show the classification in the header.",
        ("table", [
            ["Level", "Description", "Examples", "Handling rules"],
            ["Public", "Approved for publication", "Website, datasheets, press releases",
             "No restrictions"],
            ["Internal", "Default level for company information", "Intranet, handbook, "
             "organisation charts, internal presentations",
             "Share only with employees and contractors under NDA"],
            ["Confidential", "Disclosure could harm Aldermoor or customers", "Customer contracts, "
             "price negotiations, source code, personal data of employees",
             "Need-to-know access, encrypted at rest and in transit, no private e-mail or USB"],
            ["Strictly Confidential", "Disclosure could cause severe damage",
             "Customer telemetry, encryption keys, M&A plans, salary data, security incidents",
             "Named-person access approved by the owner, access logged, sharing only via "
             "approved encrypted channels, never printed"],
        ]),
    ]),
    ("4. Access control", [
        "Access to systems is granted on the basis of least privilege and must be requested "
        "through the IT self-service portal. Managers review the access rights of their team "
        "every quarter; the Security team checks completion of the review.",
        "### 4.1 Passwords",
        "Passwords for company accounts must be at least 14 characters long. We recommend "
        "passphrases of four or more random words. Passwords must be unique per system and "
        "must be stored in the company password manager; writing them down or storing them in "
        "browsers is not allowed. Passwords are not changed periodically, but must be changed "
        "immediately when there is any suspicion that they are known to someone else. Accounts "
        "are locked for 15 minutes after 10 failed login attempts.",
        "### 4.2 Multi-factor authentication (MFA)",
        "MFA is mandatory for every account that supports it, including e-mail, the VPN, the "
        "HR portal and all cloud services. Approved second factors are the company "
        "authenticator app with number matching and FIDO2 hardware security keys. SMS codes "
        "and voice calls are not accepted as a second factor.",
        "### 4.3 Privileged access",
        "Administrators of production systems and of the identity provider must use a FIDO2 "
        "hardware security key and a separate administrator account. Privileged sessions to "
        "the Beacon production environment go through the bastion hosts and are recorded. "
        "Standing production access is limited to the on-call engineers; other engineers "
        "request time-limited access of at most 8 hours.",
        "### 4.4 Joiners, movers and leavers",
        "Accounts of leavers are disabled at 18:00 local time on their last working day. When an "
        "employee changes role, access that is no longer needed is removed within 5 working "
        "days.",
    ]),
    ("5. Devices", [
        ("bullets", [
            "Only company-managed laptops may access Confidential or Strictly Confidential data.",
            "Full-disk encryption and the endpoint protection agent must be active at all times.",
            "Screens lock automatically after 5 minutes of inactivity; lock your screen manually "
            "whenever you walk away.",
            "Operating system and browser updates must be installed within 14 days; critical "
            "security patches within 72 hours.",
            "USB mass storage is blocked on all laptops except in the Hamburg hardware lab, where "
            "dedicated lab machines are used for firmware flashing.",
            "Private phones may be used for e-mail and chat only after enrolment in the mobile "
            "device management app.",
        ]),
    ]),
    ("6. Network and remote access", [
        "Internal systems are reachable only via the office network or the company VPN. Public "
        "Wi-Fi may be used only with the VPN switched on. Guest networks in our offices are "
        "separated from the corporate network and must not be used for work devices. Customer "
        "networks may be used for commissioning Kite gateways, never for accessing internal "
        "systems.",
    ]),
    ("7. Secure development and operations", [
        "All changes to Beacon and to Kite firmware require a reviewed pull request and passing "
        "security checks (static analysis, dependency scanning and secret scanning). Critical "
        "vulnerabilities in dependencies must be fixed within 7 days, high vulnerabilities "
        "within 30 days. An external penetration test of the Beacon platform is performed every "
        "year; the 2026 test was carried out by an independent firm in May 2026 and found no "
        "critical issues.",
    ]),
    ("8. Reporting security incidents", [
        "A security incident is any event that may threaten the confidentiality, integrity or "
        "availability of information: for example a lost or stolen laptop or phone, a phishing "
        "e-mail you clicked on, a password you typed into a suspicious site, malware warnings, "
        "or customer data sent to the wrong recipient.",
        "Every employee must report a suspected security incident to the Security team within "
        "1 hour of discovering it, also outside office hours. It is always better to report a "
        "false alarm than to report too late.",
        ("steps", [
            "Report the incident via security@aldermoor.example or by phone on the security "
            "hotline, extension 4911 (+31 30 799 4911 from outside), which is staffed 24/7.",
            "Do not try to investigate yourself, do not delete e-mails or files, and do not "
            "switch off an infected device; disconnect it from the network instead.",
            "Write down what happened, when, and which systems or data may be affected.",
            "Follow the instructions of the Security team. If personal data is involved, the "
            "Data Protection Officer decides within 48 hours whether the breach must be notified "
            "to the supervisory authority (which must happen within 72 hours).",
        ]),
    ]),
    ("9. Suppliers", [
        "Suppliers that process Confidential or Strictly Confidential data must pass a security "
        "assessment before the contract is signed and sign a data processing agreement where "
        "personal data is involved. Critical suppliers, such as our hosting provider, are "
        "reassessed every year.",
    ]),
    ("10. Exceptions", [
        "Exceptions to this policy must be requested from the CISO using the exception form. "
        "Approved exceptions are recorded in the risk register and expire after a maximum of "
        "6 months.",
    ]),
]


def build_information_security_policy() -> Path:
    return build_docx("information_security_policy.docx", "Information Security Policy",
                      "Information Security Policy SEC-POL-001",
                      "Aldermoor Instruments - Information Security Policy - Classification: Internal",
                      INFOSEC_INTRO, INFOSEC_SECTIONS)


# ---------------------------------------------------------------------------
# 4. Product specification Kite V3 (DOCX)
# ---------------------------------------------------------------------------

KITE_SPEC_INTRO = [
    "Document number HW-SPEC-KV3, revision E, released 24 August 2026. Owner: Henrik Olsen, Head of "
    "Hardware Engineering, Hamburg. Classification: Public (may be shared with customers).",
    "The Kite V3 is a battery-powered wireless sensor that measures triaxial vibration and "
    "surface temperature on rotating machinery such as motors, pumps, fans, gearboxes and "
    "compressors. Measurements are sent over the KiteLink radio protocol to a Kite Gateway G5 "
    "and from there to the Aldermoor Beacon platform, where they are analysed against ISO 20816 "
    "vibration severity zones and customer-defined alarm thresholds.",
]

KITE_SPEC_SECTIONS: list[Section] = [
    ("1. Variants and ordering information", [
        ("table", [
            ["SKU", "Variant", "Description"],
            ["KT-V3-STD", "Kite V3 Standard", "Vibration and temperature sensor, M6 stud mount, "
             "868 MHz (EU) radio"],
            ["KT-V3-STD-US", "Kite V3 Standard (US)", "As KT-V3-STD with 915 MHz radio for "
             "North America"],
            ["KT-V3-EX", "Kite V3 EX", "Intrinsically safe variant for ATEX/IECEx Zone 0 and "
             "Zone 20 hazardous areas"],
            ["KT-V3-HT", "Kite V3 HT", "High-temperature variant with remote probe on a 1.5 m "
             "cable, probe rated up to +150 C"],
        ]),
        "All variants require a Kite Gateway G5 (KT-GW5) or G5 Outdoor (KT-GW5-OD) and an active "
        "Beacon subscription. Prices are published in the 2026 price list.",
    ]),
    ("2. Technical specifications", [
        ("table", [
            ["Parameter", "Value"],
            ["Measurement axes", "3 (X, Y, Z), simultaneous sampling"],
            ["Vibration sensor", "MEMS accelerometer, measuring range +/-16 g"],
            ["Frequency range", "2 Hz to 6.4 kHz (+/-3 dB)"],
            ["Vibration accuracy", "+/-5% at the 159.2 Hz reference frequency"],
            ["Maximum sampling rate", "25.6 kS/s per axis"],
            ["Surface temperature measurement", "-40 C to +125 C, accuracy +/-0.5 C between "
             "0 C and +85 C"],
            ["Operating temperature", "-40 C to +85 C (ambient)"],
            ["Storage temperature", "-40 C to +60 C (with battery installed)"],
            ["Ingress protection", "IP68 (1.5 m water depth for 72 hours) and IP69K"],
            ["Dimensions", "42 mm x 42 mm x 68 mm (including the M6 stud)"],
            ["Weight", "148 g including battery"],
            ["Housing", "316L stainless steel base, glass-fibre reinforced PBT cover"],
            ["Radio", "KiteLink sub-GHz, 868 MHz (EU) or 915 MHz (US); Bluetooth LE 5.3 for "
             "commissioning"],
            ["Radio range", "Up to 350 m line of sight to the gateway; typically 60 m in indoor "
             "industrial environments"],
            ["Security", "AES-128 CCM end-to-end encryption, secure boot, signed firmware updates"],
            ["Battery", "Replaceable 3.6 V lithium thionyl chloride pack, 8,500 mAh "
             "(spare part KT-ACC-BAT36)"],
            ["Warranty", "3 years; 5 years when used with a Beacon Enterprise subscription"],
        ]),
    ]),
    ("3. Battery life", [
        "Battery life depends mainly on the reporting interval (how often overall vibration "
        "values and temperature are sent) and on how often a full waveform is captured for "
        "spectrum analysis. The estimates below assume an ambient temperature of +25 C and a "
        "good radio link (RSSI better than -95 dBm).",
        ("table", [
            ["Reporting interval", "Waveform capture", "Estimated battery life"],
            ["1 minute", "None", "11 months"],
            ["5 minutes", "Every 6 hours", "3.5 years"],
            ["15 minutes", "Once per day", "7 years"],
            ["60 minutes", "Once per day", "10 years"],
        ]),
        "At a constant ambient temperature of -20 C, reduce the estimates by 25%. Beacon shows "
        "the remaining battery capacity per sensor and raises a warning when the capacity drops "
        "below 15%.",
    ]),
    ("4. Installation", [
        "### 4.1 Choosing the mounting point",
        "Mount the sensor as close as possible to the bearing, on a flat, rigid and unpainted "
        "surface. Avoid thin covers, fan guards and other flexible parts. For motors, use the "
        "drive-end bearing housing in the radial direction.",
        "### 4.2 Mounting procedure",
        ("steps", [
            "Spot-face the mounting surface to a flat area of at least 30 mm diameter and drill "
            "and tap an M6 thread 8 mm deep.",
            "Apply a thin layer of coupling grease to the sensor base.",
            "Screw the sensor in by hand and tighten it to 7 Nm using a torque wrench; do not "
            "exceed 10 Nm.",
            "Pull the battery isolation tab; the status LED flashes green three times.",
            "Open the Beacon mobile app, scan the QR code on the sensor and assign the sensor to "
            "the machine and measurement point.",
            "Check that the first measurement arrives in Beacon within 5 minutes and that the "
            "link quality is shown as Good or Excellent.",
        ]),
        "Where drilling is not allowed, use the magnetic mount KT-ACC-MAG (flat surfaces) or the "
        "epoxy mounting pad KT-ACC-EPX. Magnetic mounting reduces the usable frequency range to "
        "2 kHz.",
    ]),
    ("5. Compliance", [
        ("bullets", [
            "CE: Radio Equipment Directive 2014/53/EU, RoHS 2011/65/EU, REACH.",
            "UKCA marked for the United Kingdom.",
            "FCC ID 2BAKT-KV3 and ISED 31245-KV3 for the US variant.",
            "Kite V3 EX: ATEX and IECEx certified, marking II 1G Ex ia IIC T4 Ga and II 1D Ex ia "
            "IIIC T135 C Da, certificate received 19 August 2026.",
            "Manufactured under ISO 9001:2015 by our contract manufacturer Voss Elektronik GmbH "
            "in Bremen.",
        ]),
    ]),
    ("6. Maintenance", [
        "The sensor is maintenance-free apart from battery replacement. Firmware is updated "
        "over the air through the gateway; an update takes about 20 minutes per sensor and does "
        "not interrupt scheduled measurements by more than one interval.",
        "### 6.1 Replacing the battery",
        ("steps", [
            "Unscrew the PBT cover counter-clockwise using the KT-TOOL-01 key.",
            "Remove the old battery pack and dispose of it according to local battery regulations.",
            "Insert the new KT-ACC-BAT36 pack, making sure the O-ring is clean and seated.",
            "Close the cover and tighten it until the marks on cover and base line up.",
            "Confirm the battery replacement in the Beacon app to reset the battery counter.",
        ]),
    ]),
    ("7. Revision history", [
        ("table", [
            ["Revision", "Date", "Change"],
            ["A", "2025-03-04", "First release for Kite V3 launch"],
            ["B", "2025-09-22", "Added the US variant KT-V3-STD-US"],
            ["C", "2026-01-19", "Added Kite V3 HT, updated radio range after field tests"],
            ["D", "2026-05-12", "Updated battery life table for firmware 3.4"],
            ["E", "2026-08-24", "Added ATEX/IECEx certificate details for Kite V3 EX"],
        ]),
    ]),
]


def build_product_spec() -> Path:
    return build_docx("product_spec_kite_v3.docx",
                      "Kite V3 Wireless Vibration Sensor - Product Specification",
                      "Product specification HW-SPEC-KV3 rev E",
                      "Aldermoor Instruments - Kite V3 Product Specification - HW-SPEC-KV3 rev E",
                      KITE_SPEC_INTRO, KITE_SPEC_SECTIONS)


# ---------------------------------------------------------------------------
# 5. Expense policy (Markdown)
# ---------------------------------------------------------------------------

PER_DIEM_ROWS = [
    ["City", "Country", "Full day", "Travel day (departure or return)"],
    ["Amsterdam", "Netherlands", "EUR 52", "EUR 35"],
    ["Utrecht", "Netherlands", "EUR 48", "EUR 32"],
    ["Rotterdam", "Netherlands", "EUR 48", "EUR 32"],
    ["Hamburg", "Germany", "EUR 56", "EUR 37"],
    ["Berlin", "Germany", "EUR 56", "EUR 37"],
    ["Munich", "Germany", "EUR 62", "EUR 41"],
    ["Gdansk", "Poland", "EUR 38", "EUR 25"],
    ["Warsaw", "Poland", "EUR 43", "EUR 29"],
    ["Porto", "Portugal", "EUR 44", "EUR 29"],
    ["Lisbon", "Portugal", "EUR 49", "EUR 33"],
    ["Paris", "France", "EUR 66", "EUR 44"],
    ["London", "United Kingdom", "EUR 74", "EUR 49"],
    ["Stockholm", "Sweden", "EUR 64", "EUR 43"],
    ["Copenhagen", "Denmark", "EUR 70", "EUR 47"],
    ["Zurich", "Switzerland", "EUR 84", "EUR 56"],
    ["Austin", "United States", "EUR 68", "EUR 45"],
    ["New York", "United States", "EUR 87", "EUR 58"],
    ["Any other city", "-", "EUR 50", "EUR 33"],
]

EXPENSE_SECTIONS: list[Section] = [
    ("1. Scope", [
        "This policy applies to all employees of Aldermoor Instruments who incur costs on "
        "behalf of the company: travel, meals, client entertainment, training and small "
        "purchases. How to book travel (flights, trains, hotels) is described in the separate "
        "Travel Policy; this document covers what is reimbursed and who approves it.",
    ]),
    ("2. General principles", [
        ("bullets", [
            "Spend company money as if it were your own: choose the most economical option that "
            "gets the job done.",
            "Every expense needs a business purpose and an itemised receipt. Credit card slips "
            "alone are not receipts.",
            "You may not approve your own expenses, or expenses of anyone you report to.",
            "Expenses are reimbursed in EUR. Foreign currency amounts are converted at the "
            "rate on the transaction date as shown on your card statement, or the ECB reference "
            "rate when you paid cash.",
        ]),
    ]),
    ("3. Submitting an expense claim", [
        ("steps", [
            "Photograph the receipt with the Spendwise mobile app, or upload a PDF invoice, "
            "within 7 days of the purchase.",
            "Select the expense category and the cost centre; for customer projects add the "
            "project code (for example PRJ-2026-0412).",
            "For meals with guests, enter the names and companies of all attendees.",
            "Submit the claim no later than 30 days after the expense was incurred. Claims older "
            "than 90 days are only reimbursed with CFO approval.",
            "Keep the original paper receipt until the claim is paid; after that the digital "
            "copy is the legal record.",
        ]),
        "Claims approved by the 20th of a month are paid with that month's salary. Claims "
        "approved later are paid with the following month's salary.",
    ]),
    ("4. Approval limits", [
        "Claims and purchase requests are routed automatically in Spendwise based on the total "
        "amount of the claim:",
        ("table", [
            ["Total amount per claim", "Approver"],
            ["Up to EUR 750", "Line manager"],
            ["EUR 750.01 to EUR 3,000", "Department head"],
            ["EUR 3,000.01 to EUR 15,000", "CFO (Tomasz Kowalczyk)"],
            ["Above EUR 15,000", "CEO (Ingrid Vermeulen) after CFO review"],
        ]),
        "Splitting a purchase into several claims to stay below an approval limit is a breach "
        "of this policy.",
    ]),
    ("5. Per diem for business travel", [
        "For business trips with an overnight stay you receive a daily allowance (per diem) "
        "for meals and small incidentals instead of reimbursement of individual meal receipts. "
        "No receipts are needed for the per diem. The rate depends on the city where you stay "
        "overnight:",
        ("table", PER_DIEM_ROWS),
        "Deductions: if breakfast is included in the hotel rate, deduct 20% of the full-day "
        "rate; if lunch or dinner is provided by a customer, a conference or Aldermoor, deduct "
        "35% for each meal. Day trips without an overnight stay do not qualify for a per diem; "
        "meal receipts up to EUR 25 per day can be claimed instead when the trip lasts more "
        "than 8 hours.",
    ]),
    ("6. Mileage and local transport", [
        "Business travel with a private car is reimbursed at EUR 0.25 per kilometre, based on "
        "the shortest route. Commuting to your regular office does not count as business travel. "
        "Taxis and ride-hailing are reimbursed when public transport is not reasonably "
        "available, when travelling between 23:00 and 06:00, or when carrying demo equipment.",
    ]),
    ("7. Client entertainment", [
        "Business meals with customers, partners or candidates are reimbursed up to EUR 90 per "
        "person, including drinks, tip and taxes. The most senior Aldermoor employee present "
        "pays and submits the claim. Entertainment of public officials (for example municipal "
        "water utilities or port authorities) requires prior approval from the Compliance "
        "Officer.",
    ]),
    ("8. Not reimbursed", [
        ("bullets", [
            "Traffic and speeding fines, and penalties for late payment.",
            "Alcohol, except as part of client entertainment.",
            "Hotel minibar, in-room movies and laundry for trips shorter than 5 nights.",
            "Airline lounge access, seat upgrades and extra baggage without a business reason.",
            "Personal travel insurance (Aldermoor has a company-wide business travel insurance).",
        ]),
    ]),
    ("9. Company credit cards", [
        "Employees who travel more than six times per year, and all members of the sales team, "
        "can request a company credit card. The standard monthly limit is EUR 5,000. Card "
        "transactions must be matched with receipts in Spendwise within 14 days of the end of "
        "the month. Cash withdrawals are limited to EUR 300 per month and only allowed when "
        "cards are not accepted.",
    ]),
    ("10. Contact", [
        "Questions: finance@aldermoor.example. Policy owner: Tomasz Kowalczyk, CFO. This version "
        "(FIN-POL-007 v2026.2) applies to expenses incurred from 1 April 2026.",
    ]),
]


def build_expense_policy() -> Path:
    intro = [
        "**Policy FIN-POL-007 - version 2026.2 - effective 1 April 2026 - owner: Finance**",
        "This policy explains which business expenses Aldermoor reimburses, how to claim them "
        "and who approves them.",
    ]
    return write_text("expense_policy.md", render_markdown("Expense Policy", intro, EXPENSE_SECTIONS))


# ---------------------------------------------------------------------------
# 6. Incident response runbook (Markdown)
# ---------------------------------------------------------------------------

INCIDENT_SECTIONS: list[Section] = [
    ("1. Scope", [
        "This runbook describes how Platform Engineering and SRE respond to production incidents "
        "in the Aldermoor Beacon platform (web app, API, ingestion pipeline, alarm engine and "
        "mobile back end) and in the Kite gateway cloud connector. Security incidents follow "
        "the Information Security Policy and are coordinated by the Security team; if a "
        "production incident turns out to be a security incident, the Incident Commander "
        "involves the Security team immediately.",
    ]),
    ("2. Severity levels", [
        ("table", [
            ["Severity", "Definition", "Examples", "Acknowledge within", "Status page updates"],
            ["SEV1", "Critical: platform down, data loss, or more than 25% of customers affected",
             "Beacon web app unreachable; ingestion stopped for all regions", "5 minutes",
             "Every 30 minutes"],
            ["SEV2", "Major: key function degraded for many customers, no workaround",
             "Alarm notifications delayed by more than 10 minutes; API error rate above 5%",
             "15 minutes", "Every 60 minutes"],
            ["SEV3", "Minor: limited impact or a workaround exists",
             "Report export failing for one customer; slow dashboards in one region",
             "1 business hour", "Not required"],
            ["SEV4", "Cosmetic or internal only", "Typo in the UI; internal tool broken",
             "Next business day", "Not required"],
        ]),
        "If in doubt, choose the higher severity. The severity can be lowered later by the "
        "Incident Commander.",
    ]),
    ("3. On-call rotation", [
        "The platform on-call rotation has a primary and a secondary engineer from Platform "
        "Engineering (Gdansk) and SRE. Shifts last one week and hand over every Monday at "
        "10:00 CET during the on-call handover call, where open incidents, ongoing changes and "
        "known risks are discussed. The rotation is published in PageRelay; swaps must be entered "
        "in PageRelay before the shift starts.",
        "On-call engineers receive an allowance of EUR 280 per week plus EUR 45 per hour for "
        "work outside office hours. After a night call-out of more than 2 hours you start work "
        "later the next day, with at least 11 hours of rest.",
    ]),
    ("4. Escalation times", [
        ("table", [
            ["Time after the page", "Escalation"],
            ["0 minutes", "Primary on-call engineer paged by PageRelay"],
            ["5 minutes without acknowledgement", "Secondary on-call engineer paged"],
            ["15 minutes without acknowledgement", "Engineering Manager on duty paged"],
            ["30 minutes into a SEV1", "CTO (Rafael Mendes) informed by the Incident Commander"],
            ["2 hours into a SEV1", "CEO (Ingrid Vermeulen) informed by the CTO"],
        ]),
    ]),
    ("5. Incident bridge", [
        "For SEV1 and SEV2 incidents the Incident Commander opens the permanent incident phone "
        "bridge: dial +31 30 799 4100 and enter PIN 552904#. The bridge is also reachable as the "
        "video room `inc-bridge`. Keep the bridge open until the incident is resolved; the "
        "Scribe records decisions and timestamps in the incident channel.",
    ]),
    ("6. Response procedure", [
        ("steps", [
            "Acknowledge the page in PageRelay within the acknowledgement target for the severity.",
            "Assess impact using the Beacon status dashboards (ingestion lag, API error rate, "
            "alarm delivery latency) and decide the severity.",
            "Declare the incident in chat with `/incident declare`; this creates the channel "
            "`#inc-YYYYMMDD-short-name` and a ticket in the INC project.",
            "Assign roles: Incident Commander (by default the primary on-call), Operations Lead, "
            "Communications Lead and Scribe. For SEV1 the Incident Commander must not debug.",
            "For SEV1 and SEV2, open the incident bridge and post the first status page update "
            "within 15 minutes of declaring the incident.",
            "Notify Customer Support in Porto via `#support-escalations`; Support informs Gold "
            "and Platinum customers through their account contacts.",
            "Mitigate first (roll back, fail over, scale out, disable the feature flag), then "
            "investigate the root cause.",
            "When the impact has ended, post the resolution on the status page and keep "
            "monitoring for at least 30 minutes before closing the incident.",
            "Write a blameless postmortem within 5 business days for every SEV1 and SEV2 and "
            "review it in the Thursday operations review.",
        ]),
    ]),
    ("7. Useful commands and links", [
        ("code", [
            "# current ingestion lag per region",
            "beaconctl ingest lag --region eu-central --region eu-west",
            "# roll back the last deployment of a service",
            "beaconctl deploy rollback alarm-engine --to previous",
            "# database failover: see database_failover_runbook.txt",
        ]),
    ]),
    ("8. Contacts", [
        ("table", [
            ["Role", "Name", "Contact"],
            ["SRE Lead (runbook owner)", "Mateusz Zielinski", "PageRelay schedule sre-lead"],
            ["Head of Platform Engineering", "Agnieszka Nowak", "PageRelay schedule eng-manager"],
            ["CTO", "Rafael Mendes", "Phone via PageRelay"],
            ["Head of Customer Support", "Beatriz Almeida", "#support-escalations"],
            ["Security team", "Priya Raman (CISO)", "security@aldermoor.example"],
        ]),
        "Last reviewed: 3 August 2026 by Mateusz Zielinski. Next review: February 2027.",
    ]),
]


def build_incident_runbook() -> Path:
    intro = [
        "Owner: SRE team. Applies to: Beacon production (regions eu-central and eu-west) and the "
        "Kite cloud connector.",
    ]
    return write_text("incident_response_runbook.md",
                      render_markdown("Incident Response Runbook - Beacon Platform", intro,
                                      INCIDENT_SECTIONS))


# ---------------------------------------------------------------------------
# 7. Release notes Beacon Platform 4 (Markdown)
# ---------------------------------------------------------------------------

RELEASES: list[dict[str, object]] = [
    {
        "version": "4.3.0", "date": "2026-09-08",
        "summary": "Fleet health overview, automatic ISO 20816 zone classification and "
                   "support for the Kite V3 HT sensor.",
        "features": [
            "Fleet health dashboard: one page that shows the condition of all machines across "
            "all sites, grouped by site and asset class, with a 90-day trend per machine.",
            "Automatic ISO 20816-3 zone classification (zones A to D) based on machine group "
            "and foundation type; existing manual thresholds are kept.",
            "Support for the Kite V3 HT high-temperature sensor (firmware 3.5 or later).",
            "Scheduled alarm snoozing, for example during planned maintenance every Sunday "
            "between 06:00 and 14:00.",
            "Webhooks v2 with HMAC-SHA256 signatures and automatic retries (up to 8 attempts "
            "over 24 hours).",
        ],
        "fixes": [
            ("BCN-4588", "Trend charts showed a gap at the daylight saving time change."),
            ("BCN-4593", "Users with the Viewer role could see the Export button (export "
                         "itself was correctly blocked)."),
            ("BCN-4602", "Machine pictures larger than 8 MB failed to upload without an error "
                         "message."),
            ("BCN-4611", "The battery warning for Kite T2 sensors was raised at 25% instead of "
                         "15%."),
        ],
        "known": [
            "The fleet health dashboard loads slowly (more than 10 seconds) for tenants with "
            "more than 20,000 sensors. A fix is planned for 4.3.1 (BCN-4630).",
        ],
    },
    {
        "version": "4.2.1", "date": "2026-07-14",
        "summary": "Hotfix release.",
        "features": [],
        "fixes": [
            ("BCN-4471", "CSV exports dropped the UTC offset from timestamps, so exported data "
                         "appeared shifted for customers outside CET."),
            ("BCN-4475", "SSO login loop with Microsoft Entra ID for users who are members of "
                         "more than 150 groups."),
            ("BCN-4480", "Gateway offline alarms were sent twice when a Kite Gateway G5 "
                         "switched from Ethernet to LTE."),
        ],
        "known": [],
    },
    {
        "version": "4.2.0", "date": "2026-06-30",
        "summary": "Predictive Analytics becomes generally available; API v3.",
        "features": [
            "Predictive Analytics add-on (general availability): remaining useful life "
            "estimates for rolling element bearings, based on envelope spectrum analysis. "
            "Available for Professional and Enterprise plans.",
            "Report builder: scheduled PDF and Excel reports per site, sent by e-mail daily, "
            "weekly or monthly.",
            "Notifications to Microsoft Teams and Slack channels in addition to e-mail, SMS and "
            "the mobile app.",
            "Public REST API v3 with cursor-based pagination and bulk export of up to 1 million "
            "data points per request.",
        ],
        "fixes": [
            ("BCN-4390", "Alarm e-mails used the sensor serial number instead of the machine "
                         "name in the subject line."),
            ("BCN-4412", "Time zone of scheduled reports ignored the site time zone."),
            ("BCN-4436", "Mobile app crashed when commissioning more than 50 sensors in one "
                         "session on Android 15."),
        ],
        "known": [],
        "notes": "API v2 is deprecated as of this release. It keeps working until its sunset "
                 "date, which is announced in the product roadmap. Please migrate integrations "
                 "to API v3.",
    },
    {
        "version": "4.1.0", "date": "2026-04-21",
        "summary": "Multi-site hierarchy and SAML single sign-on for Professional.",
        "features": [
            "Multi-site hierarchy: organise machines in up to five levels (company, region, "
            "site, area, line) with inherited alarm rules.",
            "SAML 2.0 single sign-on now included in the Professional plan (previously "
            "Enterprise only).",
            "Offline commissioning in the mobile app: sensors can be assigned without network "
            "coverage and are synchronised later.",
        ],
        "fixes": [
            ("BCN-4215", "Spectrum cursor values were rounded to whole Hz."),
            ("BCN-4233", "Deleted users still received weekly summary e-mails."),
            ("BCN-4260", "Password reset links expired after 10 minutes instead of 60 minutes."),
        ],
        "known": [],
    },
    {
        "version": "4.0.1", "date": "2026-02-24",
        "summary": "Stability fixes after the 4.0 launch.",
        "features": [],
        "fixes": [
            ("BCN-4102", "Dashboards with more than 40 widgets did not load in Firefox."),
            ("BCN-4109", "Data points arriving more than 6 hours late were not shown in charts."),
            ("BCN-4118", "Incorrect units (mm/s instead of in/s) for US customers in PDF reports."),
        ],
        "known": [],
    },
    {
        "version": "4.0.0", "date": "2026-02-10",
        "summary": "Beacon Platform 4: new user interface and new time series engine.",
        "features": [
            "Completely redesigned web interface with dark mode and configurable dashboards.",
            "New time series storage engine: queries over one year of data are on average 10 "
            "times faster than in Beacon 3.",
            "Role-based access control with five standard roles (Owner, Admin, Engineer, "
            "Technician, Viewer) and custom roles for Enterprise.",
            "Audit log of all configuration changes, retained for 24 months.",
        ],
        "fixes": [],
        "known": [
            "Beacon 3 dashboards are migrated automatically; custom widgets must be recreated.",
        ],
    },
]


def build_release_notes() -> Path:
    out = [
        "# Aldermoor Beacon - Release Notes, Platform 4",
        "",
        "This page lists all releases of Beacon Platform 4 in reverse chronological order. "
        "Releases are deployed to the eu-central and eu-west regions during the standard "
        "maintenance window on Tuesdays between 05:00 and 07:00 CET. Customers with an "
        "Enterprise plan can request a staging tenant to test releases one week in advance.",
        "",
        "Ticket numbers refer to the BCN project in our issue tracker. Questions: "
        "product@aldermoor.example.",
        "",
    ]
    for rel in RELEASES:
        out += [f"## Beacon {rel['version']} ({rel['date']})", "", str(rel["summary"]), ""]
        if rel["features"]:
            out += ["### New features", ""] + [f"- {f}" for f in rel["features"]] + [""]
        if rel["fixes"]:
            out += ["### Bug fixes", ""] + [f"- {t}: {d}" for t, d in rel["fixes"]] + [""]
        if rel["known"]:
            out += ["### Known issues", ""] + [f"- {k}" for k in rel["known"]] + [""]
        if rel.get("notes"):
            out += ["### Upgrade notes", "", str(rel["notes"]), ""]
    out += [
        "## Support policy",
        "",
        "Beacon is a SaaS product, so all customers always run the latest release. The mobile "
        "app must be updated to the latest minor version within 60 days of a release. Kite "
        "gateway firmware older than 2.8 is not supported by Beacon Platform 4.",
    ]
    return write_text("release_notes_platform_4.md", "\n".join(out).rstrip() + "\n")


# ---------------------------------------------------------------------------
# 8. Travel policy (HTML)
# ---------------------------------------------------------------------------

TRAVEL_SECTIONS: list[Section] = [
    ("1. Before you travel", [
        "Business travel must have a clear purpose, such as a customer visit, an installation, a "
        "trade fair or a team meeting that cannot reasonably be held online. Check first whether "
        "a video call would achieve the same result.",
        "### 1.1 Approval",
        ("bullets", [
            "Trips within Europe: approved by your line manager in the booking portal.",
            "Trips outside Europe: approved by your department head.",
            "Trips longer than 14 consecutive days, and any trip to a country with an official "
            "travel warning, also need approval from the People team.",
        ]),
        "### 1.2 How to book",
        "All flights, trains, hotels and rental cars are booked through our travel agency Corvia "
        "Travel, via the TravelDesk booking portal or by phone on +31 30 799 4140 (Monday to "
        "Friday 08:00-18:00 CET). Bookings made outside TravelDesk are only reimbursed in "
        "exceptional cases, because we cannot locate you in an emergency. Book flights at least "
        "14 days and trains at least 7 days before departure; last-minute bookings need a short "
        "justification.",
    ]),
    ("2. Choosing the mode of transport", [
        "The train is the default for journeys with a scheduled train time of up to 6 hours, for "
        "example Utrecht - Hamburg, Utrecht - Paris or Hamburg - Berlin. Flights may be booked "
        "when the train journey is longer than 6 hours or when the flight saves at least half a "
        "working day.",
        "### 2.1 Booking class rules",
        "The class you may book depends on the mode of transport and the scheduled duration of "
        "the journey (one way, excluding connections and waiting time):",
        ("table", [
            ["Mode", "Scheduled duration", "Allowed class", "Notes"],
            ["Flight", "Up to 4 hours", "Economy", "Lowest fare with one checked bag only when "
             "carrying demo kits"],
            ["Flight", "4 to 9 hours", "Economy", "Directors and above may book premium economy"],
            ["Flight", "More than 9 hours", "Premium economy", "Vice presidents and the "
             "management team may book business class"],
            ["Train", "Up to 3 hours", "Second class", "Flexible tickets allowed"],
            ["Train", "More than 3 hours", "First class", "Seat reservation is reimbursed"],
            ["Night train", "Any", "Private sleeper compartment", "Replaces a hotel night"],
        ]),
        "Upgrades paid with your own miles or points are always allowed.",
        "### 2.2 Rental cars",
        "Rent a compact or mid-size car (category C or D). Electric or hybrid cars are "
        "preferred where charging is available. Return the car with a full tank or battery; "
        "refuelling charges of the rental company are not reimbursed. The company insurance "
        "covers rental cars booked through TravelDesk; decline additional insurance at the desk.",
    ]),
    ("3. Hotels", [
        "Book a standard single room in a business hotel close to your destination. The "
        "following maximum rates per night (including taxes, excluding breakfast) apply:",
        ("table", [
            ["City", "Maximum rate per night"],
            ["Amsterdam", "EUR 195"],
            ["Hamburg", "EUR 165"],
            ["Munich", "EUR 185"],
            ["Gdansk", "EUR 115"],
            ["Porto", "EUR 125"],
            ["Paris", "EUR 215"],
            ["London", "EUR 235"],
            ["Austin", "EUR 225"],
            ["New York", "EUR 325"],
            ["Other cities", "EUR 150"],
        ]),
        "During major trade fairs (for example Hannover Messe) the limits may be exceeded by up "
        "to 50% with department head approval. Airbnb and similar rentals are allowed for stays "
        "of 5 nights or more if the total cost is lower than a hotel.",
    ]),
    ("4. Safety and insurance", [
        "All employees on business travel are covered by the company travel insurance, which "
        "includes medical costs, repatriation and lost luggage. The 24/7 travel assistance line "
        "is +31 30 799 4150; keep this number on your phone.",
        ("bullets", [
            "Register every trip in TravelDesk so we can reach you in an emergency.",
            "Carry your European Health Insurance Card when travelling within the EU.",
            "For installations at customer sites, bring your safety shoes and follow the site "
            "safety induction; Kite installers must hold a valid VCA certificate.",
            "Report any incident during travel to your manager and to the People team within 24 "
            "hours.",
        ]),
    ]),
    ("5. Visas and passports", [
        "You are responsible for a valid passport and visa. Corvia Travel advises on visa "
        "requirements; visa fees and passport photos for business trips are reimbursed. US "
        "trips require an approved ESTA at least 72 hours before departure.",
    ]),
    ("6. Loyalty programmes", [
        "You may keep airline miles and hotel points earned on business travel, but loyalty "
        "programmes must never influence your choice of airline or hotel.",
    ]),
    ("7. Related documents", [
        "Per diem rates, mileage and what is reimbursed are defined in the Expense Policy. "
        "Security rules for devices while travelling are in the Information Security Policy.",
    ]),
]


def build_travel_policy() -> Path:
    html = render_html("Travel Policy", "Policy FIN-POL-008 - version 2026.1 - effective "
                       "1 April 2026 - owners: Finance and People",
                       ["This policy explains how to plan and book business travel at "
                        "Aldermoor Instruments: approvals, booking channels, booking class "
                        "rules and hotel limits."], TRAVEL_SECTIONS)
    return write_text("travel_policy.html", html)


# ---------------------------------------------------------------------------
# 9. Onboarding guide (HTML)
# ---------------------------------------------------------------------------

ONBOARDING_SECTIONS: list[Section] = [
    ("1. Before your first day", [
        "About two weeks before your start date you receive an e-mail from the People team with "
        "your contract documents, a link to the HR portal and the name of your buddy. Please "
        "complete your personal details, bank account and emergency contact in the HR portal "
        "before your first day, and upload a copy of your passport or ID card so that payroll "
        "can register you.",
        "Your manager orders your laptop and phone; they are ready for you on day one. If you "
        "start as a fully remote employee, IT ships the laptop to your home address so that it "
        "arrives at least 2 working days before your start date.",
    ]),
    ("2. Your first day", [
        "New employees in Utrecht are welcomed on their first day at 09:30 at the reception on "
        "the ground floor of Catharijnesingel 212. Ask for the People team; Sanne de Groot or one "
        "of her colleagues will collect you and hand out your access badge. New colleagues in "
        "Hamburg, Gdansk, Porto and Austin follow the same programme in their local office with "
        "the local site lead, and join the company introduction by video.",
        "Bring your ID document: the badge photo is taken at reception, and in Germany and "
        "Poland your identity must be verified in person.",
    ]),
    ("3. First-week schedule", [
        ("table", [
            ["Day", "Time", "Activity", "Host"],
            ["Monday", "09:30", "Welcome at reception, badge and office tour", "People team"],
            ["Monday", "10:30", "Laptop and account set-up", "IT helpdesk"],
            ["Monday", "12:30", "Lunch with your team and your buddy", "Your manager"],
            ["Monday", "14:00", "HR paperwork, benefits and pension enrolment", "People team"],
            ["Monday", "15:30", "Security awareness training (90 minutes, mandatory)",
             "Security team"],
            ["Tuesday", "10:00", "Company introduction: history, strategy and values",
             "Ingrid Vermeulen (CEO)"],
            ["Tuesday", "13:30", "Kite hardware introduction and lab tour (live from Hamburg)",
             "Hardware Engineering"],
            ["Wednesday", "10:00", "Beacon platform demo and your own demo tenant",
             "Product team"],
            ["Wednesday", "14:00", "Shadowing a customer support shift", "Customer Support, Porto"],
            ["Thursday", "All day", "Anchor day: work with your team, first tasks", "Your manager"],
            ["Friday", "11:00", "Coffee with your buddy", "Your buddy"],
            ["Friday", "16:00", "Week-one check-in and 30-60-90 day plan", "Your manager"],
        ]),
    ]),
    ("4. Accounts and tools", [
        "The IT helpdesk creates your accounts before your first day. You activate them during "
        "the set-up session on Monday, including multi-factor authentication on your phone.",
        ("table", [
            ["Tool", "Used for", "Who gets it"],
            ["Microsoft 365", "E-mail, calendar, Teams, OneDrive", "Everyone"],
            ["Slack", "Team chat and incident channels", "Everyone"],
            ["HR portal", "Leave, sick leave, payslips, personal data", "Everyone"],
            ["Spendwise", "Expense claims and company cards", "Everyone"],
            ["TravelDesk", "Booking business travel", "Everyone"],
            ["Jira and Confluence", "Tickets, projects and documentation", "Everyone"],
            ["GitLab", "Source code, CI/CD", "Engineering"],
            ["PageRelay", "On-call schedules and paging", "Platform Engineering and SRE"],
            ["Salesforce", "Customers, opportunities, quotes", "Sales and Customer Success"],
            ["Beacon demo tenant", "Hands-on product experience", "Everyone"],
        ]),
        "Problems with accounts or your laptop? Contact the IT helpdesk; see the IT FAQ on the "
        "intranet for phone numbers and opening hours.",
    ]),
    ("5. Buddy programme", [
        "Every new employee gets a buddy from a different team for the first 3 months. Your "
        "buddy is not your manager: they help you find your way, explain unwritten rules and "
        "introduce you to people across the company.",
        ("bullets", [
            "Month 1: meet your buddy at least once a week.",
            "Months 2 and 3: meet at least every two weeks.",
            "Buddy lunches are paid by Aldermoor: up to 6 lunches with a maximum of EUR 20 per "
            "person, claimed by the buddy in Spendwise under the category Onboarding.",
            "After 3 months, you and your buddy fill in a short feedback form for the People team.",
        ]),
        "Want to become a buddy yourself? Employees with at least 9 months of service can sign "
        "up with the People team; buddies get one extra learning day per year.",
    ]),
    ("6. Your first 90 days", [
        "### Mandatory trainings",
        ("steps", [
            "Security awareness training - first Monday.",
            "Code of Conduct e-learning and signature - within 2 weeks.",
            "Data protection (GDPR) e-learning - within 30 days.",
            "Export control basics - within 30 days, for Sales, Support and Operations only.",
            "Site safety and lab induction - before your first visit to the Hamburg lab.",
        ]),
        "### Check-ins",
        "You have structured check-ins with your manager after 30, 60 and 90 days. At the "
        "90-day check-in you agree on your goals for the rest of the year.",
    ]),
    ("7. Useful contacts", [
        ("bullets", [
            "People team: people@aldermoor.example",
            "Office management Utrecht: facilities@aldermoor.example",
            "IT helpdesk: see the IT FAQ",
            "Security team: security@aldermoor.example",
        ]),
    ]),
]


def build_onboarding_guide() -> Path:
    html = render_html("Onboarding Guide for New Employees", "Maintained by the People team - "
                       "last updated 1 September 2026",
                       ["Welcome to Aldermoor Instruments! This guide explains what to expect "
                        "before and during your first week, which accounts you will get and how "
                        "our buddy programme works."], ONBOARDING_SECTIONS)
    return write_text("onboarding_guide.html", html)


# ---------------------------------------------------------------------------
# 10. Database failover runbook (plain text)
# ---------------------------------------------------------------------------

DB_FAILOVER_RUNBOOK = """\
BEACON PRODUCTION DATABASE - FAILOVER RUNBOOK
=============================================

Document:      OPS-RB-012
Version:       2.3
Last updated:  2026-06-18
Owner:         Karolina Wisniewska, Database Reliability Engineer (Gdansk)
Approved by:   Mateusz Zielinski, SRE Lead
Audience:      On-call engineers of Platform Engineering and SRE


1. PURPOSE
----------
This runbook describes how to move the leader (primary) role of the Beacon
production PostgreSQL cluster "beacon-main" to another node: as a planned
switchover, as an unplanned failover inside the Frankfurt region, or as a
disaster-recovery failover to the Amsterdam region. Follow the steps in order
and paste every command and its output into the incident or change channel.


2. ENVIRONMENT OVERVIEW
-----------------------
Software: PostgreSQL 16.4, Patroni 3.3 for high availability, etcd 3.5 as the
distributed configuration store, PgBouncer 1.23 for connection pooling and
pgBackRest 2.53 for backups. Hosting: Stratoline Cloud, regions fra1
(Frankfurt, primary) and ams1 (Amsterdam, disaster recovery).

  Host                                   IP address    Role
  -------------------------------------  ------------  --------------------------------
  pg-beacon-01.fra1.aldermoor.internal   10.20.4.11    Leader (primary), rack A
  pg-beacon-02.fra1.aldermoor.internal   10.20.4.12    Synchronous standby, rack C
  pg-beacon-03.ams1.aldermoor.internal   10.30.4.13    Asynchronous standby (DR cluster)
  pgb-beacon.fra1.aldermoor.internal     10.20.4.10    PgBouncer (virtual IP), port 6432
  pgb-beacon.ams1.aldermoor.internal     10.30.4.10    PgBouncer DR (virtual IP), port 6432
  bastion.fra1.aldermoor.internal        10.20.0.5     SSH bastion (recorded sessions)

Applications connect to the DNS name db-beacon.aldermoor.internal, a CNAME
with a TTL of 60 seconds that points to pgb-beacon.fra1.aldermoor.internal.

Backups: pgBackRest full backup every day at 01:00 UTC, differential backups
every 6 hours, continuous WAL archiving to object storage in both regions.
Backups are kept for 35 days.

Kite Gateway G5 devices buffer up to 7 days of measurements locally. During a
database outage sensor data is therefore delayed, not lost; gateways resend
buffered data once the ingestion API accepts writes again.


3. RECOVERY OBJECTIVES
----------------------
  Scenario                                 RPO            RTO
  ---------------------------------------  -------------  ------------
  Planned switchover (fra1)                0              2 minutes
  Unplanned in-region failover (fra1)      0              15 minutes
  Cross-region failover to ams1            5 minutes      45 minutes
  Point-in-time restore from backup        5 minutes      4 hours

RPO = maximum acceptable data loss, RTO = maximum time until the database
accepts writes again. The cross-region targets are agreed with customers in
the Enterprise service description and are tested twice a year (last test:
2026-05-12, achieved RTO 31 minutes, measured data loss 40 seconds).


4. WHEN TO USE WHICH PROCEDURE
------------------------------
- Leader crash or host failure in fra1: Patroni fails over automatically to
  pg-beacon-02 after the leader key expires (TTL 30 seconds). Use procedure B
  only to verify and clean up.
- Planned maintenance (OS patching, instance resize): procedure A, only in the
  maintenance window on Tuesdays between 05:00 and 07:00 CET.
- Complete loss of the fra1 region for more than 20 minutes, or a Stratoline
  status page confirming a regional outage: procedure C. The decision is taken
  by the Incident Commander together with the Head of Platform Engineering
  (Agnieszka Nowak) or, if she is unreachable, the CTO (Rafael Mendes).


5. PROCEDURE A - PLANNED SWITCHOVER
-----------------------------------
  1. Announce the change in #ops-changes at least 24 hours in advance and
     create a change ticket in the CHG project.
  2. Log in through the bastion:
       ssh -J bastion.fra1.aldermoor.internal pg-beacon-01.fra1.aldermoor.internal
  3. Check the cluster state; all members must be "running" or "streaming":
       patronictl -c /etc/patroni/patroni.yml list
  4. Check that replication lag on the synchronous standby is below 1 MB:
       sudo -u postgres psql -c "SELECT application_name, sync_state,
         pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS lag_bytes
         FROM pg_stat_replication;"
  5. Pause the Beacon background jobs (reports, exports):
       beaconctl jobs pause --all --reason CHG-<number>
  6. Run the switchover:
       patronictl -c /etc/patroni/patroni.yml switchover beacon-main \\
         --leader pg-beacon-01 --candidate pg-beacon-02 --force
  7. Confirm that pg-beacon-02 is the new leader and that pg-beacon-01 rejoins
     as a standby (patronictl list). PgBouncer follows automatically.
  8. Check application health:
       beaconctl health db
     Expected output: "write OK, read OK, replication OK".
  9. Resume the background jobs with "beaconctl jobs resume --all" and close
     the change ticket.


6. PROCEDURE B - UNPLANNED FAILOVER IN FRA1
-------------------------------------------
  1. Acknowledge the page and declare a SEV2 incident (SEV1 if writes fail for
     more than 5 minutes).
  2. Run "patronictl -c /etc/patroni/patroni.yml list" and check whether
     Patroni has already promoted pg-beacon-02.
  3. If no leader exists after 2 minutes, promote manually:
       patronictl -c /etc/patroni/patroni.yml failover beacon-main \\
         --candidate pg-beacon-02 --force
  4. Verify with "beaconctl health db" and watch the ingestion lag dashboard
     until the lag is below 60 seconds.
  5. Do NOT restart the failed node before the root cause is understood.
     Rebuild it as a standby with "patronictl reinit beacon-main pg-beacon-01".


7. PROCEDURE C - CROSS-REGION FAILOVER TO AMS1
----------------------------------------------
  1. Declare a SEV1 incident and open the incident bridge (see the incident
     response runbook). Record the decision and the time in the channel.
  2. Confirm that fra1 is unreachable from ams1 and from the office network,
     not only from your own connection.
  3. Stop all writers in fra1 if they are still reachable, to avoid split
     brain:
       beaconctl ingest pause --all
       beaconctl jobs pause --all --reason INC-<number>
  4. Check the last replayed WAL position on pg-beacon-03 and note it in the
     incident channel (this determines the actual data loss):
       sudo -u postgres psql -c "SELECT pg_last_wal_replay_lsn(),
         pg_last_xact_replay_timestamp();"
  5. Promote the DR cluster by removing its standby configuration:
       patronictl -c /etc/patroni/patroni-dr.yml edit-config beacon-dr \\
         --force -s standby_cluster=null
  6. Point the application DNS name to the DR connection pool:
       dnsctl set db-beacon.aldermoor.internal CNAME \\
         pgb-beacon.ams1.aldermoor.internal --ttl 60
  7. Scale the Beacon application tier in ams1 to production size:
       beaconctl scale --region eu-west --profile production
  8. Resume ingestion and jobs ("beaconctl ingest resume --all" and
     "beaconctl jobs resume --all") and verify with "beaconctl health db".
  9. Ask Customer Support to inform Gold and Platinum customers; the status
     page update is done by the Communications Lead.


8. FAILBACK TO FRA1
-------------------
Failback is a planned activity and is never done during the incident. When fra1
is healthy again, rebuild pg-beacon-01 and pg-beacon-02 as standbys of the ams1
leader, let them catch up for at least 24 hours, then perform procedure A in
reverse during a maintenance window, with at least 48 hours notice to Gold and
Platinum customers.


9. VERIFICATION CHECKLIST
-------------------------
  [ ] patronictl list shows exactly one leader
  [ ] beaconctl health db reports write OK, read OK
  [ ] ingestion lag below 60 seconds in all regions
  [ ] alarm engine processed a test alarm (beaconctl alarms test --tenant aldermoor-qa)
  [ ] backups run against the new leader (pgbackrest --stanza=beacon check)
  [ ] incident or change ticket updated with timeline and achieved RPO/RTO


10. CONTACTS
------------
  Karolina Wisniewska   Database Reliability Engineer   PageRelay: dbre
  Mateusz Zielinski     SRE Lead                        PageRelay: sre-lead
  Agnieszka Nowak       Head of Platform Engineering    PageRelay: eng-manager
  Stratoline Cloud      24/7 support, contract ALD-STR-2023-01, priority P1 via portal
"""


def build_db_failover_runbook() -> Path:
    return write_text("database_failover_runbook.txt", DB_FAILOVER_RUNBOOK)


# ---------------------------------------------------------------------------
# 11. IT FAQ (plain text Q&A)
# ---------------------------------------------------------------------------

IT_FAQ: list[tuple[str, str]] = [
    ("How do I contact the IT helpdesk?",
     "Call extension 4357 (H-E-L-P) from any office phone or from Teams, or +31 30 799 4357 "
     "from outside the company. You can also open a ticket in the IT self-service portal on the "
     "intranet or send an e-mail to helpdesk@aldermoor.example. Tickets are answered within 4 "
     "working hours."),
    ("When is the helpdesk open?",
     "Monday to Friday from 07:30 to 19:00 CET for all European offices. Colleagues in Austin "
     "are supported from 08:00 to 17:00 Central Time by our local IT specialist. Outside these "
     "hours the same number is answered by the IT on-call engineer, for urgent problems only "
     "(for example you cannot work at all, or a whole office is offline)."),
    ("How do I connect to the VPN?",
     "Company laptops have the Aldermoor Connect VPN client pre-installed. Click the shield "
     "icon, sign in with your company account and approve the MFA request. Choose the gateway "
     "EU-West (Amsterdam) or US-Central (Dallas); the client picks the nearest one "
     "automatically. The VPN connects automatically on untrusted networks such as hotel or "
     "train Wi-Fi. After 12 hours you have to sign in again."),
    ("The VPN says 'Device not compliant'. What now?",
     "Your laptop is missing updates or the endpoint protection is switched off. Open the "
     "Company Portal app, click 'Check compliance' and install the pending updates. Restart "
     "the laptop and try again after 15 minutes. If the message stays, call the helpdesk."),
    ("Which Wi-Fi network should I use in the office?",
     "Use ALD-Corp with your company laptop; it connects automatically with your device "
     "certificate, no password needed. Visitors and private devices use ALD-Guest. The "
     "ALD-Guest password changes every Monday at 06:00 and is shown on the screens at "
     "reception. In Hamburg, lab equipment uses the isolated ALD-Lab network; never connect "
     "your laptop to it."),
    ("How do I print?",
     "All offices use FollowMe printing. Print to the queue ALD-FollowMe, walk to any printer "
     "and hold your badge against the card reader to release the job. Jobs that are not "
     "released are deleted after 24 hours. In Utrecht there are printers on floors 2, 3 and 4; "
     "the A3 colour printer is next to the kitchen on floor 3. Scans are sent to your own "
     "mailbox."),
    ("I forgot my password or my account is locked. What do I do?",
     "Use the self-service password reset on the sign-in page; you need your registered MFA "
     "method. If that does not work, call the helpdesk. For your security the helpdesk "
     "verifies your identity with a short video call with your badge or ID before resetting the "
     "password. The password rules are in the Information Security Policy."),
    ("I got a new phone. How do I move my MFA?",
     "Keep your old phone until the new one works. Install the authenticator app on the new "
     "phone, go to the security info page of your account and add the new device, then remove "
     "the old one. If you no longer have the old phone, the helpdesk can issue a temporary "
     "access pass valid for 8 hours."),
    ("How do I request software or a licence?",
     "Open the IT self-service portal, choose Software request, and select the software from "
     "the catalogue. Standard software is installed automatically within an hour. Software "
     "that is not in the catalogue is checked by IT and Security, which takes up to 5 working "
     "days. Licences above EUR 500 per year need approval by your department head."),
    ("My laptop was lost or stolen. What should I do?",
     "Report it immediately to the helpdesk and to the Security team (see the Information "
     "Security Policy). The laptop is encrypted and will be wiped remotely. For theft, also "
     "file a police report and upload it to the ticket. You get a replacement laptop from the "
     "spare pool, usually the next working day."),
    ("How much storage do I have?",
     "Your mailbox is 100 GB and your OneDrive 1 TB. Team files belong in the team's SharePoint "
     "or Teams site, not in your personal OneDrive, so that they stay available when you leave."),
    ("How do I book and use a meeting room?",
     "Book rooms in the Outlook calendar; room names start with the city code, for example "
     "UTR-3-Domtoren. All rooms have a Teams Room system; press 'Join' on the touch panel to "
     "start the booked meeting. Report broken equipment with the QR code sticker on the table."),
    ("I received a suspicious e-mail. What do I do?",
     "Do not click links or open attachments. Use the 'Report phishing' button in Outlook; the "
     "e-mail is removed from your mailbox and analysed by the Security team. If you already "
     "clicked a link or entered your password, call the security hotline immediately."),
    ("Can I get an extra monitor or a different keyboard?",
     "Yes. Standard accessories (monitor, keyboard, mouse, headset, docking station) can be "
     "ordered in the self-service portal and are delivered to the office within 5 working "
     "days. Ergonomic equipment recommended by an occupational health assessment is always "
     "approved."),
    ("What happens with my devices when I leave the company?",
     "Return your laptop, phone, badge and accessories to IT on your last working day. Your "
     "accounts are disabled in the evening of your last day. You can buy your laptop if it is "
     "older than four years; see the Employee Handbook."),
]


def build_it_faq() -> Path:
    lines = [
        "ALDERMOOR INSTRUMENTS - IT HELPDESK FAQ",
        "=======================================",
        "",
        "Last updated: 15 September 2026. Maintained by Corporate IT (Head of IT: Jonas Becker).",
        "This FAQ answers the most common questions about IT at Aldermoor. For anything not",
        "covered here, contact the helpdesk.",
        "",
    ]
    for i, (question, answer) in enumerate(IT_FAQ, 1):
        lines.append(f"Q{i}. {question}")
        lines += textwrap.wrap(f"A: {answer}", width=88)
        lines.append("")
    return write_text("it_faq.txt", "\n".join(lines).rstrip() + "\n")


# ---------------------------------------------------------------------------
# 12. Price list 2026 (XLSX, three sheets)
# ---------------------------------------------------------------------------

HARDWARE_ROWS: list[list[object]] = [
    ["SKU", "Product", "Description", "Category", "List price (EUR)",
     "Discount 50+ units", "Discount 250+ units", "Lead time (weeks)", "Warranty (years)", "Status"],
    ["KT-V3-STD", "Kite V3 Standard", "Wireless vibration and temperature sensor, 868 MHz",
     "Sensor", 349, "8%", "15%", 2, 3, "Active"],
    ["KT-V3-STD-US", "Kite V3 Standard (US)", "Wireless vibration and temperature sensor, 915 MHz",
     "Sensor", 359, "8%", "15%", 3, 3, "Active"],
    ["KT-V3-EX", "Kite V3 EX", "Intrinsically safe vibration sensor for hazardous areas",
     "Sensor", 589, "6%", "12%", 4, 3, "Active"],
    ["KT-V3-HT", "Kite V3 HT", "High-temperature vibration sensor with 1.5 m remote probe",
     "Sensor", 449, "6%", "12%", 4, 3, "Active"],
    ["KT-V2-STD", "Kite V2 Standard", "Previous-generation vibration sensor (replacement only)",
     "Sensor", 299, "-", "-", 6, 2, "End of sale announced"],
    ["KT-T2", "Kite T2", "Wireless temperature and humidity sensor", "Sensor", 129,
     "10%", "18%", 2, 3, "Active"],
    ["KT-T2-PRB", "Kite T2 Probe", "Wireless temperature sensor with PT1000 probe, 2 m cable",
     "Sensor", 159, "10%", "18%", 2, 3, "Active"],
    ["KT-P1-16", "Kite P1 16 bar", "Wireless pressure sensor, 0-16 bar, G1/4 thread",
     "Sensor", 279, "8%", "15%", 3, 3, "Active"],
    ["KT-P1-40", "Kite P1 40 bar", "Wireless pressure sensor, 0-40 bar, G1/4 thread",
     "Sensor", 299, "8%", "15%", 3, 3, "Active"],
    ["KT-C1", "Kite C1", "Wireless current clamp sensor, up to 600 A", "Sensor", 239,
     "8%", "15%", 3, 3, "Active"],
    ["KT-GW5", "Kite Gateway G5", "Indoor gateway, Ethernet and LTE-M/4G, up to 250 sensors",
     "Gateway", 1290, "5%", "10%", 2, 3, "Active"],
    ["KT-GW5-OD", "Kite Gateway G5 Outdoor", "Gateway in outdoor enclosure, -30 C to +60 C, "
     "solar-ready, up to 250 sensors", "Gateway", 1690, "5%", "10%", 3, 3, "Active"],
    ["KT-GW4", "Kite Gateway G4", "Previous-generation gateway (replacement only)", "Gateway",
     990, "-", "-", 8, 2, "End of sale"],
    ["KT-RP2", "Kite Repeater R2", "Mains-powered range extender for KiteLink", "Gateway",
     389, "5%", "10%", 2, 2, "Active"],
    ["KT-ACC-MAG", "Magnetic mount", "Magnetic mounting base for flat surfaces", "Accessory",
     24, "-", "-", 1, 1, "Active"],
    ["KT-ACC-EPX", "Epoxy mounting pad kit", "10 mounting pads with M6 thread and adhesive",
     "Accessory", 45, "-", "-", 1, 1, "Active"],
    ["KT-ACC-BAT36", "Replacement battery pack", "3.6 V lithium battery pack for Kite V3",
     "Accessory", 39, "10%", "20%", 1, 1, "Active"],
    ["KT-ACC-ANT6", "High-gain antenna", "6 dBi external antenna for Kite Gateway G5",
     "Accessory", 79, "-", "-", 1, 1, "Active"],
    ["KT-ACC-POE", "PoE injector", "802.3at power-over-Ethernet injector for gateways",
     "Accessory", 59, "-", "-", 1, 1, "Active"],
    ["KT-ACC-STUD", "Stud adapter set", "Adapters M6 to M8 and 1/4-28 UNF, 10 pieces",
     "Accessory", 19, "-", "-", 1, 1, "Active"],
    ["KT-TOOL-01", "Cover key", "Tool for opening the Kite V3 cover", "Accessory", 12,
     "-", "-", 1, 1, "Active"],
    ["KT-KIT-DEMO", "Demo kit", "3 x Kite V3 Standard, 1 x Gateway G5, transport case",
     "Kit", 1490, "-", "-", 2, 3, "Active"],
    ["KT-KIT-START", "Starter kit", "10 x Kite V3 Standard, 1 x Gateway G5, 12 months Beacon "
     "Professional", "Kit", 4990, "-", "-", 2, 3, "Active"],
]

SUBSCRIPTION_ROWS: list[list[object]] = [
    ["SKU", "Plan / add-on", "Billing", "Minimum term", "List price (EUR)", "Unit",
     "Minimum quantity", "Data retention", "Included support tier", "Discount 500+ sensors"],
    ["BCN-STR-12", "Beacon Starter", "Annual", "12 months", 36, "per sensor per year", 10,
     "12 months", "Basic", "-"],
    ["BCN-STR-M", "Beacon Starter", "Monthly", "1 month", 3.5, "per sensor per month", 10,
     "12 months", "Basic", "-"],
    ["BCN-PRO-12", "Beacon Professional", "Annual", "12 months", 58, "per sensor per year", 25,
     "3 years", "Silver", "10%"],
    ["BCN-PRO-M", "Beacon Professional", "Monthly", "1 month", 5.5, "per sensor per month", 25,
     "3 years", "Silver", "-"],
    ["BCN-PRO-36", "Beacon Professional", "3 years prepaid", "36 months", 52,
     "per sensor per year", 25, "3 years", "Silver", "10%"],
    ["BCN-ENT-12", "Beacon Enterprise", "Annual", "12 months", 86, "per sensor per year", 250,
     "7 years", "Gold", "15%"],
    ["BCN-ENT-36", "Beacon Enterprise", "3 years prepaid", "36 months", 78,
     "per sensor per year", 250, "7 years", "Gold", "15%"],
    ["BCN-EDU-12", "Beacon Professional for universities", "Annual", "12 months", 29,
     "per sensor per year", 10, "3 years", "Basic", "-"],
    ["BCN-PILOT-3", "Beacon pilot (Starter features, up to 25 sensors)", "One-off", "3 months", 0,
     "per pilot", 1, "12 months", "Basic", "-"],
    ["BCN-ADD-PRED", "Predictive Analytics add-on (Professional and Enterprise)", "Annual",
     "12 months", 18, "per sensor per year", 25, "-", "-", "10%"],
    ["BCN-ADD-RET5", "Data retention extension +5 years", "Annual", "12 months", 6,
     "per sensor per year", 25, "+5 years", "-", "-"],
    ["BCN-ADD-SSO", "SAML single sign-on for Starter", "Annual", "12 months", 490,
     "per tenant per year", 1, "-", "-", "-"],
    ["BCN-ADD-API", "API high-volume pack (10x rate limits)", "Annual", "12 months", 2400,
     "per tenant per year", 1, "-", "-", "-"],
    ["BCN-ADD-STG", "Staging tenant", "Annual", "12 months", 3600, "per tenant per year", 1,
     "90 days", "-", "-"],
    ["BCN-ADD-SMS", "SMS notification pack, 10,000 messages", "One-off", "-", 450, "per pack", 1,
     "-", "-", "-"],
    ["BCN-ADD-LTE", "LTE data plan for Kite gateways, EU roaming", "Annual", "12 months", 96,
     "per gateway per year", 1, "-", "-", "-"],
    ["BCN-ADD-OPC", "OPC UA historian connector", "Annual", "12 months", 1200,
     "per site per year", 1, "-", "-", "-"],
    ["BCN-ADD-EXT", "External user pack (25 contractor accounts)", "Annual", "12 months", 600,
     "per pack per year", 1, "-", "-", "-"],
    ["BCN-ADD-REP", "Custom report templates (up to 5)", "One-off", "-", 1500, "per tenant", 1,
     "-", "-", "-"],
    ["BCN-ADD-DED", "Dedicated database (single tenant), Enterprise only", "Annual",
     "36 months", 24000, "per tenant per year", 1, "as plan", "-", "-"],
]

SERVICE_ROWS: list[list[object]] = [
    ["SKU", "Service", "Description", "Unit", "List price (EUR)", "Notes"],
    ["SVC-SURVEY", "Site survey", "Radio survey and measurement point selection", "per site",
     1450, "Credited against hardware orders above EUR 20,000"],
    ["SVC-INST-DAY", "Installation day", "Technician installs up to 40 sensors per day",
     "per day", 1150, "Travel charged separately"],
    ["SVC-TRAVEL-EU", "Travel flat fee Europe", "Travel and accommodation for on-site work",
     "per trip", 350, "Outside Europe on quotation"],
    ["SVC-COMM-REM", "Remote commissioning", "Remote support while the customer installs",
     "per site", 450, "Up to 4 hours"],
    ["SVC-TRAIN-ONL", "Online training", "4-hour Beacon user training, up to 12 participants",
     "per session", 690, "-"],
    ["SVC-TRAIN-ONS", "On-site training", "1-day Beacon and vibration basics training",
     "per day", 1850, "Plus travel flat fee"],
    ["SVC-CAL", "Calibration service", "Factory recalibration with certificate",
     "per sensor", 85, "Turnaround 10 working days"],
    ["SVC-ANALYST", "Vibration analyst service", "Monthly expert review and report",
     "per machine per month", 40, "Minimum 20 machines"],
    ["SVC-ONB-ENT", "Enterprise onboarding package", "Project management, integration workshop, "
     "alarm design", "per project", 7500, "Recommended for more than 500 sensors"],
    ["SVC-INTEG", "Integration engineering", "Custom integration with CMMS or ERP",
     "per day", 1250, "-"],
    ["SVC-RMA-EXP", "Express replacement", "Replacement unit shipped next working day",
     "per unit", 95, "EU only"],
    ["SVC-HEALTH", "Annual health check", "Review of sensor fleet, alarms and configuration",
     "per year", 2900, "Included in Platinum support"],
]


def build_price_list() -> Path:
    return build_xlsx("price_list_2026.xlsx", "Aldermoor Price List 2026 (valid from 1 January 2026)", [
        ("Hardware", HARDWARE_ROWS, [15, 26, 58, 11, 15, 14, 14, 14, 14, 22]),
        ("Subscriptions", SUBSCRIPTION_ROWS, [15, 52, 16, 14, 15, 22, 14, 14, 18, 16]),
        ("Services", SERVICE_ROWS, [15, 30, 58, 22, 15, 44]),
    ])


# ---------------------------------------------------------------------------
# 13. Support tiers (CSV, one row per plan and severity)
# ---------------------------------------------------------------------------

SUPPORT_PLANS = {
    # plan: (annual price EUR, included with, coverage hours, channels, named contact, uptime SLA)
    "Basic": (0, "Beacon Starter", "Mon-Fri 09:00-17:00 CET", "Portal, e-mail", "No", "99.5%"),
    "Silver": (2400, "Beacon Professional", "Mon-Fri 08:00-18:00 CET", "Portal, e-mail, phone",
               "No", "99.9%"),
    "Gold": (9600, "Beacon Enterprise", "Mon-Fri 07:00-20:00 CET; 24/7 for Sev1",
             "Portal, e-mail, phone", "Customer success manager", "99.9%"),
    "Platinum": (24000, "-", "24/7 for all severities", "Portal, e-mail, phone, shared chat",
                 "Technical account manager", "99.95%"),
}

SEVERITIES = {
    "Sev1": "Critical - Beacon unavailable or no data from a whole site",
    "Sev2": "High - major function impaired, no workaround",
    "Sev3": "Medium - function impaired, workaround available",
    "Sev4": "Low - question or cosmetic issue",
    "Service request": "Configuration change, user administration, RMA",
}

# plan -> severity -> (first response, update interval, target restoration)
SUPPORT_TARGETS = {
    "Basic": {
        "Sev1": ("8 business hours", "Daily", "3 business days"),
        "Sev2": ("1 business day", "Every 2 business days", "5 business days"),
        "Sev3": ("2 business days", "Weekly", "Next release"),
        "Sev4": ("5 business days", "On resolution", "Best effort"),
        "Service request": ("5 business days", "On completion", "10 business days"),
    },
    "Silver": {
        "Sev1": ("2 hours", "Every 4 hours", "1 business day"),
        "Sev2": ("4 business hours", "Daily", "3 business days"),
        "Sev3": ("1 business day", "Every 3 business days", "Next release"),
        "Sev4": ("3 business days", "On resolution", "Best effort"),
        "Service request": ("3 business days", "On completion", "5 business days"),
    },
    "Gold": {
        "Sev1": ("30 minutes", "Every 2 hours", "8 hours"),
        "Sev2": ("2 business hours", "Every 8 business hours", "2 business days"),
        "Sev3": ("8 business hours", "Every 2 business days", "Next release"),
        "Sev4": ("2 business days", "On resolution", "Best effort"),
        "Service request": ("2 business days", "On completion", "3 business days"),
    },
    "Platinum": {
        "Sev1": ("15 minutes", "Every hour", "4 hours"),
        "Sev2": ("1 hour", "Every 4 hours", "1 business day"),
        "Sev3": ("4 hours", "Daily", "Next release"),
        "Sev4": ("1 business day", "On resolution", "Best effort"),
        "Service request": ("1 business day", "On completion", "2 business days"),
    },
}


def build_support_tiers() -> Path:
    rows: list[list[object]] = [[
        "plan", "annual_price_eur", "included_with", "coverage_hours", "channels",
        "named_contact", "uptime_sla", "severity", "severity_definition",
        "first_response_target", "update_interval", "target_restoration",
    ]]
    for plan, (price, included, hours, channels, contact, sla) in SUPPORT_PLANS.items():
        for severity, definition in SEVERITIES.items():
            first, update, restore = SUPPORT_TARGETS[plan][severity]
            rows.append([plan, price, included, hours, channels, contact, sla, severity,
                         definition, first, update, restore])
    return build_csv("support_tiers.csv", rows)


# ---------------------------------------------------------------------------
# 14. Office directory (CSV)
# ---------------------------------------------------------------------------

OFFICES = {
    # office: (country, address, main phone, opening hours)
    "Utrecht (HQ)": ("Netherlands", "Catharijnesingel 212, 3511 GC Utrecht", "+31 30 799 4000",
                     "Mon-Fri 07:30-19:00"),
    "Hamburg": ("Germany", "Am Sandtorkai 64, 20457 Hamburg", "+49 40 3861 2000",
                "Mon-Fri 07:00-18:30"),
    "Gdansk": ("Poland", "ul. Grunwaldzka 415, 80-309 Gdansk", "+48 58 732 3000",
               "Mon-Fri 08:00-18:00"),
    "Porto": ("Portugal", "Rua de Ceuta 118, 4050-190 Porto", "+351 22 604 4000",
              "Mon-Fri 07:00-20:00"),
    "Austin": ("United States", "600 Congress Avenue, Suite 1450, Austin, TX 78701",
               "+1 512 555 0150", "Mon-Fri 08:00-18:00"),
}

# (office, team, team lead, extension, headcount, floor, team e-mail)
DIRECTORY: list[tuple[str, str, str, int, int, str, str]] = [
    ("Utrecht (HQ)", "Executive Office", "Ingrid Vermeulen", 1000, 6, "5", "office.ceo"),
    ("Utrecht (HQ)", "Finance", "Tomasz Kowalczyk", 1100, 14, "4", "finance"),
    ("Utrecht (HQ)", "People", "Sanne de Groot", 1200, 11, "4", "people"),
    ("Utrecht (HQ)", "Legal and Compliance", "Pieter Jansen", 1250, 5, "4", "legal"),
    ("Utrecht (HQ)", "Security", "Priya Raman", 1300, 7, "3", "security"),
    ("Utrecht (HQ)", "Corporate IT", "Jonas Becker", 1400, 12, "2", "it"),
    ("Utrecht (HQ)", "Product Management", "Lucas Brandt", 1500, 13, "3", "product"),
    ("Utrecht (HQ)", "Platform Engineering - Web", "Joost van Dijk", 1550, 19, "3", "web-eng"),
    ("Utrecht (HQ)", "Sales Benelux and Nordics", "Marcus Lindqvist", 1600, 24, "2", "sales.nl"),
    ("Utrecht (HQ)", "Marketing", "Chloe Martens", 1700, 16, "2", "marketing"),
    ("Utrecht (HQ)", "Data Science", "Yusuf Demir", 1800, 14, "3", "datascience"),
    ("Utrecht (HQ)", "Facilities", "Linda Visser", 1900, 6, "0", "facilities"),
    ("Hamburg", "Hardware Engineering", "Henrik Olsen", 2100, 38, "3", "hardware"),
    ("Hamburg", "Firmware", "Katrin Schulz", 2200, 21, "3", "firmware"),
    ("Hamburg", "Manufacturing and Supply Chain", "Felix Hartmann", 2300, 14, "2", "supply"),
    ("Hamburg", "Sales DACH", "Julia Wagner", 2400, 17, "2", "sales.de"),
    ("Hamburg", "Warehouse and Logistics", "Dirk Peters", 2500, 9, "0", "logistics"),
    ("Gdansk", "Platform Engineering - Core", "Agnieszka Nowak", 3100, 52, "7", "platform"),
    ("Gdansk", "Site Reliability Engineering", "Mateusz Zielinski", 3200, 11, "7", "sre"),
    ("Gdansk", "Data Platform and DBRE", "Piotr Kaminski", 3300, 12, "7", "dataplatform"),
    ("Gdansk", "QA and Release Management", "Marta Lewandowska", 3400, 10, "6", "qa"),
    ("Porto", "Customer Support", "Beatriz Almeida", 4100, 29, "1", "support"),
    ("Porto", "Customer Success", "Tiago Ferreira", 4200, 12, "1", "success"),
    ("Porto", "Sales Southern Europe", "Ines Carvalho", 4300, 6, "2", "sales.pt"),
    ("Austin", "Sales North America", "Dana Whitfield", 5100, 12, "14", "sales.us"),
    ("Austin", "Customer Success North America", "Ryan Caldwell", 5200, 6, "14", "success.us"),
]
TOTAL_HEADCOUNT = 396  # also quoted on the Q3 2026 all-hands slides


def build_office_directory() -> Path:
    assert sum(row[4] for row in DIRECTORY) == TOTAL_HEADCOUNT, "directory headcount mismatch"
    rows: list[list[object]] = [[
        "office", "country", "address", "main_phone", "opening_hours", "team", "team_lead",
        "phone_extension", "headcount", "floor", "team_email",
    ]]
    for office, team, lead, ext, heads, floor, mailbox in DIRECTORY:
        country, address, phone, hours = OFFICES[office]
        rows.append([office, country, address, phone, hours, team, lead, ext, heads, floor,
                     f"{mailbox}@{MAIL_DOMAIN}"])
    return build_csv("office_directory.csv", rows)


# ---------------------------------------------------------------------------
# 15. Q3 2026 all-hands (PPTX)
# ---------------------------------------------------------------------------

ALL_HANDS_SLIDES: list[Slide] = [
    ("Agenda", [
        "Q3 2026 at a glance - Tomasz Kowalczyk, CFO",
        "Revenue by region and customer wins - Marcus Lindqvist, VP Sales",
        "Product and engineering update - Rafael Mendes, CTO",
        "Operations and customer support - Beatriz Almeida",
        "People update - Sanne de Groot",
        "Q4 2026 goals and open Q&A - Ingrid Vermeulen, CEO",
    ]),
    ("Q3 2026 at a glance", [
        "Revenue: EUR 14.8 million, up 23% on Q3 2025 (budget: EUR 14.1 million)",
        "Beacon annual recurring revenue (ARR): EUR 31.6 million, up 34% year on year",
        "Gross margin: 61.4% (Q2 2026: 59.8%)",
        "47 new customers signed in the quarter; 612 customers in total",
        "Net revenue retention: 118%",
        "Cash position at 30 September 2026: EUR 22.3 million",
    ]),
    ("Revenue by region", ("table", [
        ["Region", "Q3 2025", "Q3 2026", "Growth"],
        ["Benelux", "EUR 3.2M", "EUR 3.6M", "+12.5%"],
        ["DACH", "EUR 4.1M", "EUR 5.2M", "+26.8%"],
        ["Nordics", "EUR 1.2M", "EUR 1.5M", "+25.0%"],
        ["Southern Europe", "EUR 1.1M", "EUR 1.3M", "+18.2%"],
        ["North America", "EUR 1.9M", "EUR 2.6M", "+36.8%"],
        ["Rest of world", "EUR 0.5M", "EUR 0.6M", "+20.0%"],
        ["Total", "EUR 12.0M", "EUR 14.8M", "+23.3%"],
    ], "North America is our fastest-growing region for the third quarter in a row.")),
    ("Customer wins in Q3", [
        "Nordhaven Port Authority (Denmark): 1,200 Kite V3 sensors on ship-to-shore cranes, "
        "3-year Beacon Enterprise contract - our largest single order to date",
        "Lakeside Water District (Texas): 800 sensors on 14 pumping stations - first US public "
        "utility customer",
        "Brauerei Kessler (Bavaria): 640 sensors across 3 breweries, Predictive Analytics add-on",
        "Skarholm Bruk paper mill (Sweden): expansion from pilot to 420 sensors",
        "Ferrovia Litoral (Portugal): 300 sensors in the Contumil rail depot",
    ]),
    ("Product and engineering", [
        "Beacon 4.3 released on 8 September: fleet health dashboard, automatic ISO 20816 zones",
        "Record quarter for hardware: 18,400 Kite sensors shipped (Q2: 14,900)",
        "Kite V3 EX received its ATEX/IECEx certificate on 19 August - first orders shipped",
        "Kite Gateway G6 beta starts in November with 3 pilot customers",
        "Predictive Analytics now used by 74 customers, 3 months after general availability",
    ]),
    ("Operations and customer support", [
        "Beacon uptime in Q3: 99.97% (target 99.9%)",
        "2 SEV1 incidents: ingestion outage on 3 July (52 minutes) and alarm delays on "
        "21 August (38 minutes); postmortems on the intranet",
        "Customer satisfaction (CSAT) for support tickets: 94.1%",
        "Median first response time across all support plans: 38 minutes",
        "On-time delivery of hardware orders: 96% despite the MEMS component shortage",
    ]),
    ("People", [
        "Headcount on 30 September: 396 employees (+31 in Q3)",
        "22 open positions, of which 9 in Platform Engineering in Gdansk",
        "Employee NPS: 41 (+6 points since the spring survey)",
        "The Austin team moved into its new office on Congress Avenue in July",
        "Welcome to Yusuf Demir, our new Head of Data Science (started 1 August)",
    ]),
    ("Q4 2026 goals", [
        "Revenue of EUR 16.5 million and 55 new customers",
        "Ship Beacon 4.4 in December",
        "Complete the SOC 2 Type II audit (fieldwork in November)",
        "Start the Kite Gateway G6 beta and collect feedback from all 3 pilot sites",
        "Reach CSAT of 95% and keep Beacon uptime above 99.9%",
    ]),
    ("Dates and Q&A", [
        "Customer Advisory Board: 5 November 2026 in Utrecht",
        "Next all-hands (Q4 results): Thursday 14 January 2027, 16:00 CET",
        "Questions after today: post them in #all-hands or ask your manager",
        "Thank you all for a record quarter!",
    ]),
]

ALL_HANDS_NOTES = {
    4: "Growth in DACH is driven by the brewery and food segment; Nordics by paper and pulp.",
    5: "Nordhaven go-live is phased: first 400 sensors in October, the rest by February 2027.",
}


def build_all_hands() -> Path:
    return build_pptx("q3_2026_all_hands.pptx", "Q3 2026 All-Hands",
                      "Aldermoor Instruments - Thursday 8 October 2026 - Utrecht and livestream",
                      "Quarterly all-hands meeting Q3 2026", ALL_HANDS_SLIDES, ALL_HANDS_NOTES)


# ---------------------------------------------------------------------------
# 16. Product roadmap 2027 (PPTX)
# ---------------------------------------------------------------------------

ROADMAP_SLIDES: list[Slide] = [
    ("Roadmap themes for 2027", [
        "Broaden sensing: new sensors for new failure modes and harsher environments",
        "Predictive everywhere: anomaly detection and remaining useful life for every machine",
        "Enterprise readiness: on-premises option, partner portal, OPC UA",
        "Grow North America: US-specific certifications and integrations",
    ]),
    ("Q1 2027", [
        "Kite Gateway G6 - general availability 15 March 2027",
        (1, "5G RedCap and LTE-M, PoE++ powered, up to 500 sensors per gateway"),
        (1, "Local buffering of 30 days of data (G5: 7 days)"),
        "Beacon 4.5 - January 2027",
        (1, "Maintenance work orders synchronised with SAP PM and IBM Maximo"),
        "Beacon mobile app 5: offline route-based inspections",
    ]),
    ("Q2 2027: Beacon 5.0", [
        "General availability planned for 8 June 2027",
        "New rules engine: combine vibration, temperature, pressure and current in one alarm",
        "Per-machine anomaly detection trained automatically after 14 days of data",
        "Partner portal for distributors and service companies (multi-tenant management)",
        "Built-in OPC UA server for connecting Beacon to plant historians",
    ]),
    ("Q3 2027: Kite V4", [
        "Launch planned for 14 September 2027",
        "Battery life up to 10 years at a 15-minute reporting interval",
        "Measuring range +/-50 g, frequency range up to 10 kHz",
        "On-sensor FFT: spectra computed on the sensor to save radio time",
        "Target list price EUR 329 (Kite V3 Standard: EUR 349)",
    ]),
    ("Q4 2027", [
        "Beacon Edge: on-premises edition for customers that cannot use cloud services",
        (1, "Runs on customer servers or on a Gateway G6 cluster; beta in Q4, GA in 2028"),
        "Kite C2 current sensor with power quality measurements",
        "UL certification for Kite V4 and Gateway G6 for the North American market",
    ]),
    ("Roadmap overview", ("table", [
        ["Item", "Target date", "Owner", "Status"],
        ["Kite Gateway G6", "15 March 2027", "Henrik Olsen", "Beta from November 2026"],
        ["Beacon 4.5", "January 2027", "Lucas Brandt", "In development"],
        ["Beacon 5.0", "8 June 2027", "Agnieszka Nowak", "Design complete"],
        ["Kite V4", "14 September 2027", "Henrik Olsen", "Prototype (EVT)"],
        ["Beacon Edge beta", "Q4 2027", "Rafael Mendes", "Discovery"],
        ["Kite C2", "Q4 2027", "Katrin Schulz", "Concept"],
    ])),
    ("Deprecations and end of life", [
        "Beacon API v2: sunset on 31 March 2027 - all integrations must use API v3",
        "Kite V2: end of sale 30 June 2027, end of support 30 June 2029",
        "Kite Gateway G4: end of support 31 December 2027",
        "Beacon mobile app: Android versions older than 12 no longer supported from Beacon 5.0",
    ]),
    ("Risks and dependencies", [
        "MEMS accelerometer supply: second source qualification needed for Kite V4",
        "5G RedCap certification with European mobile operators may take 4-6 months",
        "Hiring: 14 additional engineers needed in Gdansk and Hamburg in H1 2027",
        "Roadmap dates are targets, not commitments; do not share dates with customers "
        "without approval from Product Management",
    ]),
]


def build_roadmap() -> Path:
    return build_pptx("product_roadmap_2027.pptx", "Product Roadmap 2027",
                      "Lucas Brandt, Head of Product - version 1.2, 20 October 2026 - "
                      "Internal, do not forward", "Product roadmap 2027", ROADMAP_SLIDES,
                      {7: "Owners are accountable for the date; status as of 20 October 2026."})


# ---------------------------------------------------------------------------
# 17. Meeting notes e-mail (EML)
# ---------------------------------------------------------------------------

MEETING_NOTES_BODY = """\
Hi all,

Below are the notes of today's Product and Operations leadership meeting.
Please check your action items and reply by Wednesday if anything is wrong.

Meeting:    Product and Operations leadership meeting (weekly)
Date/time:  Monday 14 September 2026, 14:00-15:30 CEST
Location:   Utrecht, meeting room UTR-5-Dom, and Teams
Attendees:  Ingrid Vermeulen (chair), Rafael Mendes, Tomasz Kowalczyk,
            Lucas Brandt, Henrik Olsen, Agnieszka Nowak, Beatriz Almeida,
            Karolina Wisniewska (item 3), Noor Bakker (notes)
Absent:     Marcus Lindqvist (customer visit in Stockholm)

AGENDA
1. Kite V3 supply for Q4
2. Beacon 4.4 scope and release date
3. Database upgrade of the Beacon production cluster
4. Gold support pricing for 2027
5. SRE staffing in Gdansk

DISCUSSION AND DECISIONS

1. Kite V3 supply for Q4
Henrik reported that the Q4 forecast now exceeds the planned production
at Voss Elektronik because of the large port and water utility orders
signed in Q3. Current Q4 order: 12,000 units. Voss can deliver up to
17,000 units in Q4 if the order is confirmed before the end of September.
DECISION D1: Increase the Q4 production order for Kite V3 by 4,000 units
(from 12,000 to 16,000). Tomasz confirmed that the working capital impact
of about EUR 0.9 million is acceptable.

2. Beacon 4.4 scope and release date
Lucas presented the candidate scope: work order integration preview,
configurable dashboards per role, and a new alarm inbox. The alarm inbox
is at risk; the team proposes to move it to 4.5.
DECISION D2: Feature freeze for Beacon 4.4 on Friday 9 October 2026;
release on Tuesday 1 December 2026. The alarm inbox moves to Beacon 4.5.

3. Database upgrade of the Beacon production cluster
Karolina explained that PostgreSQL 16 remains supported, but version 17
brings faster incremental backups and logical replication of failover
slots, which simplifies the cross-region setup.
DECISION D3: Upgrade the Beacon production cluster to PostgreSQL 17,
including a full cross-region failover test in the staging environment
first. Customers get 14 days notice of the maintenance window.

4. Gold support pricing for 2027
Beatriz showed that the Gold plan now costs more to deliver than its
price because of the 24/7 Sev1 coverage.
DECISION D4: Raise the Gold support price for new contracts from
EUR 9,600 to EUR 10,400 per year, effective 1 January 2027. Existing
contracts keep their price until renewal.

5. SRE staffing in Gdansk
Agnieszka asked for two additional SRE positions to reduce the on-call
load (currently one week in five for every SRE).
DECISION D5: Approved. Two SRE positions are added to the 2026 budget;
Tomasz will adjust the forecast.

ACTION ITEMS

A1  Place the revised Q4 order with Voss Elektronik.
    Owner: Henrik Olsen. Due: 25 September 2026.
A2  Update the Q4 cash forecast (D1 and D5).
    Owner: Tomasz Kowalczyk. Due: 30 September 2026.
A3  Communicate the Beacon 4.4 scope change to Sales.
    Owner: Lucas Brandt. Due: 18 September 2026.
A4  PostgreSQL 17 upgrade plan and staging failover test.
    Owner: Karolina Wisniewska. Due: 16 October 2026.
A5  Production cluster upgraded to PostgreSQL 17.
    Owner: Karolina Wisniewska. Due: 20 November 2026.
A6  New Gold support price in the price list and contract templates.
    Owner: Beatriz Almeida. Due: 30 October 2026.
A7  Open the two SRE vacancies in Gdansk.
    Owner: Agnieszka Nowak. Due: 25 September 2026.

NEXT MEETING
Monday 21 September 2026, 14:00 CEST, same room.

Best regards,
Noor Bakker
Chief of Staff to the CEO
Aldermoor Instruments B.V.
"""


def build_meeting_notes() -> Path:
    return build_eml("meeting_notes_2026-09-14.eml", {
        "From": person("Noor Bakker"),
        "To": f"leadership@{MAIL_DOMAIN}",
        "Cc": person("Karolina Wisniewska"),
        "Date": "Mon, 14 Sep 2026 17:42:10 +0200",
        "Subject": "Notes: Product and Operations leadership meeting, 14 September 2026",
        "Message-ID": f"<20260914174210.notes.4412@{MAIL_DOMAIN}>",
    }, MEETING_NOTES_BODY)


# ---------------------------------------------------------------------------
# 18. Vendor contract renewal e-mail thread (EML)
# ---------------------------------------------------------------------------

VENDOR_RENEWAL_BODY = """\
Hi Tomasz,

As requested, here is the summary of the Stratoline Cloud renewal, including
the result of yesterday's negotiation call. We need your decision by Friday
25 September so that Pieter can finalise the contract before the notice
deadline.

CURRENT CONTRACT
- Contract ALD-STR-2023-01 with Stratoline Cloud GmbH (Frankfurt), covering
  the Beacon production hosting in fra1 and the DR environment in ams1.
- Term: 1 January 2024 to 31 December 2026 (3 years).
- Annual committed spend: EUR 162,000 per year.
- Notice period: 90 days before the end of the term. If we do nothing, the
  contract renews automatically for 12 months at the then-current list
  prices, which would be roughly 20% more expensive.
- Last day to give notice or sign the renewal: 2 October 2026.

STRATOLINE'S FIRST OFFER (received 3 September)
- 3-year renewal at EUR 184,500 per year (+13.9%), price indexation of up
  to 5% per year in years 2 and 3.

NEGOTIATED OFFER (call on 16 September, confirmed in writing today)
- Term: 1 January 2027 to 31 December 2029 (3 years).
- Annual committed spend: EUR 171,600 per year, fixed for all three years
  (no indexation). Total contract value: EUR 514,800.
- 12% discount on usage above the committed spend (currently we exceed the
  commitment by about EUR 18,000 per year).
- Reserved DR capacity in ams1 at no extra cost (today EUR 9,000 per year).
- Uptime SLA raised from 99.9% to 99.95%, service credits up to 15% of the
  monthly fee.
- Exit assistance for 6 months and a data deletion certificate within
  30 days after the end of the contract.

ALTERNATIVES
Agnieszka's team estimated a migration to another provider at about
EUR 310,000 one-off cost plus 9 months of engineering time, so a move does
not pay back within the 3-year term. We re-evaluate in 2028.

RECOMMENDATION
Accept the negotiated offer. Because the total contract value is above
EUR 500,000, the contract needs your approval and Ingrid's signature.
Pieter has reviewed the DPA and the liability cap (12 months of fees) and
has no objections.

NEXT STEPS
1. Tomasz: approve or reject by 25 September 2026.
2. Pieter: final contract to Stratoline by 29 September 2026.
3. Ingrid: signature by 1 October 2026 (one day before the deadline).
4. Olga: update the contract register and the purchase order for 2027.

Kind regards,
Olga Petrova
Procurement Manager, Aldermoor Instruments B.V.
Utrecht | ext. 1120

-----Original message-----
From: Tomasz Kowalczyk
Sent: Tuesday, 15 September 2026 18:05
To: Olga Petrova
Cc: Rafael Mendes; Pieter Jansen
Subject: Stratoline Cloud contract renewal

> Olga, the Stratoline contract ends this year, right? Can you send me
> a short summary of the options before the end of the week, with the
> amounts and the deadline? I want to decide before the end of September.
>
> Thanks, Tomasz
"""


def build_vendor_renewal() -> Path:
    return build_eml("vendor_contract_renewal.eml", {
        "From": person("Olga Petrova"),
        "To": person("Tomasz Kowalczyk"),
        "Cc": ", ".join(person(p) for p in ("Rafael Mendes", "Pieter Jansen", "Agnieszka Nowak")),
        "Date": "Thu, 17 Sep 2026 11:20:45 +0200",
        "Subject": "RE: Stratoline Cloud contract renewal - decision by 25 Sep",
        "Message-ID": f"<20260917112045.renewal.7719@{MAIL_DOMAIN}>",
        "In-Reply-To": f"<20260915180502.tk.3301@{MAIL_DOMAIN}>",
        "References": f"<20260915180502.tk.3301@{MAIL_DOMAIN}>",
    }, VENDOR_RENEWAL_BODY)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

BUILDERS = [
    build_employee_handbook,
    build_data_retention_policy,
    build_information_security_policy,
    build_product_spec,
    build_expense_policy,
    build_incident_runbook,
    build_release_notes,
    build_travel_policy,
    build_onboarding_guide,
    build_db_failover_runbook,
    build_it_faq,
    build_price_list,
    build_support_tiers,
    build_office_directory,
    build_all_hands,
    build_roadmap,
    build_meeting_notes,
    build_vendor_renewal,
]


def main() -> None:
    for builder in BUILDERS:
        path = builder()
        print(f"wrote {path.name} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
