#!/usr/bin/env python3
"""Write the first version of the Word templates of SPEC §5 (docxtpl tags in real .docx files).

THE COMMITTED .docx FILES UNDER templates/ ARE THE SOURCE OF TRUTH. This script only produced
their first version: once a jurist has edited a template in Word or LibreOffice, the edited file
is the reference, and running this script again would throw those edits away — so it refuses to
overwrite an existing file unless given --force. Keep this script in step with the templates
only while nobody edits them by hand.

    .venv/bin/python scripts/build_templates.py [--out DIR] [--force]

Tags (docxtpl, Jinja2): `{{ learner.full_name }}` prints a value (escaped by Fidelis); a
paragraph holding only `{%p if … %}`, `{%p for … %}`, `{%p else %}`, `{%p endif %}` or
`{%p endfor %}` is removed and repeats or hides the paragraphs (and tables) between; a table
row holding `{%tr for … %}`/`{%tr endfor %}` repeats the rows between; a cell holding
`{%tc for … %}`/`{%tc endfor %}` repeats the cells between. The keys each template uses are
those of `workflow/documents/context.py`. Every variable must exist in the context: a missing
one stops the rendering (never a blank in a legal text).

The output is reproducible: the same script writes the same bytes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workflow.documents.render import reproducible_zip  # noqa: E402

FONT = "Arial"  # Liberation Sans (metric-compatible) stands in for it in LibreOffice
BLUE = RGBColor(0x00, 0x00, 0x91)
GREY = RGBColor(0x55, 0x55, 0x55)
HEADER_FILL = "E3E3FD"
NB = "\u00a0"
FIXED_TIME = datetime(2026, 1, 1)


# -- document setup ----------------------------------------------------------------------------


def _set_fonts(element: Any, size: float | None = None) -> None:
    """Explicit Arial on every script (`element` is a w:rPr), theme fonts removed (they would
    win over it)."""
    fonts = element.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        element.insert(0, fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        if fonts.get(qn(attr)) is not None:
            del fonts.attrib[qn(attr)]
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), FONT)
    if size is not None:
        for tag in ("w:sz", "w:szCs"):
            el = element.find(qn(tag))
            if el is None:
                el = OxmlElement(tag)
                element.append(el)
            el.set(qn("w:val"), str(int(size * 2)))


def _french_defaults(doc: DocumentObject) -> None:
    styles = doc.styles.element
    rpr_default = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault"))
    rpr = rpr_default.find(qn("w:rPr"))
    _set_fonts(rpr, 10)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "fr-FR")
    lang.set(qn("w:eastAsia"), "fr-FR")
    lang.set(qn("w:bidi"), "ar-SA")


def _style(doc: DocumentObject, name: str, size: float, *, bold: bool = False,
           color: RGBColor | None = None, before: float = 0, after: float = 4,
           align: WD_ALIGN_PARAGRAPH | None = None, keep: bool = False) -> None:  # fmt: skip
    style = doc.styles[name]
    font = style.font
    font.name = FONT
    font.size = Pt(size)
    font.bold = bold
    font.italic = False
    font.color.rgb = color or RGBColor(0, 0, 0)
    _set_fonts(style.element.get_or_add_rPr())
    fmt = style.paragraph_format
    fmt.space_before = Pt(before)
    fmt.space_after = Pt(after)
    fmt.keep_with_next = keep
    if align is not None:
        fmt.alignment = align
    # Titles and headings of the default template have a bottom border: sober means none.
    ppr = style.element.find(qn("w:pPr"))
    if ppr is not None:
        border = ppr.find(qn("w:pBdr"))
        if border is not None:
            ppr.remove(border)


def _drop_thumbnail(doc: DocumentObject) -> None:
    package = doc.part.package
    for rid, rel in list(package.rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            del package.rels[rid]


def new_document(title: str, subject: str, *, landscape: bool = False) -> DocumentObject:
    doc = Document()
    _drop_thumbnail(doc)
    _french_defaults(doc)
    section = doc.sections[0]
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Cm(29.7), Cm(21)
    else:
        section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.2)
    section.top_margin = Cm(2)
    section.bottom_margin = Cm(2)
    section.header_distance = section.footer_distance = Cm(1)
    _style(doc, "Normal", 10, after=5)
    doc.styles["Normal"].paragraph_format.line_spacing = 1.1
    _style(doc, "Title", 15, bold=True, color=BLUE, after=4, align=WD_ALIGN_PARAGRAPH.CENTER)
    _style(doc, "Subtitle", 11, color=BLUE, after=10, align=WD_ALIGN_PARAGRAPH.CENTER)
    _style(doc, "Heading 1", 11, bold=True, color=BLUE, before=12, after=4, keep=True)
    _style(doc, "Heading 2", 10, bold=True, before=8, after=3, keep=True)
    _style(doc, "List Bullet", 10, after=2)
    props = doc.core_properties
    props.title = title
    props.subject = subject
    props.author = "Fidelis"
    props.last_modified_by = "Fidelis"
    props.comments = "Modèle de document Fidelis (docxtpl)."
    props.keywords = "Fidelis; modèle"
    props.language = "fr-FR"
    props.revision = 1
    props.created = FIXED_TIME
    props.modified = FIXED_TIME
    props.last_printed = FIXED_TIME
    return doc


def _field(paragraph: Paragraph, instruction: str, placeholder: str) -> None:
    """A Word field (PAGE, NUMPAGES) in its own runs."""

    def run_with(element: object) -> None:
        run = paragraph.add_run()
        run.font.size = Pt(8)
        run.font.color.rgb = GREY
        run._r.append(element)

    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run_with(begin)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    run_with(instr)
    sep = OxmlElement("w:fldChar")
    sep.set(qn("w:fldCharType"), "separate")
    run_with(sep)
    text = OxmlElement("w:t")
    text.text = placeholder
    run_with(text)
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run_with(end)


def header_footer(doc: DocumentObject, header: str, footer: str) -> None:
    section = doc.sections[0]
    hp = section.header.paragraphs[0]
    hp.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    run = hp.add_run(header)
    run.font.size = Pt(8)
    run.font.color.rgb = GREY
    fp = section.footer.paragraphs[0]
    fp.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = fp.add_run(f"{footer} — page ")
    run.font.size = Pt(8)
    run.font.color.rgb = GREY
    _field(fp, "PAGE", "1")
    run = fp.add_run(" sur ")
    run.font.size = Pt(8)
    run.font.color.rgb = GREY
    _field(fp, "NUMPAGES", "1")


# -- content helpers -----------------------------------------------------------------------------


def para(doc: Any, text: str = "", *, style: str | None = None,
         align: WD_ALIGN_PARAGRAPH | None = None, size: float | None = None,
         after: float | None = None, keep: bool = False) -> Paragraph:  # fmt: skip
    """A paragraph; **…** marks bold parts (never inside a tag)."""
    p: Paragraph = doc.add_paragraph(style=style)
    for i, part in enumerate(text.split("**")):
        if part:
            run = p.add_run(part)
            run.bold = i % 2 == 1 or None
            if size is not None:
                run.font.size = Pt(size)
    if align is not None:
        p.alignment = align
    if after is not None:
        p.paragraph_format.space_after = Pt(after)
    if keep:
        p.paragraph_format.keep_with_next = True
    if style is None and align is None:
        p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    return p


def tag(doc: Any, text: str) -> Paragraph:
    """A paragraph holding a docxtpl paragraph tag only (removed at rendering)."""
    p: Paragraph = doc.add_paragraph()
    p.add_run(text)
    return p


def bullets(doc: DocumentObject, loop: str, item: str) -> None:
    tag(doc, f"{{%p for {loop} %}}")
    para(doc, item, style="List Bullet")
    tag(doc, "{%p endfor %}")


def heading(doc: DocumentObject, text: str, level: int = 1) -> None:
    doc.add_heading(text, level=level)


def _shade(cell: Any, fill: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tc_pr.append(shd)


def _row_flag(row: Any, flag: str) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement(flag)
    tr_pr.append(el)


def table(doc: DocumentObject, widths: Sequence[float], rows: Sequence[Sequence[str]], *,
          header: bool = True, bold_last: bool = False, size: float = 9,
          align_right: Sequence[int] = ()) -> Table:  # fmt: skip
    """A bordered table; the first row is a repeated, shaded header."""
    t: Table = doc.add_table(rows=0, cols=len(widths))
    t.style = doc.styles["Table Grid"]
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for r, values in enumerate(rows):
        row = t.add_row()  # type: ignore[no-untyped-call]
        _row_flag(row, "w:cantSplit")
        if header and r == 0:
            _row_flag(row, "w:tblHeader")
        for c, (cell, value) in enumerate(zip(row.cells, values, strict=True)):
            cell.width = Cm(widths[c])
            p = cell.paragraphs[0]
            p.paragraph_format.space_after = Pt(1)
            p.paragraph_format.space_before = Pt(1)
            for i, part in enumerate(value.split("**")):
                if part:
                    run = p.add_run(part)
                    run.font.size = Pt(size)
                    bold = (header and r == 0) or (bold_last and r == len(rows) - 1)
                    run.bold = True if bold or i % 2 == 1 else None
            if c in align_right and not (header and r == 0):
                p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if header and r == 0:
                _shade(cell, HEADER_FILL)
    for c, w in enumerate(widths):
        t.columns[c].width = Cm(w)
    return t


def spacer(doc: DocumentObject, after: float = 2) -> None:
    p = doc.add_paragraph()
    p.paragraph_format.space_after = Pt(after)


def signature_table(doc: DocumentObject) -> None:
    """One row per party of the contract (`signature_list`: the learner, then the scheme's
    signing funders): its title and who signs, then the name and date when known, else lines
    to fill by hand."""
    widths = (7.0, 9.6)
    t = doc.add_table(rows=3, cols=2)
    t.style = doc.styles["Table Grid"]
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.rows[0].cells[0].paragraphs[0].add_run("{%tr for s in signature_list %}")
    t.rows[2].cells[0].paragraphs[0].add_run("{%tr endfor %}")
    row = t.rows[1]
    _row_flag(row, "w:cantSplit")
    party, sign = row.cells
    _shade(party, HEADER_FILL)
    run = party.paragraphs[0].add_run("{{ s.title }}")
    run.bold = True
    run.font.size = Pt(9)
    run = party.add_paragraph().add_run("{{ s.who }}")
    run.font.size = Pt(9)
    sign.paragraphs[0].add_run("{%p if s.signed %}")
    for text in ("Signé par {{ s.name }}", "le {{ s.date }}", "{%p else %}",
                 "Nom, date et signature,", "précédés de la mention « Lu et approuvé » :",
                 "", "", "", "{%p endif %}"):  # fmt: skip
        run = sign.add_paragraph().add_run(text)
        run.font.size = Pt(9)
    for r in t.rows:
        for c, w in enumerate(widths):
            r.cells[c].width = Cm(w)
    for c, w in enumerate(widths):
        t.columns[c].width = Cm(w)


# -- the documents -------------------------------------------------------------------------------


def contract() -> DocumentObject:
    doc = new_document(
        "Contrat d'allocation d'études et d'engagement de servir",
        "Contrat entre l'apprenant et les financeurs signataires du dispositif (Fidelis, SPEC §5)",
    )
    header_footer(doc, "{{ funding_body.name }}", f"Contrat n°{NB}{{{{ number }}}}")
    para(doc, "Contrat d'allocation d'études et d'engagement de servir", style="Title")
    para(doc, "{{ scheme.label }}", style="Subtitle")
    para(doc, f"**Contrat n°{NB}{{{{ number }}}}**", align=WD_ALIGN_PARAGRAPH.CENTER, size=11)
    para(doc, "Palier : {{ tier.label }}", align=WD_ALIGN_PARAGRAPH.CENTER, after=12)

    heading(doc, "Entre les soussignés")
    para(
        doc,
        "**{{ funding_body.name }}**, {{ funding_body.address }}, représentée par "
        "{{ funding_body.representative_in_text }}, ci-après dénommée "
        "« {{ funding_body.short }} » ;",
    )
    employer = (
        "**{{ employer.name }}**, établissement immatriculé sous le numéro SIRET "
        "{{ employer.siret }}, situé sur la commune de {{ employer.commune }}, code INSEE "
        "{{ employer.insee }}, département : {{ employer.departement }}, "
        "{{ employer.epci_text }}, relevant du secteur : {{ employer.sector }}, représenté "
        "par son représentant légal, ci-après dénommé « l'employeur »"
    )
    # The employer is a party when the scheme makes it a signing funder (`funders`).
    tag(doc, "{%p if employer_signs %}")
    para(doc, employer + " ;")
    tag(doc, "{%p endif %}")
    para(
        doc,
        "**{{ learner.full_name }}**, né(e) le {{ learner.birth_date }}, adresse "
        "électronique : {{ learner.email }}, inscrit(e) en formation ({{ scheme.training }}) "
        "à l'établissement « {{ learner.institute }} », titulaire du compte bancaire "
        "IBAN {{ learner.iban_masked }}, ci-après dénommé(e) « l'apprenant » ;",
    )
    para(doc, "ci-après dénommés ensemble « les parties ».")
    tag(doc, "{%p if not employer_signs %}")
    para(doc, "L'établissement où l'apprenant servira est " + employer
         + ", qui n'est pas partie au présent contrat.")  # fmt: skip
    tag(doc, "{%p endif %}")

    heading(doc, "Visas")
    para(doc, "Vu :", keep=True)
    bullets(doc, "ref in references", "{{ ref }} ;")
    para(doc, "**Il est convenu ce qui suit.**", align=WD_ALIGN_PARAGRAPH.CENTER)

    heading(doc, "Article 1 — Objet")
    para(
        doc,
        "Le présent contrat fixe les conditions dans lesquelles l'apprenant perçoit, pendant "
        "sa formation ({{ scheme.training }}), une allocation d'études au titre du "
        "dispositif « {{ scheme.label }} », en contrepartie de son engagement de servir "
        "auprès de l'employeur pendant {{ commitment.months_words }} "
        "({{ commitment.duration }}) après l'obtention de son diplôme.",
    )
    para(doc, "Palier retenu : {{ tier.label }}.")

    heading(doc, "Article 2 — Montant de l'allocation")
    para(
        doc,
        "L'allocation mensuelle s'élève à **{{ monthly_total }}** "
        "({{ monthly_total_words }}), répartie entre les financeurs comme suit :",
        keep=True,
    )
    table(doc, [3.2, 2.8, 6.4, 3.2], [
        ["Financeur", "Montant mensuel", "En toutes lettres", "Total prévisionnel"],
        ["{%tr for f in funders %}", "", "", ""],
        ["{{ f.name }}", "{{ f.monthly }}", "{{ f.monthly_words }}", "{{ f.total }}"],
        ["{%tr endfor %}", "", "", ""],
    ], align_right=(1, 3))  # fmt: skip
    spacer(doc)
    tag(doc, "{%p for f in funders %}")
    para(
        doc,
        "Part {{ f.label }} : {{ f.monthly }} ({{ f.monthly_words }}) par mois, "
        "{{ f.payer }} ; montant total prévisionnel : {{ f.total }} ({{ f.total_words }}).",
    )
    tag(doc, "{%p endfor %}")
    para(
        doc,
        "Le montant total prévisionnel de l'allocation s'élève à **{{ grand_total }}** "
        "({{ grand_total_words }}).",
    )
    tag(doc, "{%p if cumulable_with %}")
    para(doc, "L'allocation est cumulable avec :", keep=True)
    bullets(doc, "c in cumulable_with", "{{ c }} ;")
    tag(doc, "{%p endif %}")

    heading(doc, "Article 3 — Durée et calendrier des versements")
    para(
        doc,
        "La formation se déroule du {{ training.start }} au {{ training.end }} à "
        "l'établissement « {{ training.institute }} ». L'allocation est due de la plus "
        "tardive des deux dates suivantes : le début de la formation ou la signature du "
        "présent contrat, jusqu'à la plus proche des dates suivantes : la fin prévue de la "
        "formation, ou la veille de la prise de poste, de la rupture ou du retrait.",
    )
    para(doc, "{{ payment.text }} {{ payment.proration_text }}")
    tag(doc, "{%p if has_calendar %}")
    para(doc, "Calendrier prévisionnel des versements :", keep=True)
    table(doc, [3.2, 3.6, 0.6, 3.0, 0.6, 3.0], [
        ["Mois", "Échéance", "{%tc for c in funder_columns %}", "{{ c }}", "{%tc endfor %}",
         "Total"],
        ["{%tr for row in calendar %}", "", "", "", "", ""],
        ["{{ row.month }}", "{{ row.due }}", "{%tc for a in row.amounts %}", "{{ a }}",
         "{%tc endfor %}", "{{ row.total }}"],
        ["{%tr endfor %}", "", "", "", "", ""],
        ["Total", "", "{%tc for a in calendar_totals %}", "{{ a }}", "{%tc endfor %}",
         "{{ grand_total }}"],
    ], bold_last=True, align_right=(3, 5))  # fmt: skip
    spacer(doc)
    tag(doc, "{%p if calendar_note %}")
    para(doc, "{{ calendar_note }}", size=9)
    tag(doc, "{%p endif %}")
    tag(doc, "{%p endif %}")

    heading(doc, "Article 4 — Engagement de servir")
    para(
        doc,
        "L'apprenant s'engage à exercer, au sein de l'employeur, les fonctions "
        "correspondant à son diplôme pendant une durée de {{ commitment.months_words }} "
        "({{ commitment.figures }}).",
    )
    para(
        doc,
        "{{ commitment.start_text }} Il prend fin au terme de cette durée, reportée le cas "
        "échéant dans les conditions de l'article 5.",
    )
    tag(doc, "{%p if commitment.service_start %}")
    para(
        doc,
        "Prise de poste : {{ commitment.service_start }}"
        "{% if commitment.end %} ; fin de l'engagement : {{ commitment.end }}{% endif %}.",
    )
    tag(doc, "{%p endif %}")
    para(
        doc,
        "L'employeur s'engage à recruter l'apprenant dès l'obtention de son diplôme, sur un "
        "poste correspondant à sa qualification, et à attester chaque année du service "
        "accompli auprès de {{ funding_body.short }}.",
    )
    para(doc, "{{ commitment.part_time_text }}")

    heading(doc, "Article 5 — Suspension de l'engagement")
    tag(doc, "{%p if suspension.reasons %}")
    para(
        doc,
        "L'engagement de servir est suspendu pendant les périodes suivantes, dûment justifiées :",
        keep=True,
    )
    bullets(doc, "r in suspension.reasons", "{{ r }} ;")
    para(
        doc,
        "La date de fin de l'engagement est reportée de la durée de chaque suspension, "
        "constatée par avenant.",
    )
    tag(doc, "{%p else %}")
    para(doc, "Le dispositif ne prévoit aucun motif de suspension de l'engagement.")
    tag(doc, "{%p endif %}")

    heading(doc, "Article 6 — Rupture de l'engagement et remboursement")
    para(doc, "{{ breach.before_service_text }}")
    para(doc, "{{ breach.rule_text }}")
    para(doc, "{{ breach.base_text }}")
    para(
        doc,
        "Les sommes à reverser font l'objet d'un ordre de reversement émis pour la part de "
        "chaque financeur ; elles sont exigibles dans un délai de "
        "{{ breach.recovery_days_words }} ({{ breach.recovery_days }} jours) à compter de "
        "la date de la rupture.",
    )
    para(
        doc,
        "L'apprenant informe sans délai {{ funding_body.short }} et l'employeur de tout "
        "événement susceptible d'interrompre sa formation ou son engagement.",
    )

    heading(doc, "Article 7 — Exonération")
    tag(doc, "{%p if exemptions %}")
    para(
        doc,
        "Aucun remboursement n'est dû lorsque la rupture résulte de l'un des motifs "
        "suivants, reconnu par une décision de {{ funding_body.short }} :",
        keep=True,
    )
    bullets(doc, "e in exemptions", "{{ e }} ;")
    para(
        doc,
        "La décision d'exonération mentionne sa référence, sa date et son auteur ; elle est "
        "notifiée à l'apprenant et à l'employeur.",
    )
    tag(doc, "{%p else %}")
    para(doc, "Le dispositif ne prévoit aucun motif d'exonération.")
    tag(doc, "{%p endif %}")

    heading(doc, "Article 8 — Protection des données personnelles")
    para(
        doc,
        "Les données personnelles recueillies pour l'exécution du présent contrat sont "
        "traitées par {{ data_protection.controller }}, responsable de traitement, pour "
        "les finalités suivantes : {{ data_protection.purposes_text }}. Ce traitement est "
        "fondé sur {{ data_protection.legal_basis }}.",
    )
    para(
        doc,
        "Les données sont destinées {{ data_protection.recipients }}. Elles sont "
        "conservées {{ data_protection.retention_text }}, puis supprimées, sous réserve "
        "des obligations d'archivage public.",
    )
    para(
        doc,
        "Conformément au RGPD et à la loi n° 78-17 du 6 janvier 1978, chaque personne "
        "concernée dispose d'un droit d'accès, de rectification et de limitation et, dans "
        "les conditions prévues par le RGPD, d'opposition et d'effacement, qu'elle exerce "
        "auprès du délégué à la protection des données ({{ data_protection.contact }}). "
        "Elle peut introduire une réclamation auprès de la Commission nationale de "
        "l'informatique et des libertés (CNIL).",
    )

    heading(doc, "Article 9 — Litiges")
    para(
        doc,
        "Les parties s'efforcent de régler à l'amiable tout différend relatif à "
        "l'interprétation ou à l'exécution du présent contrat. À défaut d'accord, le "
        "litige est porté devant le {{ court }}.",
    )

    heading(doc, "Article 10 — Prise d'effet et durée")
    para(
        doc,
        "Le présent contrat prend effet à la date de sa signature par la dernière des "
        "parties. Il prend fin à l'expiration de l'engagement de servir ou, en cas de "
        "rupture, lorsque les sommes éventuellement dues ont été reversées.",
    )

    para(
        doc,
        "Fait à {{ place }}, le {{ issued_on }}, en {{ copies }} exemplaires originaux, "
        "un pour chaque partie.",
        keep=True,
        after=8,
    )
    signature_table(doc)
    return doc


def recovery_order() -> DocumentObject:
    doc = new_document("Ordre de reversement", "Rupture de l'engagement de servir (SPEC §4, §5)")
    header_footer(doc, "{{ funding_body.name }}",
                  f"Ordre de reversement — contrat n°{NB}{{{{ number }}}}")  # fmt: skip
    para(doc, "**{{ funding_body.name }}**", style=None, after=0)
    para(doc, "{{ funding_body.address }}", after=12)
    tag(doc, "{%p for line in address_block %}")
    para(doc, "{{ line }}", align=WD_ALIGN_PARAGRAPH.RIGHT, after=0)
    tag(doc, "{%p endfor %}")
    spacer(doc, 10)
    para(doc, "{{ place }}, le {{ issued_on }}", align=WD_ALIGN_PARAGRAPH.RIGHT, after=12)
    para(doc, f"**Objet : ordre de reversement — contrat n°{NB}{{{{ number }}}}**")
    para(doc, "Dispositif : {{ scheme.label }}", after=12)
    para(doc, "Madame, Monsieur,")
    para(doc, f"Par le contrat n°{NB}{{{{ number }}}}"
              "{% if contract_date %} signé le {{ contract_date }}{% endif %}, conclu avec "
              "{{ funding_body.the_name }}{% if employer_signs %} et {{ employer.name }} "
              "({{ employer.commune }}){% endif %}, "
              "vous avez bénéficié d'une allocation d'études en "
              "contrepartie d'un engagement de servir.")  # fmt: skip
    para(doc, "Votre engagement a été rompu le **{{ breach.date }}**. Motif : {{ breach.reason }}.")
    tag(doc, "{%p if breach.details %}")
    para(doc, "Précisions : {{ breach.details }}")
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if exempted %}")
    para(doc, "**{{ exemption.text }}**")
    tag(doc, "{%p else %}")
    para(doc, "En application du contrat : {{ breach.rule_text }}")
    tag(doc, "{%p if breach.during_service %}")
    para(
        doc,
        "Service accompli depuis le {{ breach.service_start }} : {{ breach.served_days }} "
        "jours sur {{ breach.total_days }} jours dus, soit {{ breach.unserved_days }} "
        "jours non servis (décompte sur une base de 30 jours par mois, 30E/360).",
    )
    tag(doc, "{%p endif %}")
    para(doc, "{{ breach.base_text }}")
    para(doc, "Vous êtes en conséquence redevable des sommes suivantes :", keep=True)
    table(doc, [2.6, 2.8, 2.8, 5.2, 3.2], [
        ["Financeur", "Montant perçu", "À reverser", "En toutes lettres", "Au plus tard le"],
        ["{%tr for f in funders %}", "", "", "", ""],
        ["{{ f.name }}", "{{ f.base }}", "**{{ f.amount }}**", "{{ f.amount_words }}",
         "{{ f.due }}"],
        ["{%tr endfor %}", "", "", "", ""],
    ], align_right=(1, 2))  # fmt: skip
    spacer(doc)
    tag(doc, "{%p for f in funders %}")
    tag(doc, "{%p if f.computation %}")
    para(doc, "Calcul de la part {{ f.label }} : {{ f.computation }}.", size=9)
    tag(doc, "{%p endif %}")
    tag(doc, "{%p endfor %}")
    tag(doc, "{%p for f in funders %}")
    tag(doc, "{%p if f.debt_number %}")
    para(doc, f"Part {{{{ f.label }}}} : titre de recette n°{NB}**{{{{ f.debt_number }}}}**, à "
              "rappeler lors de tout remboursement.")  # fmt: skip
    tag(doc, "{%p endif %}")
    tag(doc, "{%p endfor %}")
    para(
        doc,
        "Total à reverser : **{{ total }}** ({{ total_words }}), au plus tard le "
        "{{ due }}, soit {{ breach.recovery_days_words }} après la date de la rupture.",
    )
    # How each share is recovered: the scheme's `funders.<code>.recovery`.
    tag(doc, "{%p for f in funders %}")
    para(doc, "Part {{ f.label }} : {{ f.recovery }}.")
    tag(doc, "{%p endfor %}")
    tag(doc, "{%p endif %}")
    para(
        doc,
        "Vous pouvez contester la présente décision devant le {{ court }} dans un délai de "
        "deux mois à compter de sa notification. Un recours gracieux peut être formé "
        "dans le même délai auprès de {{ funding_body.the_name }}.",
    )
    para(doc, "Veuillez agréer, Madame, Monsieur, l'expression de nos salutations distinguées.",
         after=18)  # fmt: skip
    para(doc, "{{ funding_body.representative }}", align=WD_ALIGN_PARAGRAPH.RIGHT)
    return doc


def completion_certificate() -> DocumentObject:
    doc = new_document("Attestation d'accomplissement de l'engagement de servir",
                       "Fin de l'engagement de servir (SPEC §5)")  # fmt: skip
    header_footer(doc, "{{ funding_body.name }}",
                  f"Attestation — contrat n°{NB}{{{{ number }}}}")  # fmt: skip
    para(doc, "Attestation d'accomplissement de l'engagement de servir", style="Title")
    para(doc, "{{ scheme.label }}", style="Subtitle")
    para(doc, "{{ funding_body.representative }}, atteste que :", after=8)
    para(doc, "**{{ learner.full_name }}**, né(e) le {{ learner.birth_date }},",
         align=WD_ALIGN_PARAGRAPH.CENTER, after=8)  # fmt: skip
    para(doc, f"a accompli l'engagement de servir prévu par le contrat n°{NB}{{{{ number }}}}"
              "{% if contract_date %} du {{ contract_date }}{% endif %}, d'une durée de "
              "{{ commitment.months_words }} ({{ commitment.duration }}), auprès de "
              "l'employeur **{{ employer.name }}** (SIRET {{ employer.siret }}), à "
              "{{ employer.commune }}, {{ employer.departement }}, du **{{ service_start }}** au "
              "**{{ commitment_end }}**.")  # fmt: skip
    tag(doc, "{%p if suspensions %}")
    para(doc, "La date de fin tient compte des périodes de suspension suivantes :", keep=True)
    table(doc, [3.5, 3.5, 2.5, 7.1], [
        ["Du", "Au", "Durée", "Motif"],
        ["{%tr for s in suspensions %}", "", "", ""],
        ["{{ s.start }}", "{{ s.end }}", "{{ s.days }}", "{{ s.reason }}"],
        ["{%tr endfor %}", "", "", ""],
    ])  # fmt: skip
    spacer(doc)
    tag(doc, "{%p endif %}")
    tag(doc, "{%p if part_time %}")
    para(doc, "{{ part_time_text }}")
    tag(doc, "{%p endif %}")
    para(
        doc,
        "L'intéressé(e) est en conséquence libéré(e) de son engagement ; aucune somme n'est "
        "due au titre du contrat.",
    )
    para(doc, "La présente attestation est délivrée pour servir et valoir ce que de droit.",
         after=12)  # fmt: skip
    para(doc, "Fait à {{ place }}, le {{ issued_on }}.", after=18)
    para(doc, "{{ funding_body.representative }}", align=WD_ALIGN_PARAGRAPH.RIGHT)
    return doc


def amendment() -> DocumentObject:
    doc = new_document("Avenant au contrat", "Avenant au contrat d'allocation d'études (SPEC §5)")
    header_footer(doc, "{{ funding_body.name }}", "{{ title }}")
    para(doc, "{{ title }}", style="Title")
    para(doc, "{{ scheme.label }}", style="Subtitle")
    heading(doc, "Entre les soussignés")
    para(
        doc,
        "**{{ funding_body.name }}**, {{ funding_body.address }}, représentée par "
        "{{ funding_body.representative_in_text }} ;",
    )
    tag(doc, "{%p if employer_signs %}")
    para(
        doc,
        "**{{ employer.name }}**, SIRET {{ employer.siret }}, à {{ employer.commune }}, "
        "code INSEE {{ employer.insee }}, département : {{ employer.departement }}, "
        "représenté par son représentant légal ;",
    )
    tag(doc, "{%p endif %}")
    para(doc, "**{{ learner.full_name }}**, né(e) le {{ learner.birth_date }} ;")
    para(doc, f"parties au contrat n°{NB}{{{{ number }}}}"
              "{% if contract_date %} signé le {{ contract_date }}{% endif %}, il est convenu "
              "ce qui suit.")  # fmt: skip
    heading(doc, "Article 1 — {{ change_title }}")
    tag(doc, "{%p for p in paragraphs %}")
    para(doc, "{{ p }}")
    tag(doc, "{%p endfor %}")
    heading(doc, "Article 2 — Prise d'effet")
    para(
        doc,
        "Le présent avenant prend effet à la date de sa signature par la dernière des "
        "parties ; ses stipulations s'appliquent aux dates qu'il mentionne.",
    )
    para(
        doc,
        "Fait à {{ place }}, le {{ issued_on }}, en {{ copies }} exemplaires originaux, "
        "un pour chaque partie.",
        keep=True,
        after=8,
    )
    signature_table(doc)
    return doc


def campaign_employers() -> DocumentObject:
    doc = new_document("Liste des employeurs de la campagne",
                       "Employeurs inscrits, pour les instituts de formation (SPEC §2, §5)",
                       landscape=True)  # fmt: skip
    header_footer(doc, "{{ funding_body.name }}",
                  "Liste des employeurs — {{ campaign.label }}")  # fmt: skip
    para(doc, "Liste des employeurs — {{ campaign.label }}", style="Title")
    para(doc, "{{ scheme.label }}", style="Subtitle")
    tag(doc, "{%p if issued_on %}")
    para(doc, "Liste arrêtée le {{ issued_on }} par {{ funding_body.the_name }}.")
    tag(doc, "{%p endif %}")
    para(
        doc,
        "À l'attention des instituts de formation. Les apprenants candidatent auprès des "
        "employeurs de leur choix parmi ceux de la liste ci-dessous ; chaque employeur "
        "examine les candidatures, reçoit les candidats en entretien et communique son "
        "choix à {{ funding_body.short }}, qui établit le contrat et recueille les "
        "signatures.",
    )
    para(doc, "Montants de l'allocation :", keep=True)
    bullets(doc, "t in tiers", "{{ t.label }} : {{ t.text }}.")
    para(doc, "**{{ count }} employeur(s), {{ places_total }} place(s).**")
    table(doc, [5.0, 3.4, 2.9, 5.0, 3.2, 1.7, 4.1], [
        ["Employeur", "Commune (INSEE)", "Département", "EPCI (type)", "Secteur", "Places",
         "Contact"],
        ["{%tr for e in employers %}", "", "", "", "", "", ""],
        ["**{{ e.employer }}**", "{{ e.commune }} ({{ e.insee }})", "{{ e.departement }}",
         "{{ e.epci }} ({{ e.epci_type_label }})", "{{ e.sector }}", "{{ e.places }}",
         "{{ e.email }}"],
        ["{%tr endfor %}", "", "", "", "", "", ""],
    ], align_right=(5,))  # fmt: skip
    return doc


TEMPLATES: dict[str, Callable[[], DocumentObject]] = {
    "contracts/contract.docx": contract,
    "letters/recovery_order.docx": recovery_order,
    "letters/completion_certificate.docx": completion_certificate,
    "letters/amendment.docx": amendment,
    "letters/campaign_employers.docx": campaign_employers,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "templates",
                        help="folder to write to (default: templates/)")  # fmt: skip
    parser.add_argument("--force", action="store_true",
                        help="overwrite existing templates (throws away hand edits)")  # fmt: skip
    args = parser.parse_args(argv)
    existing = [name for name in TEMPLATES if (args.out / name).exists()]
    if existing and not args.force:
        print(
            "Refus : ces modèles existent déjà et font foi (ils ont pu être modifiés à la main) : "
            + ", ".join(existing)
            + ". Relancez avec --force pour les écraser.",
            file=sys.stderr,
        )
        return 1
    for name, build in TEMPLATES.items():
        buffer = BytesIO()
        build().save(buffer)
        path = args.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(reproducible_zip(buffer.getvalue()))
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
