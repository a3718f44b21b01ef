"""How each client pays: average days late, share paid late, a 0-100 risk score."""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Greatest

from banking.selectors import DaysBetween
from invoicing.models import Client, Invoice
from invoicing.models.invoice import OPEN_STATUSES, Status

# Past this average delay the "how late" half of the score is full.
RISK_DAYS_CAP = 60
TENTH = Decimal("0.1")


@dataclass(frozen=True)
class PaymentBehaviour:
    """A client's payment record up to a date.

    The sample is every invoice paid (``paid_date`` known) plus every open invoice already past due.
    ``average_days_late``: mean of max(paid_date - due_date, 0) over paid invoices and of the days
    since the due date over open overdue ones. ``share_late``: the part of the sample paid after its
    due date or still unpaid past it, from 0 to 1. ``paid_average_days_late``: the same mean over the
    paid invoices only, the client's habit when it does pay (what the cash-flow forecast shifts by).
    """

    client_id: int
    invoices_paid: int
    paid_late: int
    open_overdue: int
    average_days_late: Decimal
    share_late: Decimal
    risk_score: int
    paid_average_days_late: Decimal = Decimal("0.0")

    @property
    def sample_size(self) -> int:
        return self.invoices_paid + self.open_overdue

    @property
    def habit_days(self) -> int:
        """How many days after the due date this client pays, on average, when it pays (whole days).

        Only paid invoices count: an unpaid one has no payment date to learn from, and counting its
        days so far would move its own expected date to today.
        """
        return int(self.paid_average_days_late.to_integral_value(rounding=ROUND_HALF_UP))


def risk_score(*, share_late: Decimal, average_days_late: Decimal) -> int:
    """0 (always on time) to 100 (always late, by 60 days or more on average).

    score = 50 x share_late + 50 x min(average_days_late, 60) / 60, rounded half-up. Half says how
    often the client pays late, half how late; the cap keeps one disaster from dominating.
    """
    how_late = min(average_days_late, Decimal(RISK_DAYS_CAP)) / RISK_DAYS_CAP
    score = 50 * share_late + 50 * how_late
    return int(score.to_integral_value(rounding=ROUND_HALF_UP))


def _no_history(client_id: int) -> PaymentBehaviour:
    return PaymentBehaviour(
        client_id=client_id,
        invoices_paid=0,
        paid_late=0,
        open_overdue=0,
        average_days_late=Decimal("0.0"),
        share_late=Decimal("0.00"),
        risk_score=0,
    )


def client_payment_behaviour(*, on: dt.date, clients=None) -> dict[int, PaymentBehaviour]:
    """Payment behaviour per client id on ``on``, from one aggregate query over the invoices.

    ``clients`` (ids or Client objects, or a queryset) limits the result; those without any history
    get a zero record. Without ``clients`` every client with a history is returned. Invoices paid
    after ``on`` count as still unpaid then, so a past date gives the picture as it was.
    """
    paid = Q(status=Status.PAID, paid_date__isnull=False, due_date__isnull=False, paid_date__lte=on)
    # Unpaid past due on ``on``: still open, or paid only later (so a past date sees it as it was).
    overdue = Q(due_date__lt=on) & (
        Q(status__in=OPEN_STATUSES) | Q(status=Status.PAID, paid_date__isnull=False, paid_date__gt=on)
    )
    invoices = Invoice.objects.invoices().filter(paid | overdue)
    wanted_ids = None
    if clients is not None:
        wanted_ids = [getattr(c, "pk", c) for c in clients]
        invoices = invoices.filter(client_id__in=wanted_ids)
    rows = (
        invoices.order_by()
        .values("client_id")
        .annotate(
            invoices_paid=Count("pk", filter=paid),
            paid_late=Count("pk", filter=paid & Q(paid_date__gt=F("due_date"))),
            open_overdue=Count("pk", filter=overdue),
            paid_days=Sum(Greatest(DaysBetween("paid_date", "due_date"), 0), filter=paid),
            open_days=Sum(DaysBetween(on, "due_date"), filter=overdue),
        )
    )
    result = {}
    for row in rows:
        sample = row["invoices_paid"] + row["open_overdue"]
        days = Decimal((row["paid_days"] or 0) + (row["open_days"] or 0))
        average = (days / sample).quantize(TENTH, rounding=ROUND_HALF_UP)
        paid_average = (
            (Decimal(row["paid_days"] or 0) / row["invoices_paid"]).quantize(TENTH, rounding=ROUND_HALF_UP)
            if row["invoices_paid"]
            else Decimal("0.0")
        )
        share = (Decimal(row["paid_late"] + row["open_overdue"]) / sample).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )
        result[row["client_id"]] = PaymentBehaviour(
            client_id=row["client_id"],
            invoices_paid=row["invoices_paid"],
            paid_late=row["paid_late"],
            open_overdue=row["open_overdue"],
            average_days_late=average,
            share_late=share,
            risk_score=risk_score(share_late=share, average_days_late=average),
            paid_average_days_late=paid_average,
        )
    for client_id in wanted_ids or ():
        result.setdefault(client_id, _no_history(client_id))
    return result


def top_late_payers(*, on: dt.date, limit: int = 10) -> list[tuple[Client, PaymentBehaviour]]:
    """The clients with the highest risk score (then the longest average delay), score above 0."""
    ranked = sorted(
        (b for b in client_payment_behaviour(on=on).values() if b.risk_score > 0),
        key=lambda b: (-b.risk_score, -b.average_days_late, b.client_id),
    )[:limit]
    clients = Client.objects.in_bulk([b.client_id for b in ranked])
    return [(clients[b.client_id], b) for b in ranked]
