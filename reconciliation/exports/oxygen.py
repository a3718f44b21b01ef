"""Sales of a period for Memsoft Oxygène: XML (our schema), accounting-entry CSV, XLSX for a person.

- **XML**: the project's own schema, ``reconciliation/schemas/oxygene-ventes-1.xsd`` (documented there);
  every export is validated against it before it is written.
- **CSV**: the accounting-entry import layout of Oxygène (as documented by OpenFlyers): ISO-8859-15, ``;``,
  a header row with the 36 column names, one row per entry line in the sales journal ``VE``, dates
  ``AAAAMMJJ``, amounts with a decimal comma. An invoice debits the client (``411`` + the client's code) with
  its TTC and credits ``706000`` with its HT and the VAT account with the VAT of each rate (``445740`` on
  the default cash basis, ``445710`` when the seller opted for debits); a credit note the other way round.
- **XLSX** (openpyxl): one row per document, VAT per rate in columns, credit notes negative, a total row.
"""

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

from lxml import etree

from reconciliation.exports.sales import SaleDocument, plain_text
from syaga.core.lazy import lazy_module
from syaga.core.money import ZERO

openpyxl = lazy_module("openpyxl")
openpyxl_styles = lazy_module("openpyxl.styles")
openpyxl_utils = lazy_module("openpyxl.utils")

NAMESPACE = "urn:syaga:billing:oxygene:ventes:1"
XSD_PATH = Path(__file__).resolve().parent.parent / "schemas" / "oxygene-ventes-1.xsd"
CSV_ENCODING = "iso-8859-15"
CSV_COLUMNS = [
    "CODSOC",
    "CODAGE",
    "NUMJL",
    "MONNAIE_IDENT",
    "NUMCP",
    "COURS",
    "CSECT",
    "DTOPE",
    "NPIEC",
    "LIBEC",
    "MTDEB",
    "MTCRE",
    "RELET",
    "NIPIE",
    "LIBAUTO",
    *[f"{prefix}{i}" for prefix in ("CB", "CR", "DE", "ME") for i in range(1, 6)],
    "EXT",
]
SALES_JOURNAL = "VE"
COMPANY_CODE = "1"
REVENUE_ACCOUNT = "706000"
VAT_ON_DEBITS_ACCOUNT = "445710"
VAT_ON_RECEIPTS_ACCOUNT = "445740"


class OxygenExportError(ValueError):
    """The export does not pass its own check: nothing is written."""


def _dot(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _comma(amount: Decimal) -> str:
    return f"{amount:.2f}".replace(".", ",")


# --- XML ------------------------------------------------------------------------------------------------


def oxygen_xml(documents: list[SaleDocument], *, date_from: dt.date, date_to: dt.date, siren: str) -> bytes:
    q = lambda name: f"{{{NAMESPACE}}}{name}"  # noqa: E731
    root = etree.Element(
        q("ventes"), nsmap={None: NAMESPACE}, du=date_from.isoformat(), au=date_to.isoformat(), siren=siren
    )
    for doc in documents:
        node = etree.SubElement(
            root, q("document"), type=doc.kind, numero=doc.number, date=doc.issue_date.isoformat()
        )
        if doc.due_date:
            node.set("echeance", doc.due_date.isoformat())
        client = etree.SubElement(node, q("client"), code=doc.client_code)
        if doc.client_siren:
            client.set("siren", doc.client_siren)
        if doc.client_vat:
            client.set("tva", doc.client_vat)
        client.text = doc.client_name
        if doc.credited_number:
            etree.SubElement(node, q("factureCorrigee"), numero=doc.credited_number)
        etree.SubElement(node, q("totalHT")).text = _dot(doc.total_ht)
        for row in doc.vat_rows:
            etree.SubElement(node, q("tva"), taux=_dot(row.rate), base=_dot(row.base), montant=_dot(row.vat))
        etree.SubElement(node, q("totalTVA")).text = _dot(doc.total_vat)
        etree.SubElement(node, q("totalTTC")).text = _dot(doc.total_ttc)
    schema = etree.XMLSchema(etree.parse(str(XSD_PATH)))
    if not schema.validate(root):
        raise OxygenExportError(f"export XML non conforme au schéma : {schema.error_log.last_error}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- CSV (accounting entries) ------------------------------------------------------------------------------


def entry_lines(doc: SaleDocument) -> list[tuple[str, str, Decimal, Decimal]]:
    """(account, label, debit, credit) of the document's sales-journal entry; balanced."""
    label = f"{'Avoir' if doc.is_credit_note else 'Facture'} {doc.number} {doc.client_name}"
    vat_account = VAT_ON_DEBITS_ACCOUNT if doc.vat_on_debits else VAT_ON_RECEIPTS_ACCOUNT
    lines = [
        (f"411{doc.client_code}", label, doc.total_ttc, ZERO),
        (REVENUE_ACCOUNT, label, ZERO, doc.total_ht),
    ]
    lines += [
        (vat_account, f"{label} TVA {row.rate.normalize():f} %", ZERO, row.vat)
        for row in doc.vat_rows
        if row.vat
    ]
    if doc.is_credit_note:
        lines = [(account, text, credit, debit) for account, text, debit, credit in lines]
    return lines


def oxygen_csv(documents: list[SaleDocument]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    for doc in documents:
        lines = entry_lines(doc)
        if sum(d for _, _, d, _ in lines) != sum(c for _, _, _, c in lines):
            raise OxygenExportError(f"{doc.number} : écriture déséquilibrée")
        for account, label, debit, credit in lines:
            row = dict.fromkeys(CSV_COLUMNS, "")
            row.update(
                CODSOC=COMPANY_CODE,
                NUMJL=SALES_JOURNAL,
                MONNAIE_IDENT="EUR",
                NUMCP=account,
                COURS="1",
                DTOPE=f"{doc.issue_date:%Y%m%d}",
                NPIEC=doc.number,
                LIBEC=plain_text(label)[:60],
                MTDEB=_comma(debit) if debit else "",
                MTCRE=_comma(credit) if credit else "",
            )
            writer.writerow([row[column] for column in CSV_COLUMNS])
    try:
        return out.getvalue().encode(CSV_ENCODING)
    except UnicodeEncodeError as exc:
        raise OxygenExportError(
            f"caractère hors ISO-8859-15 dans l'export : {exc.object[exc.start : exc.end]!r}"
        ) from exc


# --- XLSX --------------------------------------------------------------------------------------------------

MONEY_FORMAT = '#,##0.00 "€";-#,##0.00 "€"'
HEADER_FILL = {"fill_type": "solid", "fgColor": "1D5C8F"}


def oxygen_xlsx(documents: list[SaleDocument], *, date_from: dt.date, date_to: dt.date) -> bytes:
    rates = sorted({row.rate for doc in documents for row in doc.vat_rows}, reverse=True)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Ventes"
    sheet.append([f"Ventes du {date_from:%d/%m/%Y} au {date_to:%d/%m/%Y}"])
    sheet["A1"].font = openpyxl_styles.Font(bold=True, size=13)
    header = ["Type", "Numéro", "Date", "Échéance", "Client", "Compte", "SIREN", "Total HT"]
    header += [f"TVA {f'{rate.normalize():f}'.replace('.', ',')} %" for rate in rates]
    header += ["Total TVA", "Total TTC", "Facture corrigée"]
    sheet.append(header)
    for cell in sheet[2]:
        cell.font = openpyxl_styles.Font(bold=True, color="FFFFFF")
        cell.fill = openpyxl_styles.PatternFill(**HEADER_FILL)
        cell.alignment = openpyxl_styles.Alignment(horizontal="center", vertical="center", wrap_text=True)
    for doc in documents:
        sign = -1 if doc.is_credit_note else 1
        by_rate = {row.rate: row.vat for row in doc.vat_rows}
        sheet.append(
            [
                "Avoir" if doc.is_credit_note else "Facture",
                doc.number,
                doc.issue_date,
                doc.due_date,
                doc.client_name,
                f"411{doc.client_code}",
                doc.client_siren,
                sign * doc.total_ht,
                *[sign * by_rate.get(rate, ZERO) for rate in rates],
                sign * doc.total_vat,
                sign * doc.total_ttc,
                doc.credited_number,
            ]
        )
    last = sheet.max_row
    money_columns = range(8, 8 + len(rates) + 3)
    total_row = ["Total", "", "", "", "", "", ""]
    for column in money_columns:
        letter = openpyxl_utils.get_column_letter(column)
        total_row.append(f"=SUM({letter}3:{letter}{last})" if last >= 3 else 0)
    sheet.append(total_row)
    for cell in sheet[sheet.max_row]:
        cell.font = openpyxl_styles.Font(bold=True)
    for row in sheet.iter_rows(min_row=3):
        for cell in row:
            if cell.column in (3, 4):
                cell.number_format = "DD/MM/YYYY"
            elif cell.column in money_columns:
                cell.number_format = MONEY_FORMAT
    widths = [9, 14, 12, 12, 32, 14, 12, 14, *[12] * len(rates), 13, 14, 16]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[openpyxl_utils.get_column_letter(index)].width = width
    sheet.freeze_panes = "C3"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
