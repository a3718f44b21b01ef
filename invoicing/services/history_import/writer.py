"""What goes to the database: clients, historical invoices and their lines, and the numbering counters.

Historical invoices are inserted directly in their final state (issued, or paid), as the old tool issued
them: an insert, not a transition of the invoice lifecycle, and no number is taken from a counter; the
counters are moved past the imported numbers instead, in the same transaction.

``bulk_create`` prepares every value of every field through the ORM, which costs more than the whole
rest of the import at 100,000 rows. Here the invoice and line records name their columns (their fields
are the models' attribute names); every other column gets its model default, prepared once, and a column
with a database default is left to the database. New model fields are thus covered as long as they
have a default, as ``bulk_create`` would need too. On PostgreSQL the rows go through ``COPY`` (ids
reserved from the table's sequence first); on SQLite through ``executemany`` of one prepared INSERT,
which SQLite runs in-process without a round trip per row.
"""

import datetime as dt
import functools
import json
from dataclasses import dataclass, fields
from decimal import Decimal
from operator import attrgetter

from django.db import connection, transaction
from django.utils import timezone

from invoicing.models import Client, Invoice, InvoiceLine
from invoicing.models.invoice import LEGAL_FIELDS, Origin, Unit, history_lines_insert_allow
from invoicing.services.history_import.rows import HistoricalInvoice
from invoicing.services.history_import.stored import ClientPlan
from invoicing.services.integrity import documents_chain_unchained, links_for_new_documents
from invoicing.services.numbering import sequences_continue_after

EXECUTEMANY_CHUNK = 10_000


@dataclass(slots=True)
class InvoiceRecord:
    """One ``Invoice`` row; each field is the model field of the same attribute name."""

    id: int | None
    kind: str
    number: str
    series: str
    client_id: int
    status: str
    origin: str
    subject: str
    issue_date: dt.date
    due_date: dt.date
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal
    vat_breakdown: str  # JSON text
    amount_paid: Decimal
    paid_date: dt.date | None
    buyer_snapshot: str  # JSON text, one per client
    issued_at: dt.datetime
    # The tamper-evident chain, computed before the insert (reading 100,000 rows back to link them cost more
    # than the import itself on PostgreSQL, where each UPDATE runs the frozen-invoice trigger).
    chain_index: int | None = None
    chain_previous: str = ""
    chain_hash: str = ""
    chain_imported: bool = True


@dataclass(slots=True)
class LineRecord:
    """One ``InvoiceLine`` row; each field is the model field of the same attribute name."""

    invoice_id: int
    position: int
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    vat_rate: Decimal
    total_ht: Decimal


class _Table:
    """The INSERT or COPY of one model from records whose field names are the model's attribute names."""

    def __init__(self, model, record_type, *, with_id: bool):
        self.model = model
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        self.names = [f.name for f in fields(record_type) if with_id or f.name != model._meta.pk.attname]
        self.values_of = attrgetter(*self.names)
        given = set(self.names)
        columns = [by_attname[name].column for name in self.names]
        self.to_db: list[tuple[int, object]] = []  # (position, adapter) for the given values needing one
        ops = connection.ops
        for position, name in enumerate(self.names):
            kind = by_attname[name].get_internal_type()
            if connection.vendor != "postgresql" and kind == "DateField":
                adapt = functools.lru_cache(maxsize=65536)(ops.adapt_datefield_value)
                self.to_db.append((position, adapt))
            elif connection.vendor != "postgresql" and kind == "DateTimeField":
                adapt = functools.lru_cache(maxsize=65536)(ops.adapt_datetimefield_value)
                self.to_db.append((position, adapt))
        now = timezone.now()
        constants = []
        for f in model._meta.concrete_fields:
            if f.primary_key or f.attname in given or f.has_db_default():
                continue
            stamped = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            value = now if stamped else f.get_default()
            columns.append(f.column)
            if f.get_internal_type() == "JSONField":
                constants.append(json.dumps(value, cls=f.encoder))  # COPY and SQLite both take JSON text
            else:
                constants.append(f.get_db_prep_save(value, connection=connection))
        self.constants = tuple(constants)
        quote = ops.quote_name
        # Only the model's own table and column names go into the text; every value is a parameter.
        self.table = quote(model._meta.db_table)
        self.column_list = ", ".join(quote(c) for c in columns)
        placeholders = ", ".join(["%s"] * len(columns))
        self.insert_sql = f"INSERT INTO {self.table} ({self.column_list}) VALUES ({placeholders})"  # noqa: S608

    def _rows(self, records):
        values_of, constants, to_db = self.values_of, self.constants, self.to_db
        for record in records:
            values = values_of(record)
            if to_db:
                values = list(values)
                for position, adapt in to_db:
                    if values[position] is not None:
                        values[position] = adapt(values[position])
            yield (*values, *constants)

    def write(self, records: list) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # psycopg 3: the rows stream in PostgreSQL's COPY format, no statement per row.
                with cursor.cursor.copy(f"COPY {self.table} ({self.column_list}) FROM STDIN") as copy:
                    for row in self._rows(records):
                        copy.write_row(row)
                return
            rows = list(self._rows(records))
            for start in range(0, len(rows), EXECUTEMANY_CHUNK):
                cursor.executemany(self.insert_sql, rows[start : start + EXECUTEMANY_CHUNK])


def _reserve_ids(model, count: int) -> list[int]:
    """``count`` ids from the table's own sequence (PostgreSQL), for rows COPY will insert with them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


_ORIGIN, _UNIT, _ONE = Origin.IMPORTED.value, Unit.FLAT.value, Decimal("1")


def _vat_breakdown_json(invoice: HistoricalInvoice) -> str:
    """``[{"rate": "20.00", "base_ht": …, "vat": …}]``, amounts as strings, as the invoice service stores
    it; written out directly (Decimal text needs no escaping) because ``json.dumps`` of 70,000 small
    lists costs a tenth of the whole import."""
    entries = (f'{{"rate": "{r}", "base_ht": "{b}", "vat": "{v}"}}' for r, b, v in invoice.vat_breakdown)
    return f"[{', '.join(entries)}]"


def history_write(*, invoices: list[HistoricalInvoice], clients: ClientPlan, accept_gaps: bool) -> int:
    """Counters, new clients, invoices and lines, in one transaction; returns the counters moved.

    The counters are moved (and locked) first, so no invoice issued meanwhile can take one of the
    imported numbers; with ``accept_gaps=False`` a counter that would jump over a missing number
    raises :class:`SequenceGapError` and nothing is written.
    """
    zone = timezone.get_current_timezone()
    # The moment of issue is not in the export: the start of the issue date stands for it.
    issued_at = functools.lru_cache(maxsize=None)(lambda day: dt.datetime.combine(day, dt.time.min, zone))
    with transaction.atomic():
        moved = sequences_continue_after([invoice.number for invoice in invoices], accept_gaps=accept_gaps)
        Client.objects.bulk_create(clients.new, batch_size=500)
        # One JSON text per client rather than one per invoice.
        snapshot = {key: json.dumps(client.snapshot()) for key, client in clients.by_key.items()}
        client_id = {key: client.pk for key, client in clients.by_key.items()}
        postgres = connection.vendor == "postgresql"
        ids = _reserve_ids(Invoice, len(invoices)) if postgres else [None] * len(invoices)
        records = [
            InvoiceRecord(
                id=pk,
                kind=invoice.kind,
                number=invoice.number,
                series=invoice.series,
                client_id=client_id[invoice.client_key],
                status=invoice.status,
                origin=_ORIGIN,
                subject=invoice.subject,
                issue_date=invoice.issue_date,
                due_date=invoice.due_date,
                total_ht=invoice.total_ht,
                total_vat=invoice.total_vat,
                total_ttc=invoice.total_ttc,
                vat_breakdown=_vat_breakdown_json(invoice),
                amount_paid=invoice.amount_paid,
                paid_date=invoice.paid_date,
                buyer_snapshot=snapshot[invoice.client_key],
                issued_at=issued_at(invoice.issue_date),
            )
            for pk, invoice in zip(ids, invoices, strict=True)
        ]
        # Documents issued here without a link (before the chain existed) are linked first, then the history.
        documents_chain_unchained(imported=True)
        links = links_for_new_documents(
            [
                (_legal_values(record), _legal_lines(invoice))
                for record, invoice in zip(records, invoices, strict=True)
            ],
            imported=True,
        )
        for record, link in zip(records, links, strict=True):
            record.chain_index, record.chain_previous, record.chain_hash = (
                link.index,
                link.previous,
                link.digest,
            )
        if postgres:
            _Table(Invoice, InvoiceRecord, with_id=True).write(records)
        else:
            before = Invoice.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            _Table(Invoice, InvoiceRecord, with_id=False).write(records)
            # executemany returns no ids: read them back by number among the rows added after ``before``.
            stored = Invoice.objects.filter(pk__gt=before, origin=Origin.IMPORTED).values_list("number", "pk")
            by_number = dict(stored)
            ids = [by_number[invoice.number] for invoice in invoices]
        lines = [
            LineRecord(
                invoice_id=pk,
                position=position,
                description=line.description,
                quantity=_ONE,
                unit=_UNIT,
                unit_price=line.total_ht,
                vat_rate=line.vat_rate,
                total_ht=line.total_ht,
            )
            for pk, invoice in zip(ids, invoices, strict=True)
            for position, line in enumerate(invoice.lines, start=1)
        ]
        # The lines go under invoices inserted as issued a moment ago: lift PostgreSQL's frozen-lines trigger
        # for this transaction only.
        history_lines_insert_allow(connection)
        _Table(InvoiceLine, LineRecord, with_id=False).write(lines)
    return moved


# What the chain hashes of a document inserted by the import: its record's columns, the others at their
# defaults (no period, no credited invoice, no purchase order, no seller snapshot in the old tool's export).
_LEGAL_DEFAULTS = {
    "period_start": None,
    "period_end": None,
    "credited_invoice_id": None,
    "purchase_order": "",
    "seller_snapshot": {},
}


def _legal_values(record: InvoiceRecord) -> dict:
    return {column: getattr(record, column, _LEGAL_DEFAULTS.get(column)) for column in LEGAL_FIELDS}


def _legal_lines(invoice: HistoricalInvoice) -> list[dict]:
    return [
        {
            "position": position,
            "description": line.description,
            "quantity": _ONE,
            "unit": _UNIT,
            "unit_price": line.total_ht,
            "vat_rate": line.vat_rate,
            "total_ht": line.total_ht,
        }
        for position, line in enumerate(invoice.lines, start=1)
    ]
