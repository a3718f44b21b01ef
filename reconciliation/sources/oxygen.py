"""The accounting side: an Oxygène CSV of sales entries, read back into one set of totals per document.

What is read (all or nothing: the first bad line stops with ``line N: reason`` and nothing is compared):

- the layout ``reconciliation/exports/oxygen.py`` writes (ISO-8859-15, ``;``, the 36 OpenFlyers columns,
  ``NUMCP`` account, ``NPIEC`` piece number, ``DTOPE`` date ``AAAAMMJJ``, ``MTDEB`` / ``MTCRE`` with a decimal
  comma), with or without its header row;
- what a real accounting export does besides: UTF-8 (with or without BOM) or ISO-8859-15, ``;``, tab, ``|``
  or ``,`` between cells, extra columns, columns in any order when there is a header (also under their FEC or
  plain French names: ``CompteNum``/``Compte``, ``PieceRef``/``Pièce``, ``EcritureDate``/``Date``,
  ``Debit``/``Débit``, ``Credit``/``Crédit``, ``JournalCode``/``Journal``, or one ``Montant`` with a ``Sens``
  D/C), a decimal comma or point, dates ``AAAAMMJJ``, ``JJ/MM/AAAA`` or ``AAAA-MM-JJ``, several lines per
  document in any order.

Each document's entry is summed back per account class: client accounts (``41…``, or an auxiliary account
starting with a letter) give the TTC (debit − credit), sales accounts (``70…``) the HT and collected VAT
(``4457…``) the VAT (credit − debit). A credit note comes out negative. Lines on other accounts are counted
and left aside; when the file has a journal column, only the journals that book sales (a ``70…`` line) are
read, so that a whole ledger's bank entries do not pass for documents.

One document is one entry: consecutive lines of the same piece number and date. When such a run balances
(debit = credit) and more lines with an amount follow for the same number, or when the number comes back
later in the file, that is a second entry: the number is duplicated in the export.
"""

import calendar
import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from reconciliation.exports.oxygen import CSV_COLUMNS
from syaga.core.dates import DateError, parse_date
from syaga.core.errors import InputError
from syaga.core.money import ZERO, AmountError, parse_amount, quantize
from syaga.core.text import header_key

# role -> header names that carry it (compared through syaga.core.text.header_key)
HEADER_ALIASES = {
    "account": ("numcp", "comptenum", "compte", "comptegeneral", "numerodecompte", "account"),
    "number": ("npiec", "pieceref", "piece", "numerodepiece", "numpiece", "nopiece", "refpiece"),
    "date": ("dtope", "ecrituredate", "date", "dateecriture", "datepiece", "dateoperation"),
    "debit": ("mtdeb", "debit", "montantdebit"),
    "credit": ("mtcre", "credit", "montantcredit"),
    "amount": ("montant", "mt", "amount"),
    "direction": ("sens", "dc"),
    "journal": ("numjl", "journalcode", "journal", "codejournal"),
}
# the Oxygène names, used in messages ("la colonne NPIEC …")
ROLE_NAMES = {
    "account": "NUMCP",
    "number": "NPIEC",
    "date": "DTOPE",
    "debit": "MTDEB",
    "credit": "MTCRE",
    "amount": "MONTANT",
    "direction": "SENS",
    "journal": "NUMJL",
}
POSITIONAL = {
    role: CSV_COLUMNS.index(name)
    for role, name in ROLE_NAMES.items()
    if name in CSV_COLUMNS  # the layout has no MONTANT/SENS
}
DELIMITERS = (";", "\t", "|", ",")


@dataclass
class ExportEntry:
    """One document's entry as the accounting books it (signed: a credit note is negative)."""

    number: str
    line_no: int  # its first line in the file
    issue_date: dt.date
    total_ht: Decimal = ZERO
    total_vat: Decimal = ZERO
    total_ttc: Decimal = ZERO
    lines: int = 0
    debit: Decimal = ZERO
    credit: Decimal = ZERO

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit and self.debit != ZERO

    @property
    def is_credit_note(self) -> bool:
        return (self.total_ttc or self.total_ht) < 0


@dataclass
class OxygenExport:
    path: str
    entries: dict[str, list[ExportEntry]] = field(default_factory=dict)  # number -> entries, file order
    lines: int = 0  # entry lines read
    ignored_lines: int = 0  # lines on other accounts, or of journals that book no sale
    period_start: dt.date | None = None
    period_end: dt.date | None = None

    @property
    def documents(self) -> int:
        return len(self.entries)


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("iso-8859-15")


def _columns_from_header(cells: list[str]) -> dict[str, int] | None:
    """``{role: index}`` when the row is a header (at least two known names), else None."""
    keys = [header_key(cell) for cell in cells]
    columns: dict[str, int] = {}
    for role, aliases in HEADER_ALIASES.items():
        for alias in aliases:  # the first alias found wins: NUMCP before a plain "compte"
            if alias in keys:
                columns[role] = keys.index(alias)
                break
    return columns if len(columns) >= 2 else None


def _account_class(account: str) -> str:
    if account.startswith("4457"):
        return "vat"
    if account.startswith("70"):
        return "sales"
    if account.startswith("41") or account[:1].isalpha():
        return "client"
    return "other"


def _cell(row: list[str], columns: dict[str, int], role: str) -> str:
    index = columns.get(role)
    if index is None:
        return ""
    return row[index].strip() if index < len(row) else ""


def _amount(text: str, what: str, where: str) -> Decimal:
    if not text:
        return ZERO
    try:
        return parse_amount(text)
    except AmountError:
        raise InputError(f"{what} « {text} » n'est pas un montant", where=where) from None


def _day(text: str, where: str) -> dt.date:
    if not text:
        raise InputError(f"date ({ROLE_NAMES['date']}) vide", where=where)
    try:
        if len(text) == 8 and text.isdigit():
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return parse_date(text)
    except (ValueError, DateError):
        raise InputError(
            f"date « {text} » illisible (attendu AAAAMMJJ, JJ/MM/AAAA ou AAAA-MM-JJ)", where=where
        ) from None


@dataclass
class _Row:
    line_no: int
    journal: str
    account_class: str
    number: str
    day: dt.date
    debit: Decimal
    credit: Decimal


def oxygen_read(path: str | Path) -> OxygenExport:
    """Read the export at ``path``. Raises :class:`InputError` (``line N: reason``) on the first bad line."""
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InputError(f"fichier illisible ({exc.strerror or exc})", where=str(path)) from None
    text = _decode(content)
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise InputError("le fichier est vide", where="ligne 1")
    delimiter = next((d for d in DELIMITERS if d in first), None)
    if delimiter is None:
        raise InputError("aucun séparateur de colonnes (« ; » attendu)", where="ligne 1")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[_Row] = []
    columns: dict[str, int] | None = None
    width_needed = 0
    try:
        for cells in reader:
            line_no = reader.line_num
            where = f"ligne {line_no}"
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                columns = _columns_from_header(cells)
                if columns is not None:
                    _check_header(columns, cells, where)
                    width_needed = max(columns[r] for r in columns if r != "journal") + 1
                    continue
                columns = POSITIONAL
                width_needed = max(POSITIONAL.values()) + 1
            if len(cells) < width_needed:
                raise InputError(
                    f"{len(cells)} colonne(s), il en faut au moins {width_needed} "
                    f"(séparateur « {delimiter if delimiter != chr(9) else 'tabulation'} »)",
                    where=where,
                )
            rows.append(_row(cells, columns, line_no, where))
    except csv.Error as exc:
        raise InputError(f"CSV mal formé : {exc}", where=f"ligne {reader.line_num}") from None
    if not rows:
        raise InputError("aucune ligne d'écriture", where=str(path))
    return _entries(str(path), rows, has_journal="journal" in columns)


def _check_header(columns: dict[str, int], cells: list[str], where: str) -> None:
    amounts = ("debit" in columns and "credit" in columns) or ("amount" in columns and "direction" in columns)
    missing = [ROLE_NAMES[role] for role in ("account", "number", "date") if role not in columns]
    if not amounts:
        missing.append("MTDEB et MTCRE (ou MONTANT et SENS)")
    if missing:
        raise InputError(
            f"colonne(s) {', '.join(missing)} introuvable(s) dans l'en-tête ({'; '.join(cells)[:200]})",
            where=where,
        )


def _row(cells: list[str], columns: dict[str, int], line_no: int, where: str) -> _Row:
    account = _cell(cells, columns, "account").replace(" ", "")
    if not account:
        raise InputError(f"compte ({ROLE_NAMES['account']}) vide", where=where)
    number = _cell(cells, columns, "number")
    if not number:
        raise InputError(f"numéro de pièce ({ROLE_NAMES['number']}) vide", where=where)
    day = _day(_cell(cells, columns, "date"), where)
    if "debit" in columns:
        debit = _amount(_cell(cells, columns, "debit"), "débit", where)
        credit = _amount(_cell(cells, columns, "credit"), "crédit", where)
    else:
        amount = _amount(_cell(cells, columns, "amount"), "montant", where)
        direction = _cell(cells, columns, "direction").upper()[:1]
        if direction not in ("D", "C"):
            raise InputError(f"sens « {_cell(cells, columns, 'direction')} » : D ou C attendu", where=where)
        debit, credit = (amount, ZERO) if direction == "D" else (ZERO, amount)
    return _Row(
        line_no=line_no,
        journal=_cell(cells, columns, "journal"),
        account_class=_account_class(account.upper()),
        number=number.upper(),
        day=day,
        debit=debit,
        credit=credit,
    )


def _entries(path: str, rows: list[_Row], *, has_journal: bool) -> OxygenExport:
    export = OxygenExport(path=path)
    if has_journal:
        sales_journals = {row.journal for row in rows if row.account_class == "sales"}
        kept = [row for row in rows if row.journal in sales_journals]
        export.ignored_lines += len(rows) - len(kept)
        rows = kept
    current: ExportEntry | None = None
    for row in rows:
        has_amount = row.debit != ZERO or row.credit != ZERO
        same = (
            current is not None
            and row.number == current.number
            and row.day == current.issue_date
            and not (current.balanced and has_amount)
        )
        if not same:
            current = ExportEntry(number=row.number, line_no=row.line_no, issue_date=row.day)
            export.entries.setdefault(row.number, []).append(current)
        export.lines += 1
        current.lines += 1
        current.debit += row.debit
        current.credit += row.credit
        if row.account_class == "client":
            current.total_ttc += row.debit - row.credit
        elif row.account_class == "sales":
            current.total_ht += row.credit - row.debit
        elif row.account_class == "vat":
            current.total_vat += row.credit - row.debit
        else:
            export.ignored_lines += 1
    for entries in export.entries.values():
        for entry in entries:
            entry.total_ht = quantize(entry.total_ht)
            entry.total_vat = quantize(entry.total_vat)
            entry.total_ttc = quantize(entry.total_ttc)
    if not export.entries:
        raise InputError(
            "aucune écriture de vente (aucun journal n'a de ligne sur un compte 70…)", where=path
        )
    days = [entries[0].issue_date for entries in export.entries.values()]
    # The export covers whole months: a document of its first or last month missing from it is missing.
    first, last = min(days), max(days)
    export.period_start = first.replace(day=1)
    export.period_end = last.replace(day=calendar.monthrange(last.year, last.month)[1])
    return export
