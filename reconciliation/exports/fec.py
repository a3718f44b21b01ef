"""The FEC (fichier des écritures comptables, LPF L47 A, A47 A-1) of a fiscal year: sales and bank receipts.

File ``<SIREN>FEC<AAAAMMJJ>.txt`` (closing date of the year), ISO-8859-15, ``|`` separator, CRLF, a header
row with the 18 legal columns, dates ``AAAAMMJJ``, amounts with a decimal comma and no thousands separator.

- Journal ``VE`` (ventes): one entry per issued invoice or credit note, by issue date then number — client
  ``411000`` (auxiliary account: the client's code) / ``706000`` / ``445740`` (VAT on receipts, the default
  for services) or ``445710`` (the seller opted for debits); a credit note the other way round.
- Journal ``BQ`` (banque): one entry per bank credit allocated to invoices, by value date — ``512000`` for
  the money received, ``627000`` for a shortfall written off (bank fees), ``411000`` per invoice paid; on
  the cash basis, the VAT of what was received moves from ``445740`` to ``445710``.
- Lettering: the ``411`` lines of an invoice, its receipts and its credit notes share a letter code
  (``EcritureLet``) and the date they balanced (``DateLet``) once they balance within the year.
- Entries are numbered per journal from 1, without a gap (``VE000001``…).

Before anything is written, :func:`fec_check` runs the checks of the administration's test tool (Test Compta
Demat): 18 columns on every line, the header, each entry balanced, dates valid and inside the year, entry
numbers continuous per journal and in date order, accounts starting with three digits, one side per line.
The FEC holds what this application books (sales, receipts); opening balances and the other journals come
from the accounting software.
"""

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from banking.models import PaymentAllocation
from invoicing.models import SellerProfile
from invoicing.models.invoice import FROZEN_STATUSES
from reconciliation.exports.oxygen import VAT_ON_DEBITS_ACCOUNT, VAT_ON_RECEIPTS_ACCOUNT
from reconciliation.exports.sales import SaleDocument, client_account_code, plain_text, sales_documents
from syaga.core.errors import BusinessError
from syaga.core.money import ZERO, quantize

COLUMNS = [
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
]
SEPARATOR = "|"
ENCODING = "iso-8859-15"
JOURNALS = {"VE": "Ventes", "BQ": "Banque"}
ACCOUNTS = {
    "411000": "Clients",
    "706000": "Prestations de services",
    VAT_ON_DEBITS_ACCOUNT: "TVA collectée",
    VAT_ON_RECEIPTS_ACCOUNT: "TVA collectée sur encaissements",
    "512000": "Banque",
    "627000": "Services bancaires et assimilés",
}


class FecCheckError(BusinessError):
    """The FEC fails a check of the administration's test tool: nothing is written."""


@dataclass
class Line:
    journal: str
    entry: int
    date: dt.date
    account: str
    piece: str
    piece_date: dt.date
    label: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    aux_code: str = ""
    aux_name: str = ""
    letter: str = ""
    letter_date: dt.date | None = None
    invoice_key: str = ""  # which invoice a 411 line belongs to, for the lettering

    def fields(self) -> list[str]:
        return [
            self.journal,
            JOURNALS[self.journal],
            f"{self.journal}{self.entry:06d}",
            f"{self.date:%Y%m%d}",
            self.account,
            ACCOUNTS[self.account],
            self.aux_code,
            plain_text(self.aux_name),
            plain_text(self.piece),
            f"{self.piece_date:%Y%m%d}",
            plain_text(self.label) or "/",
            _amount(self.debit),
            _amount(self.credit),
            self.letter,
            f"{self.letter_date:%Y%m%d}" if self.letter_date else "",
            f"{self.date:%Y%m%d}",
            "",
            "",
        ]


@dataclass
class Fec:
    siren: str
    closing: dt.date
    lines: list[Line] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"{self.siren}FEC{self.closing:%Y%m%d}.txt"

    def text(self) -> str:
        rows = [SEPARATOR.join(COLUMNS)] + [SEPARATOR.join(line.fields()) for line in self.lines]
        return "".join(f"{row}\r\n" for row in rows)


def _amount(value: Decimal) -> str:
    return f"{quantize(value):.2f}".replace(".", ",")


def _sales_lines(documents: list[SaleDocument]) -> list[Line]:
    lines = []
    for entry, doc in enumerate(documents, start=1):
        title = "Avoir" if doc.is_credit_note else "Facture"
        label = f"{title} {doc.number} {doc.client_name}"
        vat_account = VAT_ON_DEBITS_ACCOUNT if doc.vat_on_debits else VAT_ON_RECEIPTS_ACCOUNT
        base = {"journal": "VE", "entry": entry, "date": doc.issue_date, "piece": doc.number}
        base["piece_date"] = doc.issue_date
        own = [
            Line(
                **base,
                account="411000",
                label=label,
                debit=doc.total_ttc,
                aux_code=doc.client_code,
                aux_name=doc.client_name,
                invoice_key=doc.credited_number or doc.number,
            ),
            Line(**base, account="706000", label=label, credit=doc.total_ht),
        ]
        own += [
            Line(**base, account=vat_account, label=f"{label} TVA {row.rate.normalize():f} %", credit=row.vat)
            for row in doc.vat_rows
            if row.vat
        ]
        if doc.is_credit_note:
            for line in own:
                line.debit, line.credit = line.credit, line.debit
        lines += own
    return lines


def _receipt_lines(*, year_start: dt.date, year_end: dt.date) -> list[Line]:
    allocations = (
        PaymentAllocation.objects.filter(transaction__isnull=False, invoice__status__in=FROZEN_STATUSES)
        .select_related("transaction", "invoice", "invoice__client")
        .order_by("transaction__settled_at", "transaction_id", "invoice__number")
    )
    by_transaction = defaultdict(list)
    for allocation in allocations:
        moment = allocation.transaction.settled_at or allocation.transaction.emitted_at
        if moment is None:
            continue
        day = timezone.localdate(moment)
        if year_start <= day <= year_end:
            by_transaction[(day, allocation.transaction_id)].append(allocation)
    lines = []
    for entry, ((day, _), group) in enumerate(sorted(by_transaction.items()), start=1):
        transaction = group[0].transaction
        piece = (
            plain_text(transaction.reference or transaction.transaction_id or transaction.label)[:40] or "-"
        )
        base = {"journal": "BQ", "entry": entry, "date": day, "piece": piece, "piece_date": day}
        received = sum((a.amount for a in group), ZERO)
        written_off = sum((a.write_off for a in group), ZERO)
        payer = transaction.clean_counterparty_name or transaction.label
        lines.append(Line(**base, account="512000", label=f"Virement {payer}", debit=received))
        if written_off:
            lines.append(
                Line(**base, account="627000", label=f"Écart de règlement {payer}", debit=written_off)
            )
        for allocation in group:
            invoice = allocation.invoice
            buyer = invoice.buyer_snapshot or invoice.client.snapshot()
            name = buyer.get("name") or invoice.client.name
            settled = allocation.amount + allocation.write_off
            lines.append(
                Line(
                    **base,
                    account="411000",
                    label=f"Règlement {invoice.number} {name}",
                    credit=settled,
                    aux_code=client_account_code(siren=buyer.get("siren", ""), name=name),
                    aux_name=name,
                    invoice_key=invoice.number,
                )
            )
            on_receipts = (invoice.seller_snapshot or {}).get("vat_regime") != "debits"
            if on_receipts and invoice.total_vat and invoice.total_ttc:
                vat = quantize(settled * invoice.total_vat / invoice.total_ttc)
                if vat:
                    text = f"TVA exigible {invoice.number}"
                    lines.append(Line(**base, account=VAT_ON_RECEIPTS_ACCOUNT, label=text, debit=vat))
                    lines.append(Line(**base, account=VAT_ON_DEBITS_ACCOUNT, label=text, credit=vat))
    return lines


def _letter_code(index: int) -> str:
    """A, B, … Z, AA, AB, …"""
    code = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        code = chr(ord("A") + rest) + code
    return code


def _letter(lines: list[Line]) -> None:
    """Give the 411 lines of each invoice (with its receipts and credit notes) a letter once they balance."""
    groups: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        if line.account == "411000" and line.invoice_key:
            groups[line.invoice_key].append(line)
    index = 0
    for key in sorted(groups):
        group = groups[key]
        if sum(line.debit - line.credit for line in group) != ZERO:
            continue
        code, when = _letter_code(index), max(line.date for line in group)
        index += 1
        for line in group:
            line.letter, line.letter_date = code, when


def fec_build(*, year: int) -> Fec:
    seller = SellerProfile.current()
    if seller is None:
        raise BusinessError("profil vendeur absent : le FEC porte le SIREN de l'entreprise")
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    fec = Fec(siren=re.sub(r"\D", "", seller.siren), closing=end)
    fec.lines = _sales_lines(sales_documents(date_from=start, date_to=end))
    fec.lines += _receipt_lines(year_start=start, year_end=end)
    _letter(fec.lines)
    return fec


DATE_RE = re.compile(r"^\d{8}$")


def _date(text: str) -> dt.date | None:
    if not DATE_RE.match(text):
        return None
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()  # noqa: DTZ007 - a calendar date, no time
    except ValueError:
        return None


def fec_check(text: str, *, year_start: dt.date, year_end: dt.date) -> list[str]:
    """The administration's test-tool checks on the file's text; every problem, named by line."""
    problems = []
    rows = text.split("\r\n")
    if rows and rows[-1] == "":
        rows.pop()
    if not rows or rows[0].split(SEPARATOR) != COLUMNS:
        return ["ligne 1 : l'en-tête n'est pas celui des 18 colonnes légales"]
    balance: dict[str, Decimal] = defaultdict(lambda: ZERO)
    numbers: dict[str, list[int]] = defaultdict(list)
    last_date: dict[str, dt.date] = {}
    for position, row in enumerate(rows[1:], start=2):
        cells = row.split(SEPARATOR)
        if len(cells) != len(COLUMNS):
            problems.append(f"ligne {position} : {len(cells)} colonnes au lieu de {len(COLUMNS)}")
            continue
        record = dict(zip(COLUMNS, cells, strict=True))
        journal, number = record["JournalCode"], record["EcritureNum"]
        for column in ("EcritureDate", "PieceDate", "ValidDate"):
            day = _date(record[column])
            if day is None:
                problems.append(
                    f"ligne {position} : {column} « {record[column]} » n'est pas une date AAAAMMJJ"
                )
            elif column == "EcritureDate" and not year_start <= day <= year_end:
                problems.append(f"ligne {position} : date {record[column]} hors de l'exercice")
        if record["DateLet"] and _date(record["DateLet"]) is None:
            problems.append(f"ligne {position} : DateLet « {record['DateLet']} » invalide")
        if not re.match(r"^\d{3}", record["CompteNum"]):
            problems.append(f"ligne {position} : compte « {record['CompteNum']} » hors plan comptable")
        try:
            debit = Decimal(record["Debit"].replace(",", "."))
            credit = Decimal(record["Credit"].replace(",", "."))
        except ArithmeticError:
            problems.append(f"ligne {position} : montant illisible")
            continue
        if not re.match(r"^\d+,\d{2}$", record["Debit"]) or not re.match(r"^\d+,\d{2}$", record["Credit"]):
            problems.append(f"ligne {position} : montants attendus avec une virgule et deux décimales")
        if (debit > 0) == (credit > 0):
            problems.append(f"ligne {position} : une ligne porte soit un débit soit un crédit")
        balance[number] += debit - credit
        match = re.match(rf"^{re.escape(journal)}(\d+)$", number)
        if not match:
            problems.append(f"ligne {position} : numéro d'écriture « {number} » hors du journal {journal}")
        elif not numbers[journal] or numbers[journal][-1] != int(match[1]):
            numbers[journal].append(int(match[1]))
        day = _date(record["EcritureDate"])
        if day and journal in last_date and day < last_date[journal]:
            problems.append(f"ligne {position} : écriture {number} antérieure à la précédente du journal")
        if day:
            last_date[journal] = day
    problems += [f"écriture {number} déséquilibrée ({gap})" for number, gap in balance.items() if gap]
    for journal, seen in numbers.items():
        if seen != list(range(1, len(seen) + 1)):
            problems.append(f"journal {journal} : numérotation des écritures avec un trou ou un désordre")
    return problems


def fec_export(*, year: int, directory: Path) -> tuple[Path, int]:
    """Build, check, then write the FEC of ``year`` into ``directory``; returns (path, entry lines)."""
    fec = fec_build(year=year)
    text = fec.text()
    problems = fec_check(text, year_start=dt.date(year, 1, 1), year_end=dt.date(year, 12, 31))
    if problems:
        raise FecCheckError("FEC refusé par le contrôle : " + " ; ".join(problems[:20]))
    try:
        content = text.encode(ENCODING)
    except UnicodeEncodeError as exc:
        raise FecCheckError(f"caractère hors ISO-8859-15 : {exc.object[exc.start : exc.end]!r}") from exc
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / fec.filename
    path.write_bytes(content)
    return path, len(fec.lines)
