"""Reads of the mailbox app: the first page's tile, an invoice's thread, the monthly dispute report."""

import datetime as dt
import statistics
from decimal import Decimal

from django.db.models import Case, CharField, Count, F, Q, Sum, When
from django.utils import timezone

from invoicing.models import Invoice, InvoiceEvent
from invoicing.models.validation import EventKind
from mailbox.models import (
    DelayRequest,
    DelayStatus,
    Dispute,
    DisputeStatus,
    DisputeType,
    InboundMessage,
    OutboundMessage,
    OutboundStatus,
    ReplyCategory,
    Todo,
)
from mailbox.services.dunning import next_reminders
from syaga.core.dates import add_months, french_month_label
from syaga.core.money import ZERO, quantize

TENTH = Decimal("0.1")
AGE_BUCKETS = (
    (7, "moins de 7 jours"),
    (30, "7 à 30 jours"),
    (60, "30 à 60 jours"),
    (None, "plus de 60 jours"),
)


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def final_category():
    """The category a person gave, else the classifier's, as a database expression."""
    return Case(
        When(~Q(corrected_category=""), then=F("corrected_category")),
        default=F("category"),
        output_field=CharField(),
    )


def week_tile(*, on: dt.date) -> dict:
    """The first page's mail tile for the week (Monday to Sunday) holding ``on``.

    ``replies``: each category with its count this week (corrections applied); ``open_disputes``: open or in
    progress by urgency 5 → 1 with the amount at stake; ``sent_this_month``: invoices sent for the first
    time this month (count, TTC); ``next_reminders``: the coming reminders (invoice, level, date);
    ``todos``, ``delays_pending``, ``send_problems``: what waits for a person.
    """
    monday = on - dt.timedelta(days=on.weekday())
    week = (_day_start(monday), _day_start(monday + dt.timedelta(days=7)))
    counts = dict(
        InboundMessage.objects.filter(received_at__gte=week[0], received_at__lt=week[1])
        .annotate(final=final_category())
        .values_list("final")
        .annotate(n=Count("pk"))
        .values_list("final", "n")
    )
    replies = [
        {"category": c.value, "label": c.label, "count": counts.get(c.value, 0)} for c in ReplyCategory
    ]
    open_disputes = Dispute.objects.exclude(state=DisputeStatus.RESOLVED)
    by_urgency = dict(
        open_disputes.values_list("urgency").annotate(n=Count("pk")).values_list("urgency", "n")
    )
    first_of_month = on.replace(day=1)
    month = (_day_start(first_of_month), _day_start(add_months(first_of_month, 1)))
    # First sent this month: ``sent_at`` is stamped by the lifecycle on the first send only, with its
    # « envoyée » event at that instant: the month's events (their index on the date) lead to the
    # invoices, rather than reading every invoice's ``sent_at``, which has no index.
    sent_events = InvoiceEvent.objects.filter(kind=EventKind.SENT, at__gte=month[0], at__lt=month[1])
    sent = (
        Invoice.objects.invoices()
        .filter(pk__in=sent_events.values("invoice_id"), sent_at__gte=month[0], sent_at__lt=month[1])
        .aggregate(n=Count("pk"), ttc=Sum("total_ttc"))
    )
    upcoming = [
        {
            "invoice_id": row["invoice"].pk,
            "number": row["invoice"].number,
            "client": row["invoice"].client.name,
            "level": row["level"],
            "date": row["date"],
            "amount_due": quantize(row["invoice"].amount_due),
        }
        for row in next_reminders(on=on, limit=5)
    ]
    return {
        "week_start": monday,
        "week_end": monday + dt.timedelta(days=6),
        "replies": replies,
        "replies_total": sum(counts.values()),
        "open_disputes": [{"urgency": u, "count": by_urgency.get(u, 0)} for u in (5, 4, 3, 2, 1)],
        "open_disputes_total": sum(by_urgency.values()),
        "open_disputes_amount": quantize(
            open_disputes.aggregate(total=Sum("amount_at_stake"))["total"] or ZERO
        ),
        "sent_this_month": {"count": sent["n"] or 0, "amount": quantize(sent["ttc"] or ZERO)},
        "next_reminders": upcoming,
        "todos": Todo.objects.filter(done=False).count(),
        "delays_pending": DelayRequest.objects.filter(state=DelayStatus.PENDING).count(),
        "send_problems": OutboundMessage.objects.filter(
            state__in=(OutboundStatus.FAILED, OutboundStatus.UNCERTAIN)
        ).count(),
    }


def invoice_thread(invoice: Invoice) -> list[dict]:
    """What we sent about an invoice and what the client answered, oldest first."""
    entries = []
    for row in OutboundMessage.objects.filter(invoice=invoice).prefetch_related("attempt_log"):
        entries.append(
            {
                "direction": "out",
                "at": row.sent_at or row.created_at,
                "who": row.to,
                "subject": row.subject,
                "text": row.body,
                "label": row.get_purpose_display() + (f" niveau {row.level}" if row.level else ""),
                "state": row.get_state_display(),
                "sent": row.state == OutboundStatus.SENT,
                "opened_at": row.opened_at,
                "message_id": row.message_id,
                "object": row,
            }
        )
    for row in InboundMessage.objects.filter(invoice=invoice):
        entries.append(
            {
                "direction": "in",
                "at": row.sent_at or row.received_at,
                "who": f"{row.from_name} <{row.from_email}>" if row.from_name else row.from_email,
                "subject": row.subject,
                "text": row.new_text or row.text,
                "label": row.get_corrected_category_display()
                if row.corrected_category
                else row.get_category_display(),
                "urgency": row.urgency,
                "action": row.get_action_display() if row.action else "",
                "action_note": row.action_note,
                "message_id": row.message_id,
                "object": row,
            }
        )
    entries.sort(key=lambda e: (e["at"], 0 if e["direction"] == "out" else 1))
    return entries


def dispute_report(*, month: dt.date, today: dt.date | None = None) -> dict:
    """The month's disputes: opened (count, by type, amounts at stake), resolved (count, days to resolve), and
    every dispute still open at the report's date with its age."""
    today = today or timezone.localdate()
    start = month.replace(day=1)
    end = add_months(start, 1)
    window = (_day_start(start), _day_start(end))
    opened = Dispute.objects.filter(opened_at__gte=window[0], opened_at__lt=window[1])
    by_type = {
        row["type"]: row
        for row in opened.values("type").annotate(count=Count("pk"), amount=Sum("amount_at_stake"))
    }
    types = [
        {
            "type": t.value,
            "label": t.label,
            "count": by_type.get(t.value, {}).get("count", 0),
            "amount": quantize(by_type.get(t.value, {}).get("amount") or ZERO),
        }
        for t in DisputeType
    ]
    resolved = list(
        Dispute.objects.filter(
            state=DisputeStatus.RESOLVED, resolved_at__gte=window[0], resolved_at__lt=window[1]
        ).values_list("opened_at", "resolved_at")
    )
    days = [(b - a).total_seconds() / 86400 for a, b in resolved]
    cutoff = min(_day_start(end), _day_start(today + dt.timedelta(days=1)))
    still_open = list(
        Dispute.objects.filter(opened_at__lt=cutoff)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=cutoff))
        .select_related("invoice", "client")
        .order_by("opened_at")
    )
    reference = min(end - dt.timedelta(days=1), today)
    open_rows, buckets = [], {label: 0 for _, label in AGE_BUCKETS}
    for dispute in still_open:
        age = (reference - timezone.localdate(dispute.opened_at)).days
        label = next(label for limit, label in AGE_BUCKETS if limit is None or age < limit)
        buckets[label] += 1
        open_rows.append({"dispute": dispute, "age": age, "bucket": label})
    return {
        "month": start,
        "month_label": french_month_label(start),
        "opened_count": sum(t["count"] for t in types),
        "opened_amount": quantize(sum((t["amount"] for t in types), ZERO)),
        "types": types,
        "resolved_count": len(resolved),
        "resolution_days_median": quantize(Decimal(repr(statistics.median(days))), TENTH) if days else None,
        "open": open_rows,
        "open_count": len(open_rows),
        "open_amount": quantize(sum((r["dispute"].amount_at_stake for r in open_rows), Decimal("0"))),
        "open_by_age": [{"label": label, "count": buckets[label]} for _, label in AGE_BUCKETS],
        "open_age_median": statistics.median([r["age"] for r in open_rows]) if open_rows else None,
    }
