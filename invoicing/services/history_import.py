"""Importing the invoice history exported by the firm's previous tool.

The export is a CSV whose dialect is not known in advance: ``;``, ``,`` or tab, UTF-8 (with or without
BOM), UTF-16 or Windows-1252, decimal comma or point, French or ISO dates, headers in any case and spelling
among known aliases. The import is all-or-nothing: every row is read and checked first, and only a file
without a single error is written, in one transaction, with bulk inserts. Rows whose invoice number is
already in the database are skipped, so running the same file twice writes nothing the second time.
"""

import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from invoicing.models import Client, ClientAlias, Invoice, InvoiceLine
from invoicing.models.invoice import Kind, Origin, Status, Unit, history_lines_insert_allow
from invoicing.services.numbering import parse_number, sequences_continue_after
from syaga.core.dates import DateError, parse_date
from syaga.core.errors import InputError
from syaga.core.money import ZERO, AmountError, parse_amount, quantize
from syaga.core.text import header_key, normalize_company_name

DEFAULT_VAT_RATE = Decimal("20.00")
DEFAULT_PAYMENT_DAYS = 30
TOLERANCE = Decimal("0.01")
PROGRESS_EVERY = 10_000
HEADER_SCAN_ROWS = 10
DELIMITERS = (";", "\t", ",")
# Rates French invoices have carried since 2010; a line whose VAT is one of them to the cent gets that
# exact rate rather than a quotient that rounding made 19.99.
KNOWN_VAT_RATES = tuple(Decimal(r) for r in ("20", "10", "5.5", "2.1", "0", "19.6", "7", "8.5", "13", "0.9"))
_RATE_FACTORS = tuple((quantize(rate), rate / 100) for rate in KNOWN_VAT_RATES)

# Field -> accepted header spellings, in order of preference when a file has several of them. The first
# ones are those the issue names; the others are what other tools are seen to write.
ALIASES: dict[str, tuple[str, ...]] = {
    "number": (
        "Numéro",
        "N° facture",
        "Facture",
        "Num",
        "Numéro facture",
        "Numéro de facture",
        "N° de facture",
        "No facture",
        "Num facture",
        "Réf facture",
        "Référence facture",
        "Invoice number",
        "Invoice no",
        "Invoice",
    ),
    "issue_date": (
        "Date",
        "Date facture",
        "Date d'émission",
        "Date de facture",
        "Date emission",
        "Date fact",
        "Invoice date",
        "Issue date",
    ),
    "due_date": ("Échéance", "Date d'échéance", "Date échéance", "Date limite de paiement", "Due date"),
    "client": (
        "Raison sociale",
        "Nom client",
        "Client",
        "Nom du client",
        "Customer",
        "Customer name",
        "Client name",
    ),
    "label": ("Désignation", "Libellé", "Objet", "Description", "Intitulé", "Label"),
    "ht": (
        "Montant HT",
        "Total HT",
        "HT",
        "Montant hors taxes",
        "Total hors taxes",
        "Net HT",
        "Amount excl tax",
    ),
    "vat": ("TVA", "Montant TVA", "Total TVA", "VAT", "Tax"),
    "ttc": ("Montant TTC", "Total TTC", "TTC", "Net à payer", "Montant toutes taxes", "Amount incl tax"),
    "paid_date": (
        "Réglée le",
        "Date règlement",
        "Date de paiement",
        "Date de règlement",
        "Date paiement",
        "Payée le",
        "Payé le",
        "Paid on",
        "Payment date",
    ),
}
ALIAS_KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(header_key(a) for a in spellings) for name, spellings in ALIASES.items()
}
KEY_FIELD: dict[str, str] = {key: f for f, keys in ALIAS_KEYS.items() for key in keys}
REQUIRED = ("number", "issue_date", "client")
AMOUNT_FIELDS = ("ht", "vat", "ttc")
FIELD_LABELS = {
    "number": "invoice number",
    "issue_date": "date",
    "due_date": "due date",
    "client": "client",
    "label": "label",
    "ht": "amount HT",
    "vat": "VAT",
    "ttc": "amount TTC",
    "paid_date": "payment date",
}
NUMBER_MAX_LENGTH = Invoice._meta.get_field("number").max_length
CLIENT_NAME_MAX_LENGTH = Client._meta.get_field("name").max_length
_CURRENCY_SUFFIX = re.compile(r"(eur|euros?)$")
_EXCEL_TEXT = re.compile(r'^="(.*)"$')


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    encoding: str = ""
    delimiter: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    rows_read: int = 0
    rows_skipped: int = 0
    rows_ignored: int = 0
    invoices_created: int = 0
    credit_notes_created: int = 0
    lines_created: int = 0
    paid: int = 0
    clients_created: int = 0
    clients_reused: int = 0
    invoices_skipped: int = 0
    sequences_moved: int = 0
    total_ttc: Decimal = ZERO
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "columns": self.columns,
            "rows_read": self.rows_read,
            "rows_skipped": self.rows_skipped,
            "rows_ignored": self.rows_ignored,
            "invoices_created": self.invoices_created,
            "credit_notes_created": self.credit_notes_created,
            "lines_created": self.lines_created,
            "paid": self.paid,
            "clients_created": self.clients_created,
            "clients_reused": self.clients_reused,
            "invoices_skipped": self.invoices_skipped,
            "sequences_moved": self.sequences_moved,
            "total_ttc": str(self.total_ttc),
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "warnings": self.warnings,
        }

    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        text = (
            f"{self.rows_read} rows read: {verb} {self.invoices_created} invoices and "
            f"{self.credit_notes_created} credit notes ({self.lines_created} lines, {self.paid} paid, "
            f"{self.total_ttc} TTC), {self.clients_created} new clients, {self.clients_reused} existing "
            f"clients reused; {self.rows_skipped} rows skipped, already imported"
        )
        if self.rows_ignored:
            text += f"; {self.rows_ignored} rows without number, date or client ignored"
        return text + "."


@dataclass(slots=True)
class _Line:
    line_no: int
    label: str
    ht: Decimal
    vat: Decimal
    ttc: Decimal


@dataclass(slots=True)
class _Invoice:
    line_no: int
    number: str
    client_key: str
    client_name: str
    issue_date: dt.date
    due_date: dt.date | None
    paid_date: dt.date | None
    label: str
    lines: list[_Line] = field(default_factory=list)


# -- reading the file ---------------------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 reads everything and agrees on the letters.
        return data.decode("latin-1"), "latin-1"


def _read_text(path, stream, encoding: str | None) -> tuple[str, str]:
    if stream is None:
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError as exc:
            raise InputError(f"file {str(path)!r} not found") from exc
        except OSError as exc:
            raise InputError(f"file {str(path)!r} cannot be read: {exc.strerror}") from exc
    else:
        data = stream.read()
        if isinstance(data, str):
            return data.removeprefix("\ufeff"), "text"
    if encoding:
        try:
            return data.decode(encoding).removeprefix("\ufeff"), encoding
        except (LookupError, UnicodeDecodeError) as exc:
            raise InputError(f"the file cannot be read as {encoding}: {exc}") from exc
    return _decode(data)


def _field_of(cell: str) -> str | None:
    key = header_key(cell)
    if key in KEY_FIELD:
        return KEY_FIELD[key]
    stripped = _CURRENCY_SUFFIX.sub("", key)  # "Montant HT (EUR)", "Total TTC euros"
    return KEY_FIELD.get(stripped) if stripped else None


def _map_header(cells: list[str]) -> dict[str, int]:
    """Field -> column index; when two columns name one field, the preferred alias wins, then the first."""
    best: dict[str, tuple[int, int]] = {}
    for index, cell in enumerate(cells):
        name = _field_of(cell)
        if name is None:
            continue
        key = header_key(cell)
        keys = ALIAS_KEYS[name]
        rank = keys.index(key) if key in keys else len(keys)
        if name not in best or rank < best[name][0]:
            best[name] = (rank, index)
    return {name: index for name, (_rank, index) in best.items()}


def _find_header(text: str, delimiter: str | None) -> tuple[str, int, list[str]]:
    """(delimiter, header line number, header cells).

    Each candidate delimiter splits the first rows; the header is the first row in which several cells
    are known column names, and the delimiter is the one that finds the most of them. Counting known
    names rather than separators is what keeps decimal commas from passing for a comma-separated file.
    An Excel ``sep=;`` first line is honoured. Title lines above the header are skipped.
    """
    first_line = text.split("\n", 1)[0].strip()
    m = re.fullmatch(r'"?sep=(.)"?', first_line, flags=re.IGNORECASE)
    if m and not delimiter:
        delimiter = m[1]
    candidates = (delimiter,) if delimiter else DELIMITERS
    best: tuple[int, str, int, list[str]] | None = None
    for candidate in candidates:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=candidate)
        try:
            for _ in range(HEADER_SCAN_ROWS):
                start = reader.line_num + 1
                row = next(reader)
                matched = len(_map_header(row))
                if matched >= 2:
                    if best is None or matched > best[0]:
                        best = (matched, candidate, start, row)
                    break
        except (StopIteration, csv.Error):
            pass
    if best:
        return best[1], best[2], best[3]
    # No row names two known columns: report against the first non-blank line, split as well as we can.
    lines = text.splitlines()
    number, line = next(((i, line) for i, line in enumerate(lines, start=1) if line.strip()), (1, ""))
    if not line:
        raise InputError("the file is empty")
    chosen = delimiter or max(DELIMITERS, key=line.count)
    return chosen, number, next(csv.reader([line], delimiter=chosen), [])


def _missing_column_error(name: str, cells: list[str], line_no: int) -> InputError:
    expected = ", ".join(ALIASES[name][:4])
    found = ", ".join(repr(c) for c in cells if c.strip()) or "none"
    return InputError(
        f"missing column {FIELD_LABELS[name]} (expected one of: {expected}); headers found: {found}",
        where=f"line {line_no}",
    )


# -- checking rows ----------------------------------------------------------------------------------


def _vat_rate(ht: Decimal, vat: Decimal, line_no: int) -> Decimal:
    if ht == 0:
        if vat != 0:
            raise InputError(f"VAT {vat} on a zero amount HT", where=f"line {line_no}")
        return Decimal("0.00")
    for rate, factor in _RATE_FACTORS:
        if quantize(ht * factor) == vat:  # vat_amount(ht, rate), without its conversions
            return rate
    rate = quantize(vat * 100 / ht)
    if not Decimal("0") <= rate <= Decimal("100"):
        raise InputError(f"VAT {vat} is {rate} % of HT {ht}, not a VAT rate", where=f"line {line_no}")
    return rate


def _amounts(ht, vat, ttc, line_no: int) -> tuple[Decimal, Decimal, Decimal]:
    """Complete (HT, VAT, TTC) from what the row gives, signs kept (credit notes are negative)."""
    where = f"line {line_no}"
    if ht is not None and vat is not None and ttc is not None:
        if abs(ht + vat - ttc) > TOLERANCE:
            raise InputError(f"HT {ht} + VAT {vat} is not TTC {ttc}", where=where)
        vat = ttc - ht
    elif ht is not None and ttc is not None:
        vat = ttc - ht
    elif ht is not None and vat is not None:
        ttc = ht + vat
    elif vat is not None and ttc is not None:
        ht = ttc - vat
    elif ht is not None:
        vat = quantize(ht * DEFAULT_VAT_RATE / 100)
        ttc = ht + vat
    elif ttc is not None:
        ht = quantize(ttc * 100 / (100 + DEFAULT_VAT_RATE))
        vat = ttc - ht
    elif vat is not None:
        ht = quantize(vat * 100 / DEFAULT_VAT_RATE)
        ttc = ht + vat
    else:
        raise InputError("no amount (HT, VAT or TTC)", where=where)
    signs = {v > 0 for v in (ht, vat, ttc) if v != 0}
    if len(signs) > 1:
        raise InputError(f"HT {ht}, VAT {vat} and TTC {ttc} do not have the same sign", where=where)
    return ht, vat, ttc


class _RowReader:
    """Turns CSV rows into checked values; caches the parsing of repeated dates and amounts."""

    def __init__(self, columns: dict[str, int], width: int):
        self.columns = columns
        self.width = width
        self._date = functools.lru_cache(maxsize=65536)(parse_date)
        self._amount = functools.lru_cache(maxsize=65536)(_parse_money)
        self.client_key = functools.lru_cache(maxsize=65536)(normalize_company_name)
        # Missing optional columns read from an extra, always empty, cell at the end of the padded row.
        self.index = {name: columns.get(name, width) for name in ALIASES}
        self.padding = [""] * (width + 1)

    def pad(self, row: list[str]) -> list[str]:
        return row + self.padding[len(row) :] if len(row) <= self.width else row

    def cell(self, row: list[str], name: str) -> str:
        value = row[self.index[name]].strip()
        if value.startswith("="):
            m = _EXCEL_TEXT.match(value)  # ="00123": Excel's way of keeping leading zeros
            return m[1].strip() if m else value
        return value

    def date(self, text: str, line_no: int) -> dt.date | None:
        if not text:
            return None
        try:
            return self._date(text)
        except DateError as exc:
            raise InputError(str(exc), where=f"line {line_no}") from None

    def amount(self, text: str, line_no: int) -> Decimal | None:
        if not text:
            return None
        try:
            return self._amount(text)
        except AmountError as exc:
            raise InputError(str(exc), where=f"line {line_no}") from None


_PLAIN_AMOUNT = re.compile(r"-?(?:\d{1,15}|\d{1,3}(?:[ \u00a0\u202f]\d{3})+)(?:[.,]\d{1,2})?")


def _parse_money(text: str) -> Decimal:
    """parse_amount, with a shortcut for the ``1234,56`` and ``1 234,56`` most rows hold (same result)."""
    if _PLAIN_AMOUNT.fullmatch(text):
        plain = text.replace(",", ".").replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
        return quantize(Decimal(plain))
    return quantize(parse_amount(text))


def _merge(invoice: _Invoice, row: _Invoice) -> None:
    """A further row of an invoice already seen: it must agree with the first one on the invoice's data."""
    where = f"line {row.line_no}"
    first = f"line {invoice.line_no}"
    if row.client_key != invoice.client_key:
        raise InputError(
            f"invoice {invoice.number} has client {row.client_name!r} here but "
            f"{invoice.client_name!r} on {first}",
            where=where,
        )
    if row.issue_date != invoice.issue_date:
        raise InputError(
            f"invoice {invoice.number} is dated {row.issue_date:%d/%m/%Y} here but "
            f"{invoice.issue_date:%d/%m/%Y} on {first}",
            where=where,
        )
    for attr, label in (("due_date", "due date"), ("paid_date", "payment date")):
        mine, theirs = getattr(invoice, attr), getattr(row, attr)
        if mine and theirs and mine != theirs:
            raise InputError(
                f"invoice {invoice.number} has {label} {theirs:%d/%m/%Y} here but {mine:%d/%m/%Y} on {first}",
                where=where,
            )
        if theirs and not mine:
            setattr(invoice, attr, theirs)
    if not invoice.label:
        invoice.label = row.label
    invoice.lines.extend(row.lines)


def _parse(
    text: str,
    delimiter: str,
    header_line: int,
    header: list[str],
    report: ImportReport,
    progress: Callable[[int], None] | None,
) -> dict[str, _Invoice]:
    columns = _map_header(header)
    for name in REQUIRED:
        if name not in columns:
            raise _missing_column_error(name, header, header_line)
    if not any(name in columns for name in AMOUNT_FIELDS):
        expected = "Montant HT, Total HT, TVA, Montant TTC or Total TTC"
        found = ", ".join(repr(c) for c in header if c.strip()) or "none"
        raise InputError(
            f"missing column amount (expected one of: {expected}); headers found: {found}",
            where=f"line {header_line}",
        )
    report.columns = {name: header[index].strip() for name, index in columns.items()}
    rows = _RowReader(columns, len(header))
    invoices: dict[str, _Invoice] = {}
    ignored_lines: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        while reader.line_num < header_line:
            next(reader)
        while True:
            line_no = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            if not "".join(row).strip():
                continue
            if len(row) > rows.width and any(c.strip() for c in row[rows.width :]):
                hint = ""
                if delimiter == ",":
                    hint = " (a decimal comma in a comma-separated file must be quoted)"
                raise InputError(
                    f"{len(row)} fields but the header has {rows.width}{hint}", where=f"line {line_no}"
                )
            report.rows_read += 1
            if progress and report.rows_read % PROGRESS_EVERY == 0:
                progress(report.rows_read)
            parsed = _parse_row(rows, rows.pad(row), line_no)
            if parsed is None:
                report.rows_ignored += 1
                ignored_lines.append(line_no)
                continue
            seen = invoices.get(parsed.number)
            if seen is None:
                invoices[parsed.number] = parsed
            else:
                _merge(seen, parsed)
    except csv.Error as exc:
        raise InputError(f"the CSV is malformed: {exc}", where=f"line {reader.line_num}") from None
    if ignored_lines:
        shown = ", ".join(str(n) for n in ignored_lines[:10]) + (" …" if len(ignored_lines) > 10 else "")
        lines = "line" if len(ignored_lines) == 1 else "lines"
        report.warnings.append(f"rows without number, date or client ignored (totals?): {lines} {shown}")
    return invoices


def _parse_row(rows: _RowReader, row: list[str], line_no: int) -> _Invoice | None:
    number = rows.cell(row, "number")
    client_name = rows.cell(row, "client")
    issue_text = rows.cell(row, "issue_date")
    if not (number or client_name or issue_text):
        return None  # a total or a comment line under the data
    where = f"line {line_no}"
    if not number:
        raise InputError("invoice number is empty", where=where)
    if len(number) > NUMBER_MAX_LENGTH:
        raise InputError(f"invoice number {number!r} is longer than 35 characters", where=where)
    if not client_name:
        raise InputError("client is empty", where=where)
    client_key = rows.client_key(client_name)
    if not client_key:
        raise InputError(f"client {client_name!r} has no letters or digits", where=where)
    if len(client_name) > CLIENT_NAME_MAX_LENGTH:
        raise InputError(f"client name {client_name[:40]!r}… is longer than 200 characters", where=where)
    if not issue_text:
        raise InputError("date is empty", where=where)
    issue_date = rows.date(issue_text, line_no)
    due_date = rows.date(rows.cell(row, "due_date"), line_no)
    paid_date = rows.date(rows.cell(row, "paid_date"), line_no)
    ht, vat, ttc = _amounts(
        rows.amount(rows.cell(row, "ht"), line_no),
        rows.amount(rows.cell(row, "vat"), line_no),
        rows.amount(rows.cell(row, "ttc"), line_no),
        line_no,
    )
    label = rows.cell(row, "label")
    return _Invoice(
        line_no=line_no,
        number=number,
        client_key=client_key,
        client_name=client_name,
        issue_date=issue_date,
        due_date=due_date,
        paid_date=paid_date,
        label=label,
        lines=[_Line(line_no=line_no, label=label, ht=ht, vat=vat, ttc=ttc)],
    )


# -- writing ----------------------------------------------------------------------------------------


def _existing_numbers(numbers: list[str]) -> set[str]:
    if len(numbers) > 5000:
        # A big file: reading every number once is cheaper than hundreds of IN queries.
        stored = Invoice.objects.filter(number__isnull=False).values_list("number", flat=True)
        return set(stored.iterator(10_000)).intersection(numbers)
    found: set[str] = set()
    for start in range(0, len(numbers), 500):
        chunk = numbers[start : start + 500]
        found.update(Invoice.objects.filter(number__in=chunk).values_list("number", flat=True))
    return found


def _known_clients() -> dict[str, int]:
    """Normalised name -> client id, from the clients' names and then their other names."""
    known: dict[str, int] = {}
    for key, pk in ClientAlias.objects.order_by("-client_id").values_list("normalized_name", "client_id"):
        known[key] = pk
    for key, pk in Client.objects.order_by("-pk").values_list("normalized_name", "pk"):
        known[key] = pk  # the oldest client wins when two share a name; a client's own name beats an alias
    return known


class _BulkInsert:
    """``INSERT … VALUES`` through ``executemany`` for one model, for tens of thousands of rows.

    ``bulk_create`` prepares every value of every field through the ORM, which costs more than the whole
    rest of the import at 100,000 rows. Here the values the import gives are adapted with the backend's
    own adapters, and every other column gets its model default, prepared once; a column with a database
    default is left to the database. New fields on the model are thus covered as long as they have a
    default, as ``bulk_create`` would need too.
    """

    FAST = {
        "DateField",
        "DateTimeField",
        "JSONField",
        "DecimalField",
        "CharField",
        "TextField",
        "ForeignKey",
        "BooleanField",
        "PositiveSmallIntegerField",
        "PositiveIntegerField",
    }

    def __init__(self, model, given: list[str], prepared: tuple[str, ...] = ()):
        ops = connection.ops
        self.model = model
        self.given = given
        now = timezone.now()
        columns, self.constants, adapters = [], {}, []
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        for name in given:
            f = by_attname[name]
            columns.append(f.column)
            kind = f.get_internal_type()
            if name in prepared:
                adapters.append(None)
            elif kind == "DateField":
                adapters.append(functools.lru_cache(maxsize=65536)(ops.adapt_datefield_value))
            elif kind == "DateTimeField":
                adapters.append(functools.lru_cache(maxsize=65536)(ops.adapt_datetimefield_value))
            elif kind == "JSONField":
                adapters.append(functools.partial(ops.adapt_json_value, encoder=f.encoder))
            elif kind in self.FAST:
                adapters.append(None)  # str, int, bool, Decimal: the drivers take them as they are
            else:
                adapters.append(functools.partial(f.get_db_prep_save, connection=connection))
        self.adapters = adapters
        constants = []
        for f in model._meta.concrete_fields:
            if f.primary_key or f.attname in given or f.has_db_default():
                continue
            stamped = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            value = now if stamped else f.get_default()
            columns.append(f.column)
            constants.append(f.get_db_prep_save(value, connection=connection))
        self.constants = tuple(constants)
        quote = ops.quote_name
        # Only the model's own table and column names go into the text; every value is a parameter.
        table, names = quote(model._meta.db_table), ", ".join(quote(c) for c in columns)
        placeholders = ", ".join(["%s"] * len(columns))
        self.sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608

    def run(self, rows: list[tuple]) -> None:
        adapters = [(i, adapt) for i, adapt in enumerate(self.adapters) if adapt is not None]
        constants = self.constants
        params = []
        for row in rows:
            values = list(row)
            for i, adapt in adapters:
                if values[i] is not None:
                    values[i] = adapt(values[i])
            params.append((*values, *constants))
        with connection.cursor() as cursor:
            for start in range(0, len(params), 10_000):
                cursor.executemany(self.sql, params[start : start + 10_000])


INVOICE_COLUMNS = [
    "kind",
    "number",
    "series",
    "client_id",
    "status",
    "origin",
    "subject",
    "issue_date",
    "due_date",
    "total_ht",
    "total_vat",
    "total_ttc",
    "vat_breakdown",
    "amount_paid",
    "paid_date",
    "buyer_snapshot",
    "issued_at",
]
LINE_COLUMNS = [
    "invoice_id",
    "position",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "vat_rate",
    "total_ht",
]


@dataclass(slots=True)
class _Built:
    number: str
    client_key: str
    values: list  # INVOICE_COLUMNS order, client_id filled in at write time
    lines: list[list]  # LINE_COLUMNS order, invoice_id filled in at write time


_KIND_INVOICE, _KIND_CREDIT = Kind.INVOICE.value, Kind.CREDIT_NOTE.value
_STATUS_ISSUED, _STATUS_PAID = Status.ISSUED.value, Status.PAID.value
_ORIGIN, _UNIT, _ONE = Origin.IMPORTED.value, Unit.FLAT.value, Decimal("1")
_PAYMENT_TERMS = dt.timedelta(days=DEFAULT_PAYMENT_DAYS)


def _build(draft: _Invoice, issued_at: dt.datetime, report: ImportReport) -> _Built:
    rows = draft.lines
    if len(rows) == 1:
        total_ht, total_vat, total_ttc = rows[0].ht, rows[0].vat, rows[0].ttc
    else:
        total_ht = sum((line.ht for line in rows), ZERO)
        total_vat = sum((line.vat for line in rows), ZERO)
        total_ttc = sum((line.ttc for line in rows), ZERO)
    credit = total_ttc < 0 or (total_ttc == 0 and total_ht < 0)
    if credit:
        total_ht, total_vat, total_ttc = -total_ht, -total_vat, -total_ttc
    if total_ht < 0 or total_vat < 0 or total_ttc < 0:
        raise InputError(
            f"the rows of invoice {draft.number} add up to HT {total_ht}, VAT {total_vat}, TTC {total_ttc}",
            where=f"line {draft.line_no}",
        )
    per_rate: dict[Decimal, list[Decimal]] = {}
    lines = []
    for position, row in enumerate(rows, start=1):
        ht, vat = (-row.ht, -row.vat) if credit else (row.ht, row.vat)
        rate = _vat_rate(abs(ht), abs(vat), row.line_no)
        base = per_rate.get(rate)
        if base is None:
            per_rate[rate] = [ht, vat]
        else:
            base[0] += ht
            base[1] += vat
        description = (row.label or draft.label or f"Facture {draft.number}")[:500]
        lines.append([None, position, description, _ONE, _UNIT, ht, rate, ht])
    parsed = parse_number(draft.number)
    paid = draft.paid_date is not None
    values = [
        _KIND_CREDIT if credit else _KIND_INVOICE,
        draft.number,
        parsed[0] if parsed else "",
        None,
        _STATUS_PAID if paid else _STATUS_ISSUED,
        _ORIGIN,
        draft.label[:300],
        draft.issue_date,
        draft.due_date or draft.issue_date + _PAYMENT_TERMS,
        total_ht,
        total_vat,
        total_ttc,
        [{"rate": str(rate), "base_ht": str(b), "vat": str(v)} for rate, (b, v) in sorted(per_rate.items())],
        total_ttc if paid else ZERO,
        draft.paid_date,
        None,
        issued_at,  # buyer_snapshot: set at write time
    ]
    if credit:
        report.credit_notes_created += 1
        report.total_ttc -= total_ttc
    else:
        report.invoices_created += 1
        report.total_ttc += total_ttc
    report.lines_created += len(lines)
    report.paid += paid
    return _Built(number=draft.number, client_key=draft.client_key, values=values, lines=lines)


def _write(built: list[_Built], clients: dict[str, Client], new_clients: list[Client]) -> int:
    """Clients, invoices, lines and numbering counters, in the caller's transaction; counters moved."""
    Client.objects.bulk_create(new_clients, batch_size=500)
    client_ids = {key: client.pk for key, client in clients.items()}
    before = Invoice.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    # One JSON text per client rather than one per invoice.
    snapshot_field = Invoice._meta.get_field("buyer_snapshot")
    snapshots = {
        key: snapshot_field.get_db_prep_save(client.snapshot(), connection=connection)
        for key, client in clients.items()
    }
    rows = []
    for item in built:
        item.values[3] = client_ids[item.client_key]
        item.values[15] = snapshots[item.client_key]
        rows.append(item.values)
    _BulkInsert(Invoice, INVOICE_COLUMNS, prepared=("buyer_snapshot",)).run(rows)
    # executemany returns no ids: read them back by number among the rows added after ``before``.
    ids = dict(Invoice.objects.filter(pk__gt=before, origin=Origin.IMPORTED).values_list("number", "pk"))
    lines = []
    for item in built:
        invoice_id = ids[item.number]
        for line in item.lines:
            line[0] = invoice_id
            lines.append(line)
    history_lines_insert_allow(connection)
    _BulkInsert(InvoiceLine, LINE_COLUMNS).run(lines)
    return sequences_continue_after([item.number for item in built])


def invoices_import_csv(
    *,
    path: str | Path | None = None,
    stream=None,
    dry_run: bool = False,
    encoding: str | None = None,
    delimiter: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import an invoice history CSV (a ``path``, or a binary or text ``stream``); all or nothing.

    Raises :class:`InputError` naming the file line and the reason at the first bad row, before anything
    is written. Invoices whose number is already in the database are skipped. With ``dry_run`` the
    report says what would be created and nothing is written. Numbering counters continue after the
    highest imported number of each series and year.
    """
    if (path is None) == (stream is None):
        raise TypeError("pass either path or stream")
    report = ImportReport(dry_run=dry_run)
    text, report.encoding = _read_text(path, stream, encoding)
    delimiter, header_line, header = _find_header(text, delimiter)
    report.delimiter = delimiter
    drafts = _parse(text, delimiter, header_line, header, report, progress)

    existing = _existing_numbers(list(drafts))
    for number in existing:
        report.rows_skipped += len(drafts.pop(number).lines)
    report.invoices_skipped = len(existing)
    if drafts:
        dates = [d.issue_date for d in drafts.values()]
        report.first_date, report.last_date = min(dates), max(dates)

    known = _known_clients()
    clients: dict[str, Client] = {}
    new_clients: list[Client] = []
    reuse: dict[str, int] = {}
    for draft in drafts.values():
        if draft.client_key in clients or draft.client_key in reuse:
            continue
        pk = known.get(draft.client_key)
        if pk is None:
            client = Client(name=draft.client_name, normalized_name=draft.client_key)
            new_clients.append(client)
            clients[draft.client_key] = client
        else:
            reuse[draft.client_key] = pk
    stored = Client.objects.in_bulk(list(set(reuse.values()))) if reuse else {}
    clients.update({key: stored[pk] for key, pk in reuse.items()})
    report.clients_created, report.clients_reused = len(new_clients), len(stored)

    # The moment of issue is not in the export: the start of the issue date stands for it.
    issued_at = functools.lru_cache(maxsize=None)(
        lambda day: timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    )
    # In date order: the pks follow the history, and the date and number indexes grow at their end.
    ordered = sorted(drafts.values(), key=lambda d: (d.issue_date, d.number))
    built = [_build(d, issued_at(d.issue_date), report) for d in ordered]
    if dry_run or not built:
        return report
    try:
        with transaction.atomic():
            report.sequences_moved = _write(built, clients, new_clients)
    except IntegrityError as exc:
        raise InputError(
            f"the database refused the import, nothing was written ({exc}); another import or an invoice "
            "issued meanwhile may have taken one of these numbers: run the import again"
        ) from exc
    return report
