"""Writing invoices: drafts, totals, issuing, credit notes."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from invoicing.models import Client, Invoice, InvoiceLine, SellerProfile
from invoicing.models.invoice import FROZEN_STATUSES, Kind, Origin, Status, Unit
from invoicing.models.validation import EventKind
from invoicing.services.numbering import SERIES_CREDIT_NOTE, SERIES_INVOICE, number_take
from syaga.core.dates import today
from syaga.core.errors import BusinessError
from syaga.core.money import ZERO, quantize, vat_amount


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


def client_payment_terms(client: Client, seller: SellerProfile | None = None) -> int:
    if client.payment_terms_days is not None:
        return client.payment_terms_days
    seller = seller or SellerProfile.current()
    return seller.payment_terms_days if seller else 30


def invoice_refresh_totals(*, invoice: Invoice) -> Invoice:
    """Recompute each line's total (quantity × unit price, half-up) and the invoice's totals."""
    if invoice.is_frozen:
        raise BusinessError(f"{invoice} is issued; its totals are frozen")
    lines = list(invoice.lines.all())
    for line in lines:
        line.total_ht = line_total(line.quantity, line.unit_price)
    InvoiceLine.objects.bulk_update(lines, ["total_ht"])
    invoice.total_ht, invoice.total_vat, invoice.total_ttc, invoice.vat_breakdown = compute_totals(lines)
    invoice.save(update_fields=["total_ht", "total_vat", "total_ttc", "vat_breakdown", "updated_at"])
    return invoice


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
    status: str = Status.DRAFT,
    created_by=None,
) -> Invoice:
    """A draft (or pending-review) invoice with its lines and totals. It gets its number only when issued."""
    if not lines:
        raise BusinessError("an invoice needs at least one line")
    if status not in (Status.DRAFT, Status.PENDING_REVIEW):
        raise BusinessError("a new invoice starts as a draft or pending review")
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
        status=status,
        created_by=created_by,
    )
    _lines_attach(invoice, lines)
    invoice.save(update_fields=["total_ht", "total_vat", "total_ttc", "vat_breakdown"])
    if status == Status.PENDING_REVIEW:
        # Audit row in the same transaction (review issue): the invoice entered review as it was created.
        from invoicing.services.review import event_build

        event_build(
            invoice, EventKind.SUBMITTED, from_status="", to_status=Status.PENDING_REVIEW, actor=created_by
        ).save()
    return invoice


def _issue_locked(
    invoice: Invoice,
    *,
    issue_date: dt.date,
    seller: SellerProfile | None,
    actor=None,
    events: list | None = None,
) -> Invoice:
    """Number, freeze and mark issued an invoice already locked by the caller's transaction.

    The "issued" audit row is written here, or appended to ``events`` when the caller bulk-writes them.
    """
    if invoice.is_frozen:
        raise BusinessError(f"{invoice} is already issued")
    if invoice.status in (Status.REJECTED,):
        raise BusinessError(f"{invoice} was rejected and cannot be issued")
    if invoice.total_ttc <= 0 and invoice.kind == Kind.INVOICE:
        raise BusinessError(f"{invoice} has a zero total")
    series = SERIES_CREDIT_NOTE if invoice.kind == Kind.CREDIT_NOTE else SERIES_INVOICE
    terms = (invoice.due_date - invoice.issue_date).days if invoice.due_date and invoice.issue_date else None
    invoice.issue_date = issue_date
    if terms is not None:
        invoice.due_date = issue_date + dt.timedelta(days=terms)
    invoice.series = series
    invoice.number = number_take(series=series, year=issue_date.year)
    invoice.seller_snapshot = seller.snapshot() if seller else {}
    invoice.buyer_snapshot = invoice.client.snapshot()
    invoice.issued_at = timezone.now()
    from_status = invoice.status
    invoice.status = Status.ISSUED
    invoice.save()
    from invoicing.services.review import event_build

    event = event_build(
        invoice,
        EventKind.ISSUED,
        from_status=from_status,
        to_status=Status.ISSUED,
        actor=actor,
        reason=invoice.number,
        at=invoice.issued_at,
    )
    if events is None:
        event.save()
    else:
        events.append(event)
    return invoice


def invoice_issue(*, invoice: Invoice, issue_date: dt.date | None = None) -> Invoice:
    """Give the invoice its number and freeze it, in one transaction.

    The issue date is today unless given; the due date keeps the number of days the draft had. The
    seller's and the buyer's identities are copied onto the invoice. Credit notes take the A series.
    """
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().select_related("client").get(pk=invoice.pk)
        return _issue_locked(locked, issue_date=issue_date or today(), seller=SellerProfile.current())


@transaction.atomic
def credit_note_create(
    *,
    invoice: Invoice,
    reason: str,
    lines: list[LineSpec] | None = None,
    issue: bool = True,
    created_by=None,
) -> Invoice:
    """A credit note (avoir) that corrects an issued invoice, by default for its whole amount.

    A full credit note cancels the invoice. The credit note refers to the invoice's number and date.
    """
    original = Invoice.objects.select_for_update().select_related("client").get(pk=invoice.pk)
    if original.kind != Kind.INVOICE or original.status not in FROZEN_STATUSES:
        raise BusinessError("only an issued invoice can be corrected by a credit note")
    if original.status == Status.CANCELLED:
        raise BusinessError(f"{original} is already cancelled")
    if lines is None:
        source = list(original.lines.all())
        lines = [
            LineSpec(
                description=line.description,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                vat_rate=line.vat_rate,
            )
            for line in source
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
        status=Status.APPROVED,
        created_by=created_by,
    )
    _lines_attach(note, lines)
    if note.total_ttc + already > original.total_ttc:
        raise BusinessError(
            f"credit notes would exceed {original.number}'s total ({note.total_ttc} + {already} > "
            f"{original.total_ttc})"
        )
    note.save(update_fields=["total_ht", "total_vat", "total_ttc", "vat_breakdown"])
    if issue:
        _issue_locked(note, issue_date=today(), seller=SellerProfile.current())
        if note.total_ttc + already == original.total_ttc:
            original.status = Status.CANCELLED
            original.save(update_fields=["status", "updated_at"])
    return note
