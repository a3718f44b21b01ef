"""Writing invoices: drafts and their lines, totals, edits before the issue, credit notes.

Statuses are not written here: creation leaves the draft default, and every move (submit, issue, cancel)
goes through ``lifecycle``.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from invoicing.models import Client, Invoice, InvoiceLine
from invoicing.models.invoice import FROZEN_STATUSES, InvoiceImmutableError, Kind, Origin, Status, Unit
from invoicing.models.validation import EventKind
from invoicing.selectors import client_payment_terms
from invoicing.services import lifecycle
from syaga.core.dates import today
from syaga.core.errors import BusinessError
from syaga.core.money import ZERO, format_eur, format_quantity, format_rate, quantize, vat_amount


@dataclass(frozen=True)
class LineSpec:
    description: str
    unit_price: Decimal
    quantity: Decimal = Decimal("1")
    unit: str = Unit.FLAT
    vat_rate: Decimal = Decimal("20.00")


def line_total(quantity: Decimal, unit_price: Decimal) -> Decimal:
    return quantize(Decimal(quantity) * Decimal(unit_price))


def compute_totals(lines) -> tuple[Decimal, Decimal, Decimal, list[dict]]:
    """(HT, VAT, TTC, breakdown) for lines with ``total_ht`` and ``vat_rate``.

    VAT is computed per rate on the sum of the line totals of that rate, rounded half-up to the cent
    (never line by line), and TTC = HT + VAT exactly.
    """
    per_rate: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        per_rate[Decimal(line.vat_rate)] += Decimal(line.total_ht)
    breakdown = []
    total_ht = total_vat = ZERO
    for rate in sorted(per_rate):
        base = quantize(per_rate[rate])
        vat = vat_amount(base, rate)
        breakdown.append({"rate": str(quantize(rate)), "base_ht": str(base), "vat": str(vat)})
        total_ht += base
        total_vat += vat
    return total_ht, total_vat, total_ht + total_vat, breakdown


def _lines_attach(invoice: Invoice, specs: list[LineSpec]) -> None:
    """Create the lines of a new document and set its totals on it (the caller saves them)."""
    line_objs = [
        InvoiceLine(
            invoice=invoice,
            position=i,
            description=spec.description,
            quantity=spec.quantity,
            unit=spec.unit,
            unit_price=spec.unit_price,
            vat_rate=spec.vat_rate,
            total_ht=line_total(spec.quantity, spec.unit_price),
        )
        for i, spec in enumerate(specs, start=1)
    ]
    InvoiceLine.objects.bulk_create(line_objs)
    invoice.total_ht, invoice.total_vat, invoice.total_ttc, invoice.vat_breakdown = compute_totals(line_objs)


@transaction.atomic
def invoice_create(
    *,
    client: Client,
    lines: list[LineSpec],
    origin: str = Origin.MANUAL,
    subject: str = "",
    issue_date: dt.date | None = None,
    due_date: dt.date | None = None,
    period_start: dt.date | None = None,
    period_end: dt.date | None = None,
    contract=None,
    purchase_order: str = "",
    notes: str = "",
    submit: bool = False,
    created_by=None,
) -> Invoice:
    """A draft invoice with its lines and totals, its creation in the history; ``submit`` puts it in the
    review queue at once (the rules run with the daily validation). It gets its number only when issued.

    The due date, when not given, follows the client's payment terms (the seller profile's by default).
    """
    if not lines:
        raise BusinessError("une facture a au moins une ligne")
    issue_date = issue_date or today()
    if due_date is None:
        due_date = issue_date + dt.timedelta(days=client_payment_terms(client))
    invoice = Invoice.objects.create(
        kind=Kind.INVOICE,
        client=client,
        origin=origin,
        subject=subject,
        issue_date=issue_date,
        due_date=due_date,
        period_start=period_start,
        period_end=period_end,
        contract=contract,
        purchase_order=purchase_order,
        notes=notes,
        created_by=created_by,
    )
    _lines_attach(invoice, lines)
    invoice.save(update_fields=["total_ht", "total_vat", "total_ttc", "vat_breakdown"])
    lifecycle.invoice_created_record(invoice=invoice, actor=created_by)
    if submit:
        lifecycle.move([invoice], to=Status.PENDING_REVIEW, kind=EventKind.SUBMITTED, actor=created_by)
    return invoice


# What a person may change on an invoice before it is issued (lines aside).
EDITABLE_FIELDS = (
    "client",
    "subject",
    "issue_date",
    "due_date",
    "period_start",
    "period_end",
    "purchase_order",
    "notes",
)


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return f"{value:%d/%m/%Y}"
    return str(value)


def _lines_text(lines) -> str:
    return "\n".join(
        f"{line.description} : {format_quantity(Decimal(line.quantity))} × "
        f"{format_eur(Decimal(line.unit_price))} (TVA {format_rate(Decimal(line.vat_rate))})"
        for line in lines
    )


def invoice_update(
    *, invoice: Invoice, user, fields: dict | None = None, lines: list[LineSpec] | None = None
) -> Invoice:
    """Change an invoice that is not issued yet: its fields and, when given, its lines (all replaced).

    Who changed what (before → after) goes into its history. A pending, approved or rejected invoice is
    not edited in place: the change sends it back to draft, to be submitted again, and the rules run again
    then. No change, nothing written.
    """
    fields = dict(fields or {})
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise BusinessError(f"champ(s) non modifiable(s) : {', '.join(sorted(unknown))}")
    if lines is not None and not lines:
        raise BusinessError("une facture a au moins une ligne")
    with transaction.atomic():
        current = lifecycle.lock([invoice.pk])[0]
        if current.is_frozen:
            raise InvoiceImmutableError(f"{current} est émise : corrigez-la par un avoir")
        changes = {}
        for name, value in fields.items():
            before = getattr(current, name)
            if before != value:
                changes[name] = [_shown(before), _shown(value)]
                setattr(current, name, value)
        old_lines = list(current.lines.all())
        new_lines = [
            InvoiceLine(
                description=spec.description,
                quantity=spec.quantity,
                unit=spec.unit,
                unit_price=spec.unit_price,
                vat_rate=spec.vat_rate,
            )
            for spec in lines or []
        ]
        if lines is not None and _lines_text(old_lines) != _lines_text(new_lines):
            changes["lines"] = [_lines_text(old_lines), _lines_text(new_lines)]
            current.lines.all().delete()
            _lines_attach(current, lines)
        if not changes:
            return invoice
        current.save(
            update_fields=[*fields, "total_ht", "total_vat", "total_ttc", "vat_breakdown", "updated_at"]
        )
        lifecycle.invoice_edited_record(invoice=current, actor=user, changes=changes)
    invoice.refresh_from_db()
    return invoice


@transaction.atomic
def credit_note_create(
    *,
    invoice: Invoice,
    reason: str,
    lines: list[LineSpec] | None = None,
    created_by=None,
) -> Invoice:
    """A credit note (avoir) that corrects an issued invoice, by default for its whole amount, issued now.

    The credit note refers to the invoice's number and date. When it (with the earlier ones) covers the
    whole amount, the invoice is cancelled: cancellation exists only this way. Both histories say so.
    """
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError("un avoir indique son motif")
    original = lifecycle.lock([invoice.pk])[0]
    if original.kind != Kind.INVOICE or original.status not in FROZEN_STATUSES:
        raise BusinessError("seule une facture émise peut être corrigée par un avoir")
    if original.status == Status.CANCELLED:
        raise BusinessError(f"{original} est déjà annulée")
    if lines is None:
        lines = [
            LineSpec(
                description=line.description,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                vat_rate=line.vat_rate,
            )
            for line in original.lines.all()
        ]
    already = sum((cn.total_ttc for cn in original.credit_notes.filter(status__in=FROZEN_STATUSES)), ZERO)
    note = Invoice.objects.create(
        kind=Kind.CREDIT_NOTE,
        client=original.client,
        origin=Origin.MANUAL,
        credited_invoice=original,
        subject=f"Avoir sur facture {original.number} du {original.issue_date:%d/%m/%Y} – {reason}",
        issue_date=today(),
        due_date=today(),
        created_by=created_by,
    )
    _lines_attach(note, lines)
    if note.total_ttc + already > original.total_ttc:
        raise BusinessError(
            f"les avoirs dépasseraient le total de {original.number} ({format_eur(note.total_ttc)} + "
            f"{format_eur(already)} > {format_eur(original.total_ttc)})"
        )
    note.save(update_fields=["total_ht", "total_vat", "total_ttc", "vat_breakdown"])
    lifecycle.invoice_created_record(invoice=note, actor=created_by, reason=reason)
    lifecycle.credit_note_issue(credit_note=note, actor=created_by)
    lifecycle.invoice_credited_record(
        invoice=original,
        credit_note=note,
        actor=created_by,
        cancels=note.total_ttc + already == original.total_ttc,
    )
    return note
