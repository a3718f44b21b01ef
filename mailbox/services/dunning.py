"""Dunning: which reminder each unpaid invoice gets today, and sending it.

The levels are the dunning templates (J+15 friendly, J+30 firm, J+45 formal notice with the penalties and
the 40 € indemnity computed), each with its days after the due date and an on/off switch, edited in the
admin. On a given day an invoice is due the highest active level it has reached, when that level is above
the last one it was sent: a machine that was off over two levels sends one reminder, the one for today's
delay, never a burst of the missed ones. Two reminders of one invoice are at least MAIL_DUNNING_MIN_GAP_DAYS
apart.

Nothing goes out for an invoice that is paid (it is no longer overdue), cancelled, under dispute, with a
payment promise in force (until its date plus MAIL_PROMISE_GRACE_DAYS) or a delay granted (until its date),
that was never e-mailed (a reminder about a document the client never received makes no sense), or whose
client has no billing address. Each reminder is a message in the outbox (``invoice:<id>:reminder:<level>``:
once per level, whatever runs twice) and is recorded in the invoice's history when it leaves.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Exists, F, Max, OuterRef, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from invoicing.models import Invoice
from invoicing.models.invoice import Kind
from invoicing.selectors import DaysBetween, overdue_state
from mailbox.models import MailTemplate, OutboundMessage, OutboundStatus, Purpose
from mailbox.models.outbound import DUNNING_KINDS
from mailbox.services.rendering import invoice_context, render
from mailbox.services.sending import FlushReport, _queue, outbox_flush, recipients_for, templates_ensure
from syaga.core.errors import BusinessError

# Messages that count as a reminder already given (a failed one was never received, so it does not).
GIVEN = (OutboundStatus.QUEUED, OutboundStatus.SENDING, OutboundStatus.SENT, OutboundStatus.UNCERTAIN)


@dataclass(frozen=True)
class Level:
    level: int
    days: int
    template: MailTemplate


@dataclass
class Reminder:
    invoice: Invoice
    level: int
    days_late: int
    to: list[str]
    subject: str = ""
    body: str = ""


@dataclass
class Hold:
    invoice: Invoice
    reason: str


@dataclass
class DunningPlan:
    due: list[Reminder] = field(default_factory=list)
    held: list[Hold] = field(default_factory=list)


@dataclass
class DunningReport:
    plan: DunningPlan
    queued: list[OutboundMessage] = field(default_factory=list)
    flush: FlushReport = field(default_factory=FlushReport)

    def __str__(self):
        return f"{len(self.queued)} relance(s) en file, {len(self.plan.held)} suspendue(s) ; {self.flush}"


def levels() -> list[Level]:
    """The active dunning levels, by days after the due date."""
    if MailTemplate.objects.filter(kind__in=DUNNING_KINDS).count() < len(DUNNING_KINDS):
        templates_ensure()
    rows = MailTemplate.objects.filter(kind__in=DUNNING_KINDS, active=True, days_after_due__isnull=False)
    return sorted(
        (Level(level=row.level, days=row.days_after_due, template=row) for row in rows),
        key=lambda lv: lv.days,
    )


def hold_reason(invoice: Invoice, *, on: dt.date) -> str:
    """Why no reminder may go out for this overdue invoice today ("" when one may)."""
    if invoice.disputed_since is not None:
        return f"en litige depuis le {timezone.localdate(invoice.disputed_since):%d/%m/%Y}"
    grace = dt.timedelta(days=settings.MAIL_PROMISE_GRACE_DAYS)
    if invoice.payment_promised_for is not None and invoice.payment_promised_for + grace >= on:
        return f"paiement annoncé pour le {invoice.payment_promised_for:%d/%m/%Y}"
    if invoice.delay_granted_until is not None and invoice.delay_granted_until >= on:
        return f"délai accordé jusqu'au {invoice.delay_granted_until:%d/%m/%Y}"
    if invoice.sent_at is None:
        return "facture jamais envoyée par e-mail"
    return ""


def reminders_plan(*, on: dt.date) -> DunningPlan:
    """What the daily cycle would send on ``on``: one reminder at most per invoice; what is held, and why."""
    plan = DunningPlan()
    active = levels()
    if not active:
        return plan
    first = active[0].days
    overdue = [inv for inv in overdue_state(on=on).filter(kind=Kind.INVOICE) if inv.days_late >= first]
    if not overdue:
        return plan
    ids = [invoice.pk for invoice in overdue]
    given = (
        OutboundMessage.objects.filter(invoice_id__in=ids, purpose=Purpose.REMINDER, state__in=GIVEN)
        .values("invoice_id")
        .annotate(last_level=Max("level"), last_at=Max("created_at"))
    )
    history = {row["invoice_id"]: row for row in given}
    min_gap = dt.timedelta(days=settings.MAIL_DUNNING_MIN_GAP_DAYS)
    for invoice in overdue:
        reached = [lv for lv in active if invoice.days_late >= lv.days]
        target = reached[-1]
        done = history.get(invoice.pk)
        if done and done["last_level"] >= target.level:
            continue
        reason = hold_reason(invoice, on=on)
        if not reason and done and timezone.localdate(done["last_at"]) > on - min_gap:
            reason = f"relance précédente le {timezone.localdate(done['last_at']):%d/%m/%Y} (écart minimum)"
        to = recipients_for(invoice)
        if not reason and not to:
            reason = f"le client {invoice.client} n'a pas d'e-mail de facturation"
        if reason:
            plan.held.append(Hold(invoice, reason))
            continue
        subject, body = render(target.template, invoice_context(invoice, on=on, level=target.level))
        plan.due.append(Reminder(invoice, target.level, invoice.days_late, to, subject, body))
    return plan


def reminders_send(*, on: dt.date, now: dt.datetime | None = None) -> DunningReport:
    """Queue and send the reminders due on ``on``. Idempotent: each level of each invoice is sent once."""
    plan = reminders_plan(on=on)
    report = DunningReport(plan=plan)
    for reminder in plan.due:
        try:
            row, _ = _queue(
                dedupe_key=f"invoice:{reminder.invoice.pk}:reminder:{reminder.level}",
                invoice=reminder.invoice,
                purpose=Purpose.REMINDER,
                level=reminder.level,
                to=reminder.to,
                subject=reminder.subject,
                body=reminder.body,
                attach_pdf=True,
                now=now,
            )
        except BusinessError as exc:
            plan.held.append(Hold(reminder.invoice, str(exc)))
            continue
        report.queued.append(row)
    report.flush = outbox_flush(ids=[row.pk for row in report.queued], now=now)
    return report


def next_reminders(*, on: dt.date, limit: int = 10) -> list[dict]:
    """The reminders coming next (today's included), soonest first and on the same day the longest overdue
    first: invoice, level, date, for the first page's tile.

    Each e-mailed, undisputed open invoice gets the first level (in days order) above the last one it was
    given, on its day (its due date plus the level's days, today when that day has passed), unless a payment
    promise (plus the grace) or a delay granted holds it then. One query per level, each computed, ordered
    and cut to ``limit`` rows by the database: the cost does not grow with the open invoices.
    """
    active = levels()
    if not active:
        return []
    given = OutboundMessage.objects.filter(invoice=OuterRef("pk"), purpose=Purpose.REMINDER, state__in=GIVEN)
    candidates = overdue_state(on=on + dt.timedelta(days=active[-1].days)).filter(
        kind=Kind.INVOICE, disputed_since__isnull=True, sent_at__isnull=False
    )
    grace = settings.MAIL_PROMISE_GRACE_DAYS
    upcoming = []
    before = 0  # the highest level of the levels that come earlier: each must have been given already
    for level in active:
        if before >= level.level:
            continue  # an earlier level stands above it: it is never the next one
        rows = candidates.filter(~Exists(given.filter(level__gte=level.level)))
        if before:
            rows = rows.filter(Exists(given.filter(level__gte=before)))
        before = level.level
        rows = (
            # days from ``on`` to the reminder: its day, or today when that day has passed
            rows.annotate(reminder_in=Greatest(DaysBetween("due_date", on) + level.days, Value(0)))
            .annotate(
                promise_in=DaysBetween("payment_promised_for", on),
                delay_in=DaysBetween("delay_granted_until", on),
            )
            .exclude(Q(payment_promised_for__isnull=False) & Q(promise_in__gte=F("reminder_in") - grace))
            .exclude(Q(delay_granted_until__isnull=False) & Q(delay_in__gte=F("reminder_in")))
            # the day grows with the due date: due date order is day order, oldest due first on the same
            # day, and the database can walk its due date index and stop at ``limit``
            .order_by("due_date", "pk")[:limit]
        )
        upcoming += [
            {"invoice": invoice, "level": level.level, "date": on + dt.timedelta(days=invoice.reminder_in)}
            for invoice in rows
        ]
    upcoming.sort(key=lambda row: (row["date"], row["invoice"].due_date, row["invoice"].pk))
    return upcoming[:limit]
