"""The one door for invoice states: every status an invoice or a credit note takes is written here.

The table below says which move is allowed from which status. Each move goes through :func:`_step`, which
checks it against the table, sets the status and builds the audit row; the callers here lock the rows
first (``SELECT … FOR UPDATE`` in primary-key order, one fixed lock order), write the changed fields and
save the audit rows in the same transaction. Nothing else in the project assigns ``Invoice.status``:
creation leaves the model's default (draft), and the history import inserts old invoices as they were.

Who may make a move (permissions, four-eyes, the validation rules) is decided by the callers
(``review.py``, ``invoices.py``, banking's allocation); what a move does to the invoice is decided here.

    draft ──submit──▶ pending review ──approve──▶ approved ──issue──▶ issued ──▶ sent
      ▲                 │    │                      │                  │         │
      └──send back/edit─┘    └──reject──▶ rejected  │                  ▼         ▼
      └─────────────────────────────────────────────┘           partially paid ─▶ paid
    issued, sent, partially paid or paid ──credit note for the whole amount──▶ cancelled

A dispute is a flag beside the status (it pauses dunning), opened and closed here too.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from invoicing.models import Invoice, InvoiceEvent, SellerProfile
from invoicing.models.invoice import FROZEN_STATUSES, OPEN_STATUSES, Kind, Status
from invoicing.models.validation import EventKind
from invoicing.services.delivery import after_issue_labels, after_issue_schedule
from invoicing.services.integrity import document_chain_link
from invoicing.services.numbering import SERIES_CREDIT_NOTE, SERIES_INVOICE, number_take
from syaga.core.dates import today
from syaga.core.errors import BusinessError
from syaga.core.money import ZERO, format_eur, quantize

S = Status

INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.PENDING_REVIEW}),
    S.PENDING_REVIEW: frozenset({S.APPROVED, S.REJECTED, S.DRAFT}),
    S.REJECTED: frozenset({S.PENDING_REVIEW, S.DRAFT}),
    S.APPROVED: frozenset({S.ISSUED, S.DRAFT}),
    S.ISSUED: frozenset({S.SENT, S.PARTIALLY_PAID, S.PAID, S.CANCELLED}),
    S.SENT: frozenset({S.PARTIALLY_PAID, S.PAID, S.CANCELLED}),
    # Back from a payment only when a person undoes a wrong allocation (audited as such).
    S.PARTIALLY_PAID: frozenset({S.PARTIALLY_PAID, S.PAID, S.CANCELLED, S.ISSUED, S.SENT}),
    S.PAID: frozenset({S.CANCELLED, S.PARTIALLY_PAID, S.ISSUED, S.SENT}),
    S.CANCELLED: frozenset(),
}
# A credit note is made by a person who may issue it: drafted, approved and issued in one transaction.
CREDIT_NOTE_TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.APPROVED}),
    S.APPROVED: frozenset({S.ISSUED}),
    S.ISSUED: frozenset({S.SENT}),  # e-mailed to the client, like an invoice
    S.SENT: frozenset(),
}
# Events recorded without a change of status, and the statuses they may be recorded in.
ANNOTATIONS: dict[str, frozenset[str]] = {
    EventKind.CREATED: frozenset({S.DRAFT}),
    EventKind.EDITED: frozenset({S.DRAFT}),
    EventKind.REVIEW_REQUIRED: frozenset({S.PENDING_REVIEW}),
    EventKind.DELIVERY_QUEUED: FROZEN_STATUSES,
    EventKind.SENT: frozenset({S.SENT, S.PARTIALLY_PAID, S.PAID}),
    EventKind.CREDITED: FROZEN_STATUSES - {S.CANCELLED},
    EventKind.DISPUTE_OPENED: OPEN_STATUSES,
    EventKind.DISPUTE_CLOSED: FROZEN_STATUSES,
    EventKind.PAYMENT_PROMISED: OPEN_STATUSES,
    EventKind.DELAY_GRANTED: OPEN_STATUSES,
    EventKind.ACKNOWLEDGED: OPEN_STATUSES | {S.PAID},
}


class TransitionError(BusinessError):
    """The move is not in the table: the invoice's status does not allow it."""


def transitions_from(invoice: Invoice) -> frozenset[str]:
    """Statuses this invoice may move to from its current one."""
    table = CREDIT_NOTE_TRANSITIONS if invoice.kind == Kind.CREDIT_NOTE else INVOICE_TRANSITIONS
    return table.get(invoice.status, frozenset())


# --- audit rows -------------------------------------------------------------------------------------


def totals_snapshot(invoice: Invoice) -> dict:
    return {
        "total_ht": str(invoice.total_ht),
        "total_vat": str(invoice.total_vat),
        "total_ttc": str(invoice.total_ttc),
    }


def _event(
    invoice: Invoice,
    kind: str,
    *,
    from_status: str,
    actor=None,
    rule=None,
    reason: str = "",
    at: dt.datetime | None = None,
    changes: dict | None = None,
) -> InvoiceEvent:
    return InvoiceEvent(
        invoice=invoice,
        at=at or timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        kind=kind,
        from_status=from_status,
        to_status=invoice.status,
        rule=rule,
        reason=reason,
        totals=totals_snapshot(invoice),
        changes=changes or {},
    )


def _status_label(status: str) -> str:
    return Status(status).label if status in Status.values else status


# --- the primitive ----------------------------------------------------------------------------------


def _step(
    invoice: Invoice,
    *,
    to: str,
    kind: str,
    actor=None,
    rule=None,
    reason: str = "",
    at: dt.datetime | None = None,
    changes: dict | None = None,
) -> InvoiceEvent:
    """Check one move against the table, set the status on the (locked) instance and build its audit row.

    The only assignment of ``Invoice.status`` in the project. The caller writes the row and saves the
    event in the transaction that holds the lock.
    """
    current = invoice.status
    if to == current and kind in ANNOTATIONS:
        if current not in ANNOTATIONS[kind]:
            raise TransitionError(
                f"{invoice} est {_status_label(current)} : « {EventKind(kind).label} » impossible"
            )
    elif to not in transitions_from(invoice):
        raise TransitionError(
            f"{invoice} est {_status_label(current)} : passage à « {_status_label(to)} » impossible"
        )
    if to == S.CANCELLED and (kind != EventKind.CANCELLED or invoice.cancelled_by_id is None):
        raise TransitionError(f"{invoice} : une facture n'est annulée que par un avoir")
    invoice.status = to
    return _event(
        invoice, kind, from_status=current, actor=actor, rule=rule, reason=reason, at=at, changes=changes
    )


def lock(invoice_ids: Iterable[int], *, for_rules: bool = True) -> list[Invoice]:
    """Lock and load invoices in primary-key order; with what the rules and the issue read when asked."""
    rows = (
        Invoice.objects.select_for_update(of=("self",))
        .filter(pk__in=list(invoice_ids))
        .select_related("client")
        .order_by("pk")
    )
    if for_rules:
        rows = rows.select_related("client", "contract", "created_by").prefetch_related("lines")
    return list(rows)


def _save(invoices: list[Invoice], fields: Iterable[str]) -> None:
    """Write the status and ``fields`` of moved invoices: one row alone, or in bulk (one UPDATE a status)."""
    if not invoices:
        return
    now = timezone.now()
    others = [name for name in dict.fromkeys(fields) if name not in ("status", "updated_at")]
    for invoice in invoices:
        invoice.updated_at = now
    if len(invoices) == 1:
        invoices[0].save(update_fields=["status", *others, "updated_at"])
        return
    if others:
        Invoice.objects.bulk_update(invoices, others, batch_size=500)
    by_status: dict[str, list[int]] = defaultdict(list)
    for invoice in invoices:
        by_status[invoice.status].append(invoice.pk)
    for status, pks in by_status.items():
        for start in range(0, len(pks), 500):
            Invoice.objects.filter(pk__in=pks[start : start + 500]).update(status=status, updated_at=now)


def _record(events: list[InvoiceEvent]) -> None:
    if events:
        InvoiceEvent.objects.bulk_create(events)


@dataclass
class BatchResult:
    """Which invoices moved, and which did not with the reason (each is handled on its own)."""

    succeeded: list[Invoice] = field(default_factory=list)
    failed: list[tuple[Invoice, str]] = field(default_factory=list)


def move(
    invoices: list[Invoice],
    *,
    to: str,
    kind: str,
    actor=None,
    rule=None,
    reason: str = "",
    values: dict | None = None,
    guard: Callable[[Invoice], None] | None = None,
    each: Callable[[Invoice], tuple] | None = None,
) -> BatchResult:
    """One move for locked invoices, each checked on its own, then written in bulk and recorded, in the
    caller's transaction.

    ``guard(invoice)`` may refuse one invoice with a BusinessError; ``each(invoice)`` gives one invoice's
    own ``(rule, reason, values)`` when they differ from one invoice to the next (the rules' verdicts).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lifecycle.move() must run inside the transaction that locked the invoices")
    result = BatchResult()
    events = []
    written: dict[str, None] = {}
    for invoice in invoices:
        own_rule, own_reason, own_values = each(invoice) if each else (rule, reason, values or {})
        try:
            if guard is not None:
                guard(invoice)
            events.append(_step(invoice, to=to, kind=kind, actor=actor, rule=own_rule, reason=own_reason))
        except BusinessError as exc:
            result.failed.append((invoice, str(exc)))
            continue
        for name, value in own_values.items():
            setattr(invoice, name, value)
            written[name] = None
        result.succeeded.append(invoice)
    _save(result.succeeded, written)
    _record(events)
    return result


def invoice_move(*, invoice: Invoice, to: str, kind: str, actor=None, reason: str = "", **values) -> Invoice:
    """One invoice, one move, in its own transaction: lock, check, write, record."""
    with transaction.atomic():
        locked = lock([invoice.pk], for_rules=False)
        if not locked:
            raise BusinessError(f"{invoice} n'existe plus")
        result = move(locked, to=to, kind=kind, actor=actor, reason=reason, values=values)
        if result.failed:
            raise TransitionError(result.failed[0][1])
    _refresh(invoice, locked[0])
    return invoice


def _refresh(invoice: Invoice, stored: Invoice) -> None:
    """Give the caller's instance what the locked copy now holds."""
    for f in Invoice._meta.concrete_fields:
        setattr(invoice, f.attname, getattr(stored, f.attname))


# --- creation, review ---------------------------------------------------------------------------------


def invoice_created_record(*, invoice: Invoice, actor=None, reason: str = "") -> None:
    """The first line of an invoice's history, in the transaction that creates it (it is a draft)."""
    _record([_step(invoice, to=invoice.status, kind=EventKind.CREATED, actor=actor, reason=reason)])


def invoice_edited_record(*, invoice: Invoice, actor, changes: dict, reason: str = "") -> bool:
    """Record an edit (``changes``: field → [before, after]) of a locked invoice whose content the caller
    just saved. A pending, approved or rejected invoice goes back to draft: it must be submitted again,
    so the rules run again on what it now says. Returns whether it went back to draft."""
    was = invoice.status
    event = _step(invoice, to=S.DRAFT, kind=EventKind.EDITED, actor=actor, reason=reason, changes=changes)
    if was != S.DRAFT:
        invoice.review_reason, invoice.validation_rule = "", None
        _save([invoice], ["review_reason", "validation_rule"])
    _record([event])
    return was != S.DRAFT


# --- issuing ------------------------------------------------------------------------------------------


def _issue(
    invoice: Invoice, *, issue_date: dt.date, seller: SellerProfile | None, actor=None
) -> InvoiceEvent:
    """approved → issued for a locked invoice: number, frozen identities, dates. Saves the row."""
    if invoice.kind == Kind.INVOICE and invoice.total_ttc <= 0:
        raise BusinessError(f"{invoice} a un total nul")
    if invoice.status != S.APPROVED:
        # Checked before a number is taken: a refused move never consumes one.
        raise TransitionError(
            f"{invoice} est {_status_label(invoice.status)} : seule une facture approuvée est émise"
        )
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
    event = _step(invoice, to=S.ISSUED, kind=EventKind.ISSUED, actor=actor, reason=invoice.number)
    event.at = invoice.issued_at
    document_chain_link(invoice)
    invoice.save()
    return event


def approve_and_issue(
    invoice: Invoice,
    *,
    actor,
    kind: str = EventKind.APPROVED,
    rule=None,
    reason: str = "",
    seller: SellerProfile | None,
    issue_date: dt.date | None = None,
) -> list[InvoiceEvent]:
    """pending review → approved → issued for one locked invoice, in a savepoint of its own.

    Approving issues: the number is taken in this transaction and is irrevocable. On failure the savepoint
    rolls back (the number is given back) and the instance is restored as it was. Returns the audit rows
    (approved, issued) for the caller to record with the batch's (:func:`issued_record`).
    """
    before = {f.attname: getattr(invoice, f.attname) for f in Invoice._meta.concrete_fields}
    try:
        with transaction.atomic():
            approved = _step(invoice, to=S.APPROVED, kind=kind, actor=actor, rule=rule, reason=reason)
            if rule is not None:
                invoice.validation_rule = rule
            issued = _issue(invoice, issue_date=issue_date or today(), seller=seller, actor=actor)
    except Exception:
        for attname, value in before.items():
            setattr(invoice, attname, value)
        raise
    approved.totals = totals_snapshot(invoice)
    return [approved, issued]


def issued_record(*, invoices: list[Invoice], events: list[InvoiceEvent], actor=None) -> None:
    """Save the audit rows of an issue batch, and schedule what follows an issue (PDF, e-mail) if any."""
    labels = after_issue_labels()
    if labels and invoices:
        reason = "programmé : " + ", ".join(labels)
        events = [
            *events,
            *(
                _step(i, to=i.status, kind=EventKind.DELIVERY_QUEUED, actor=actor, reason=reason)
                for i in invoices
            ),
        ]
    _record(events)
    after_issue_schedule(invoice_ids=[invoice.pk for invoice in invoices])


def invoice_issue(*, invoice: Invoice, issue_date: dt.date | None = None, actor=None) -> Invoice:
    """Number and freeze an approved invoice (or credit note), in one transaction.

    The issue date is today unless given; the due date keeps the number of days the draft had. The
    seller's and the buyer's identities are copied onto the invoice. Credit notes take the A series.
    """
    with transaction.atomic():
        locked = lock([invoice.pk])
        if not locked:
            raise BusinessError(f"{invoice} n'existe plus")
        event = _issue(
            locked[0], issue_date=issue_date or today(), seller=SellerProfile.current(), actor=actor
        )
        issued_record(invoices=locked, events=[event], actor=actor)
    _refresh(invoice, locked[0])
    return invoice


def credit_note_issue(*, credit_note: Invoice, actor=None) -> None:
    """draft → approved → issued for a credit note its author issues, in the caller's transaction."""
    events = [_step(credit_note, to=S.APPROVED, kind=EventKind.APPROVED, actor=actor)]
    events.append(_issue(credit_note, issue_date=today(), seller=SellerProfile.current(), actor=actor))
    issued_record(invoices=[credit_note], events=events, actor=actor)


def invoice_approve_as_system(
    *, invoice: Invoice, reason: str, issue_date: dt.date | None = None, rule=None
) -> Invoice:
    """Approve and issue without a person: a rule decided, or the demo data. The reason is audited.

    A pending invoice only (the rules ran); people approve through ``review.invoices_approve``.
    """
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError("une approbation sans personne doit dire pourquoi")
    with transaction.atomic():
        locked = lock([invoice.pk])
        if not locked:
            raise BusinessError(f"{invoice} n'existe plus")
        events = approve_and_issue(
            locked[0],
            actor=None,
            kind=EventKind.AUTO_APPROVED,
            rule=rule,
            reason=reason,
            seller=SellerProfile.current(),
            issue_date=issue_date,
        )
        issued_record(invoices=locked, events=events)
    _refresh(invoice, locked[0])
    return invoice


# --- after the issue ------------------------------------------------------------------------------------


def invoice_mark_sent(
    *, invoice: Invoice, at: dt.datetime | None = None, actor=None, reason: str = ""
) -> Invoice:
    """The document left by e-mail: issued → sent; a later send (reminder) is recorded without a move."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = lock([invoice.pk], for_rules=False)
        current = locked[0]
        to = S.SENT if current.status == S.ISSUED else current.status
        event = _step(current, to=to, kind=EventKind.SENT, actor=actor, reason=reason, at=at)
        if current.sent_at is None:
            current.sent_at = at
        _save([current], ["sent_at"])
        _record([event])
    _refresh(invoice, current)
    return invoice


@dataclass(frozen=True)
class Payment:
    """Money received for one invoice: the amount it settles (write-off included) and the day."""

    invoice_id: int
    amount: Decimal
    paid_on: dt.date
    reason: str = ""


def invoices_record_payments(*, payments: list[Payment], actor=None) -> list[Invoice]:
    """Add payments to open invoices: partially paid, or paid once the balance reaches zero.

    Runs in the caller's transaction when there is one (banking books a whole matching run at once), in its
    own otherwise. Refuses (nothing written) a payment on an invoice that is not open, a non-positive
    amount, or more than the balance. Writes in bulk: the number of queries does not grow per invoice.
    """
    if not payments:
        return []
    with transaction.atomic():
        per_invoice: dict[int, list[Payment]] = defaultdict(list)
        for payment in payments:
            per_invoice[payment.invoice_id].append(payment)
        ids = sorted(per_invoice)
        rows = []
        for start in range(0, len(ids), 1000):
            rows += list(
                Invoice.objects.select_for_update()
                .filter(pk__in=ids[start : start + 1000])
                .only("pk", "kind", "number", "status", "total_ht", "total_vat", "total_ttc", "amount_paid")
                .order_by("pk")
            )
        found = {invoice.pk: invoice for invoice in rows}
        events = []
        for invoice_id in ids:
            invoice = found.get(invoice_id)
            if invoice is None:
                raise BusinessError(f"facture #{invoice_id} introuvable")
            if invoice.kind != Kind.INVOICE or invoice.status not in OPEN_STATUSES:
                raise TransitionError(
                    f"{invoice} est {_status_label(invoice.status)} : pas de paiement à recevoir"
                )
            for payment in sorted(per_invoice[invoice_id], key=lambda p: p.paid_on):
                amount = quantize(payment.amount)
                if amount <= ZERO:
                    raise BusinessError(f"{invoice} : montant {format_eur(amount)} non positif")
                if amount > invoice.total_ttc - invoice.amount_paid:
                    raise BusinessError(
                        f"{invoice} : {format_eur(amount)} dépasse le reste dû "
                        f"{format_eur(invoice.total_ttc - invoice.amount_paid)}"
                    )
                invoice.amount_paid = quantize(invoice.amount_paid + amount)
                settled = invoice.amount_paid >= invoice.total_ttc
                if settled:
                    invoice.paid_date = payment.paid_on
                reason = f"{format_eur(amount)} reçus le {payment.paid_on:%d/%m/%Y}"
                if payment.reason:
                    reason = f"{reason} ({payment.reason})"
                events.append(
                    _step(
                        invoice,
                        to=S.PAID if settled else S.PARTIALLY_PAID,
                        kind=EventKind.PAYMENT,
                        actor=actor,
                        reason=reason,
                    )
                )
        _save_payments(rows)
        _record(events)
    return rows


def _save_payments(invoices: list[Invoice]) -> None:
    """Settled invoices in one UPDATE per payment day (amount paid = total); partial ones row by row in bulk.

    A matching run settles thousands of invoices at once: ``bulk_update``'s CASE expressions cost about a
    quarter of a second per hundred rows, one UPDATE per day costs nothing.
    """
    if len(invoices) == 1:
        _save(invoices, ["amount_paid", "paid_date"])
        return
    now = timezone.now()
    settled: dict[dt.date, list[int]] = defaultdict(list)
    partial = []
    for invoice in invoices:
        if invoice.status == S.PAID:
            settled[invoice.paid_date].append(invoice.pk)
        else:
            partial.append(invoice)
    for day, pks in settled.items():
        for start in range(0, len(pks), 500):
            Invoice.objects.filter(pk__in=pks[start : start + 500]).update(
                status=S.PAID, amount_paid=F("total_ttc"), paid_date=day, updated_at=now
            )
    _save(partial, ["amount_paid"])


def invoice_record_payment(
    *, invoice: Invoice, amount: Decimal, paid_on: dt.date, actor=None, reason: str = ""
) -> Invoice:
    stored = invoices_record_payments(
        payments=[Payment(invoice_id=invoice.pk, amount=amount, paid_on=paid_on, reason=reason)], actor=actor
    )[0]
    for name in ("status", "amount_paid", "paid_date", "updated_at"):
        setattr(invoice, name, getattr(stored, name))
    return invoice


def invoices_reverse_payments(*, payments: list[Payment], actor, reason: str) -> list[Invoice]:
    """Take back payments booked by mistake (a person undoes an allocation): the balance is due again and
    the invoice returns to partially paid, or to sent / issued. Audited with the person and the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError("l'annulation d'un paiement indique son motif")
    with transaction.atomic():
        ids = sorted({payment.invoice_id for payment in payments})
        rows = {invoice.pk: invoice for invoice in lock(ids, for_rules=False)}
        events = []
        for payment in payments:
            invoice = rows.get(payment.invoice_id)
            if invoice is None:
                raise BusinessError(f"facture #{payment.invoice_id} introuvable")
            amount = quantize(payment.amount)
            if amount <= ZERO or amount > invoice.amount_paid:
                raise BusinessError(
                    f"{invoice} : {format_eur(amount)} ne peut pas être retiré de "
                    f"{format_eur(invoice.amount_paid)} reçus"
                )
            invoice.amount_paid = quantize(invoice.amount_paid - amount)
            invoice.paid_date = None
            to = S.PARTIALLY_PAID if invoice.amount_paid > ZERO else S.SENT if invoice.sent_at else S.ISSUED
            events.append(
                _step(
                    invoice,
                    to=to,
                    kind=EventKind.PAYMENT_REVERSED,
                    actor=actor,
                    reason=f"{format_eur(amount)} retirés : {reason}",
                )
            )
        stored = list(rows.values())
        _save(stored, ["amount_paid", "paid_date"])
        _record(events)
    return stored


def invoice_credited_record(*, invoice: Invoice, credit_note: Invoice, actor=None, cancels: bool) -> None:
    """A credit note was issued against this locked invoice: cancelled when it (with the earlier ones)
    covers the whole amount, otherwise the history says by how much it was reduced."""
    reason = f"avoir {credit_note.number} de {format_eur(credit_note.total_ttc)}"
    if cancels:
        invoice.cancelled_by = credit_note
        event = _step(invoice, to=S.CANCELLED, kind=EventKind.CANCELLED, actor=actor, reason=reason)
        _save([invoice], ["cancelled_by"])
    else:
        event = _step(invoice, to=invoice.status, kind=EventKind.CREDITED, actor=actor, reason=reason)
    _record([event])


# --- disputes -----------------------------------------------------------------------------------------


def invoice_dispute_open(*, invoice: Invoice, reason: str, actor=None) -> Invoice:
    """The client contests the invoice: dunning pauses until the dispute is closed."""
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError("un litige s'ouvre avec un motif")
    with transaction.atomic():
        current = lock([invoice.pk], for_rules=False)[0]
        if current.disputed_since is not None:
            since = timezone.localdate(current.disputed_since)
            raise BusinessError(f"{current} est déjà en litige depuis le {since:%d/%m/%Y}")
        event = _step(current, to=current.status, kind=EventKind.DISPUTE_OPENED, actor=actor, reason=reason)
        current.disputed_since, current.dispute_reason = event.at, reason[:300]
        _save([current], ["disputed_since", "dispute_reason"])
        _record([event])
    _refresh(invoice, current)
    return invoice


def invoice_dispute_close(*, invoice: Invoice, reason: str, actor=None) -> Invoice:
    with transaction.atomic():
        current = lock([invoice.pk], for_rules=False)[0]
        if current.disputed_since is None:
            raise BusinessError(f"{current} n'est pas en litige")
        event = _step(current, to=current.status, kind=EventKind.DISPUTE_CLOSED, actor=actor, reason=reason)
        current.disputed_since, current.dispute_reason = None, ""
        _save([current], ["disputed_since", "dispute_reason"])
        _record([event])
    _refresh(invoice, current)
    return invoice


# --- what the client said -------------------------------------------------------------------------------


def _flag(invoice: Invoice, *, kind: str, values: dict, reason: str, actor) -> Invoice:
    with transaction.atomic():
        current = lock([invoice.pk], for_rules=False)[0]
        event = _step(current, to=current.status, kind=kind, actor=actor, reason=reason)
        for name, value in values.items():
            setattr(current, name, value)
        _save([current], values)
        _record([event])
    _refresh(invoice, current)
    return invoice


def invoice_payment_promise_record(*, invoice: Invoice, promised_for: dt.date, reason: str = "", actor=None):
    """The client announced a payment for ``promised_for``: dunning waits until then (the bank confirms)."""
    why = f"paiement annoncé pour le {promised_for:%d/%m/%Y}" + (f" ({reason})" if reason else "")
    return _flag(
        invoice,
        kind=EventKind.PAYMENT_PROMISED,
        values={"payment_promised_for": promised_for},
        reason=why,
        actor=actor,
    )


def invoice_delay_grant(*, invoice: Invoice, until: dt.date, reason: str = "", actor=None) -> Invoice:
    """The firm agreed to a later payment: dunning waits until ``until``."""
    why = f"délai accordé jusqu'au {until:%d/%m/%Y}" + (f" ({reason})" if reason else "")
    return _flag(
        invoice, kind=EventKind.DELAY_GRANTED, values={"delay_granted_until": until}, reason=why, actor=actor
    )


def invoice_acknowledged_record(
    *, invoice: Invoice, at: dt.datetime | None = None, reason: str = "", actor=None
):
    """The client confirmed receiving the invoice (first time only is kept)."""
    if invoice.acknowledged_at is not None:
        return invoice
    return _flag(
        invoice,
        kind=EventKind.ACKNOWLEDGED,
        values={"acknowledged_at": at or timezone.now()},
        reason=reason,
        actor=actor,
    )
