"""From CSV rows to checked historical invoices: one named record per row, one per invoice.

A row is one line of an invoice. Several rows with the same number are the lines of one invoice (exports
at line level); they must agree on the invoice's own data (client, dates), and two rows that say exactly
the same thing are a duplicate, not two lines: counting them twice would double the invoice.
"""

import csv
import datetime as dt
import functools
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from operator import itemgetter

from invoicing.models import Client, Invoice, InvoiceLine
from invoicing.models.invoice import Kind, Status
from invoicing.services.history_import.dialect import ALIASES, MAX_AMOUNT, Dialect, read_amount, read_date
from invoicing.services.numbering import parse_number
from syaga.core.dates import DateError
from syaga.core.errors import InputError
from syaga.core.money import ZERO, AmountError, format_eur, format_rate, quantize
from syaga.core.text import normalize_company_name

DEFAULT_VAT_RATE = Decimal("20.00")
DEFAULT_PAYMENT_DAYS = 30
TOLERANCE = Decimal("0.01")
PROGRESS_EVERY = 10_000
# Rates French invoices have carried since 2010; a line whose VAT is one of them to the cent gets that
# exact rate rather than a quotient that rounding made 19.99.
KNOWN_VAT_RATES = tuple(Decimal(r) for r in ("20", "10", "5.5", "2.1", "0", "19.6", "7", "8.5", "13", "0.9"))
_RATE_FACTORS = tuple((quantize(rate), rate / 100) for rate in KNOWN_VAT_RATES)
NUMBER_MAX_LENGTH = Invoice._meta.get_field("number").max_length
CLIENT_NAME_MAX_LENGTH = Client._meta.get_field("name").max_length
SUBJECT_MAX_LENGTH = Invoice._meta.get_field("subject").max_length
DESCRIPTION_MAX_LENGTH = InvoiceLine._meta.get_field("description").max_length
# InvoiceSequence.last_number is an integer column (PostgreSQL's 4 bytes): the highest sequence a counter
# can be moved to.
MAX_SEQUENCE = 2_147_483_647
_PAYMENT_TERMS = dt.timedelta(days=DEFAULT_PAYMENT_DAYS)


@dataclass(slots=True)
class Row:
    """One CSV row, read and checked."""

    line_no: int
    number: str
    client_name: str
    client_key: str
    issue_date: dt.date
    due_date: dt.date | None
    paid_date: dt.date | None
    label: str
    ht: Decimal
    vat: Decimal
    ttc: Decimal
    # The cells of the columns the import does not read (a line number, a product code): two rows that
    # differ there are two lines, not a duplicate.
    other_cells: tuple[str, ...]

    def line_key(self) -> tuple:
        """What makes this row a line of its invoice: two rows with one key say the same thing twice.

        The due and payment dates are left out: rows of one invoice that give them differently are refused
        anyway, and one that leaves them empty says nothing new.
        """
        return (
            self.client_key,
            self.issue_date,
            self.label,
            self.ht,
            self.vat,
            self.ttc,
            self.other_cells,
        )


@dataclass(slots=True)
class InvoiceDraft:
    """The rows of one invoice number, in file order; its own data comes from the first row."""

    number: str
    line_no: int
    client_name: str
    client_key: str
    issue_date: dt.date
    due_date: dt.date | None
    paid_date: dt.date | None
    label: str
    rows: list[Row] = field(default_factory=list)
    line_keys: dict[tuple, int] | None = None  # built at the second row: most invoices have one

    @classmethod
    def start(cls, row: Row) -> "InvoiceDraft":
        return cls(
            number=row.number,
            line_no=row.line_no,
            client_name=row.client_name,
            client_key=row.client_key,
            issue_date=row.issue_date,
            due_date=row.due_date,
            paid_date=row.paid_date,
            label=row.label,
            rows=[row],
        )

    def add(self, row: Row) -> None:
        """A further row of this number: another line, which must agree on the invoice's own data."""
        where, first = f"ligne {row.line_no}", f"ligne {self.line_no}"
        if self.line_keys is None:
            self.line_keys = {self.rows[0].line_key(): self.rows[0].line_no}
        key = row.line_key()
        earlier = self.line_keys.get(key)
        if earlier is not None:
            raise InputError(
                f"même ligne que la ligne {earlier} (facture {self.number}, "
                f"{f'« {row.label} »' if row.label else 'sans libellé'}, HT {format_eur(row.ht)}) : importer "
                "les deux compterait cette ligne deux fois ; supprimez le doublon, ou distinguez les deux "
                "lignes (dans le libellé) si la facture les a vraiment toutes les deux",
                where=where,
            )
        self.line_keys[key] = row.line_no
        if row.client_key != self.client_key:
            raise InputError(
                f"la facture {self.number} a ici le client « {row.client_name} » mais "
                f"« {self.client_name} » à la {first}",
                where=where,
            )
        if row.issue_date != self.issue_date:
            raise InputError(
                f"la facture {self.number} est datée ici du {row.issue_date:%d/%m/%Y} mais du "
                f"{self.issue_date:%d/%m/%Y} à la {first}",
                where=where,
            )
        for attr, label in (("due_date", "l'échéance"), ("paid_date", "la date de paiement")):
            mine, theirs = getattr(self, attr), getattr(row, attr)
            if mine and theirs and mine != theirs:
                raise InputError(
                    f"la facture {self.number} a ici {label} {theirs:%d/%m/%Y} mais {mine:%d/%m/%Y} "
                    f"à la {first}",
                    where=where,
                )
            if theirs and not mine:
                setattr(self, attr, theirs)
        if not self.label:
            self.label = row.label
        self.rows.append(row)


@dataclass(slots=True)
class HistoricalLine:
    description: str
    total_ht: Decimal
    vat_rate: Decimal


@dataclass(slots=True)
class HistoricalInvoice:
    """An invoice (or credit note) of the history, as it will be stored: positive amounts, frozen."""

    line_no: int  # its first row in the file
    number: str
    series: str  # of a number in our format (F20250001), else ""
    kind: str
    client_name: str
    client_key: str
    subject: str
    issue_date: dt.date
    due_date: dt.date
    due_date_given: bool
    paid_date: dt.date | None
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal
    vat_breakdown: list[tuple[Decimal, Decimal, Decimal]]  # (rate, base HT, VAT) per rate
    lines: list[HistoricalLine]

    @property
    def status(self) -> str:
        return Status.PAID.value if self.paid_date else Status.ISSUED.value

    @property
    def amount_paid(self) -> Decimal:
        return self.total_ttc if self.paid_date else ZERO

    @property
    def is_credit_note(self) -> bool:
        return self.kind == Kind.CREDIT_NOTE.value


# -- one row ----------------------------------------------------------------------------------------------


def _amounts(ht, vat, ttc, line_no: int) -> tuple[Decimal, Decimal, Decimal]:
    """Complete (HT, VAT, TTC) from what the row gives, signs kept (credit notes are negative)."""
    where = f"ligne {line_no}"
    if ht is not None and vat is not None and ttc is not None:
        if abs(ht + vat - ttc) > TOLERANCE:
            raise InputError(
                f"HT {format_eur(ht)} + TVA {format_eur(vat)} ne font pas le TTC {format_eur(ttc)}",
                where=where,
            )
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
        raise InputError("aucun montant (HT, TVA ou TTC)", where=where)
    signs = {v > 0 for v in (ht, vat, ttc) if v != 0}
    if len(signs) > 1:
        raise InputError(
            f"HT {format_eur(ht)}, TVA {format_eur(vat)} et TTC {format_eur(ttc)} ne sont pas du même signe",
            where=where,
        )
    if max(abs(ht), abs(vat), abs(ttc)) > MAX_AMOUNT:
        raise InputError(
            f"HT {format_eur(ht)}, TVA {format_eur(vat)}, TTC {format_eur(ttc)} : trop grand (au plus "
            f"{format_eur(MAX_AMOUNT)})",
            where=where,
        )
    return ht, vat, ttc


# The fields of a row, in the order :meth:`RowReader.texts` gives their cells.
READ_FIELDS = ("number", "client", "issue_date", "due_date", "paid_date", "label", "ht", "vat", "ttc")


class RowReader:
    """Reads the cells of a CSV row by field name into a :class:`Row`; caches repeated dates and amounts."""

    def __init__(self, dialect: Dialect, *, today: dt.date):
        self.width = dialect.width
        # A missing optional field reads from an extra, always empty, cell at the end of the padded row.
        index = {name: dialect.columns.get(name, self.width) for name in ALIASES}
        self._cells_of = itemgetter(*(index[name] for name in READ_FIELDS))
        self.other_indexes = tuple(i for i in range(self.width) if i not in dialect.columns.values())
        self.padding = [""] * (self.width + 1)
        self._issue_date = functools.lru_cache(maxsize=65536)(functools.partial(read_date, latest=today))
        self._date = functools.lru_cache(maxsize=65536)(read_date)
        self._amount = functools.lru_cache(maxsize=65536)(read_amount)
        self._client_key = functools.lru_cache(maxsize=65536)(normalize_company_name)

    def texts(self, cells: list[str]) -> tuple[str, ...]:
        """The stripped cells of :data:`READ_FIELDS`, in that order."""
        texts = [cell.strip() for cell in self._cells_of(cells)]
        if "=" in "".join(texts):
            # ="00123": Excel's way of keeping leading zeros
            texts = [t[2:-1].strip() if t.startswith('="') and t.endswith('"') else t for t in texts]
        return tuple(texts)

    def _date_of(self, text: str, line_no: int, *, issue: bool = False) -> dt.date | None:
        if not text:
            return None
        try:
            return (self._issue_date if issue else self._date)(text)
        except DateError as exc:
            raise InputError(str(exc), where=f"ligne {line_no}") from None

    def _amount_of(self, text: str, line_no: int) -> Decimal | None:
        if not text:
            return None
        try:
            return self._amount(text)
        except AmountError as exc:
            raise InputError(str(exc), where=f"ligne {line_no}") from None

    def read(self, cells: list[str], line_no: int) -> Row | None:
        """The row's record, or None for a total or comment line (no number, client nor date)."""
        if len(cells) <= self.width:
            cells = cells + self.padding[len(cells) :]
        number, client_name, issue_text, due_text, paid_text, label, ht_text, vat_text, ttc_text = self.texts(
            cells
        )
        if not (number or client_name or issue_text):
            return None
        where = f"ligne {line_no}"
        if not number:
            raise InputError("numéro de facture vide", where=where)
        if len(number) > NUMBER_MAX_LENGTH:
            raise InputError(
                f"numéro de facture « {number[:40]} » trop long (plus de {NUMBER_MAX_LENGTH} caractères)",
                where=where,
            )
        if not client_name:
            raise InputError("client vide", where=where)
        if len(client_name) > CLIENT_NAME_MAX_LENGTH:
            raise InputError(
                f"nom de client « {client_name[:40]}… » trop long "
                f"(plus de {CLIENT_NAME_MAX_LENGTH} caractères)",
                where=where,
            )
        client_key = self._client_key(client_name)
        if not client_key:
            raise InputError(f"le client « {client_name} » n'a ni lettre ni chiffre", where=where)
        if not issue_text:
            raise InputError("date vide", where=where)
        issue_date = self._date_of(issue_text, line_no, issue=True)
        ht, vat, ttc = _amounts(
            self._amount_of(ht_text, line_no),
            self._amount_of(vat_text, line_no),
            self._amount_of(ttc_text, line_no),
            line_no,
        )
        return Row(
            line_no=line_no,
            number=number,
            client_name=client_name,
            client_key=client_key,
            issue_date=issue_date,
            due_date=self._date_of(due_text, line_no),
            paid_date=self._date_of(paid_text, line_no),
            label=label,
            ht=ht,
            vat=vat,
            ttc=ttc,
            other_cells=tuple(cells[i].strip() for i in self.other_indexes),
        )


# -- the file ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class RowsRead:
    drafts: dict[str, InvoiceDraft]  # by number, in file order
    rows: int
    ignored_lines: list[int]
    cut_label_lines: list[int]  # labels longer than a line's description holds


def rows_read(
    text: str, dialect: Dialect, *, today: dt.date, progress: Callable[[int], None] | None = None
) -> RowsRead:
    """Every data row of the file, checked and grouped by invoice number; the first bad row raises."""
    reader_of = RowReader(dialect, today=today)
    drafts: dict[str, InvoiceDraft] = {}
    ignored_lines: list[int] = []
    cut_label_lines: list[int] = []
    count = 0
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter)
    try:
        while reader.line_num < dialect.header_line:
            next(reader)
        while True:
            line_no = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            if not "".join(cells).strip():
                continue
            if len(cells) > dialect.width and any(c.strip() for c in cells[dialect.width :]):
                hint = ""
                if dialect.delimiter == ",":
                    hint = (
                        " (dans un fichier séparé par des virgules, une virgule décimale doit être entre "
                        "guillemets)"
                    )
                raise InputError(
                    f"{len(cells)} champs alors que l'en-tête en a {dialect.width}{hint}",
                    where=f"ligne {line_no}",
                )
            count += 1
            if progress and count % PROGRESS_EVERY == 0:
                progress(count)
            row = reader_of.read(cells, line_no)
            if row is None:
                ignored_lines.append(line_no)
                continue
            if len(row.label) > DESCRIPTION_MAX_LENGTH:
                cut_label_lines.append(line_no)
            draft = drafts.get(row.number)
            if draft is None:
                drafts[row.number] = InvoiceDraft.start(row)
            else:
                draft.add(row)
    except csv.Error as exc:
        raise InputError(f"CSV mal formé : {exc}", where=f"ligne {reader.line_num}") from None
    if not count:
        raise InputError("aucune ligne de facture sous l'en-tête", where=f"ligne {dialect.header_line}")
    if not drafts:
        raise InputError(
            "aucune facture dans le fichier : aucune ligne n'a de numéro, de date ni de client",
            where=f"ligne {ignored_lines[0]}",
        )
    return RowsRead(drafts=drafts, rows=count, ignored_lines=ignored_lines, cut_label_lines=cut_label_lines)


# -- one invoice --------------------------------------------------------------------------------------------


def _vat_rate(ht: Decimal, vat: Decimal, line_no: int) -> Decimal:
    if ht == 0:
        if vat != 0:
            raise InputError(f"TVA {format_eur(vat)} sur un montant HT nul", where=f"ligne {line_no}")
        return Decimal("0.00")
    for rate, factor in _RATE_FACTORS:
        if quantize(ht * factor) == vat:  # vat_amount(ht, rate), without its conversions
            return rate
    rate = quantize(vat * 100 / ht)
    if not Decimal("0") <= rate <= Decimal("100"):
        raise InputError(
            f"TVA {format_eur(vat)} = {format_rate(rate)} du HT {format_eur(ht)} : "
            "ce n'est pas un taux de TVA",
            where=f"ligne {line_no}",
        )
    return rate


def invoice_from_draft(draft: InvoiceDraft) -> HistoricalInvoice:
    """The invoice the rows describe: totals, VAT per rate, a credit note when the total is negative."""
    rows = draft.rows
    if len(rows) == 1:
        total_ht, total_vat, total_ttc = rows[0].ht, rows[0].vat, rows[0].ttc
    else:
        total_ht = sum((row.ht for row in rows), ZERO)
        total_vat = sum((row.vat for row in rows), ZERO)
        total_ttc = sum((row.ttc for row in rows), ZERO)
    where = f"ligne {draft.line_no}"
    credit = total_ttc < 0 or (total_ttc == 0 and total_ht < 0)
    if credit:
        total_ht, total_vat, total_ttc = -total_ht, -total_vat, -total_ttc
    if total_ht < 0 or total_vat < 0 or total_ttc < 0:
        raise InputError(
            f"les lignes de la facture {draft.number} totalisent HT {format_eur(total_ht)}, "
            f"TVA {format_eur(total_vat)}, TTC {format_eur(total_ttc)} : des totaux de signes contraires",
            where=where,
        )
    if total_ttc > MAX_AMOUNT or total_ht > MAX_AMOUNT:
        raise InputError(
            f"les lignes de la facture {draft.number} totalisent TTC {format_eur(total_ttc)} : trop grand "
            f"(au plus {format_eur(MAX_AMOUNT)})",
            where=where,
        )
    per_rate: dict[Decimal, list[Decimal]] = {}
    lines = []
    for row in rows:
        ht, vat = (-row.ht, -row.vat) if credit else (row.ht, row.vat)
        rate = _vat_rate(abs(ht), abs(vat), row.line_no)
        base = per_rate.get(rate)
        if base is None:
            per_rate[rate] = [ht, vat]
        else:
            base[0] += ht
            base[1] += vat
        description = (row.label or draft.label or f"Facture {draft.number}")[:DESCRIPTION_MAX_LENGTH]
        lines.append(HistoricalLine(description=description, total_ht=ht, vat_rate=rate))
    parsed = parse_number(draft.number)
    if parsed and parsed[2] > MAX_SEQUENCE:
        raise InputError(
            f"numéro de facture {draft.number} : le rang {parsed[2]} dépasse ce que tient un compteur de "
            f"numérotation ({MAX_SEQUENCE})",
            where=where,
        )
    return HistoricalInvoice(
        line_no=draft.line_no,
        number=draft.number,
        series=parsed[0] if parsed else "",
        kind=Kind.CREDIT_NOTE.value if credit else Kind.INVOICE.value,
        client_name=draft.client_name,
        client_key=draft.client_key,
        subject=draft.label[:SUBJECT_MAX_LENGTH],
        issue_date=draft.issue_date,
        due_date=draft.due_date or draft.issue_date + _PAYMENT_TERMS,
        due_date_given=draft.due_date is not None,
        paid_date=draft.paid_date,
        total_ht=total_ht,
        total_vat=total_vat,
        total_ttc=total_ttc,
        vat_breakdown=[(rate, base, vat) for rate, (base, vat) in sorted(per_rate.items())],
        lines=lines,
    )
