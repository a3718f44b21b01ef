"""Reads on unpaid invoices: the overdue state (what dunning and alerts share), DSO."""

import datetime as dt
from decimal import Decimal

from django.db.models import Case, Count, DateField, F, IntegerField, Q, Sum, Value, When
from django.db.models.expressions import Func

from banking.models import OverdueAlert
from invoicing.models import Invoice
from invoicing.models.invoice import FROZEN_STATUSES, OPEN_STATUSES, Kind
from syaga.core.money import ZERO, quantize

LEVELS = OverdueAlert.LEVELS


class DaysBetween(Func):
    """Whole days from ``start`` to ``end`` (``end - start``) as an integer, computed by the database.

    Django's date subtraction yields a duration, which SQLite cannot extract days from; this gives an
    integer that can be filtered, summed and averaged on both SQLite and PostgreSQL.
    """

    arity = 2
    output_field = IntegerField()

    def __init__(self, end, start, **extra):
        super().__init__(_as_date(end), _as_date(start), **extra)

    def as_sql(self, compiler, connection, **extra_context):
        # PostgreSQL: date - date is an integer number of days.
        return super().as_sql(
            compiler,
            connection,
            template="((%(expressions)s)::date)",
            arg_joiner=")::date - (",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


def _as_date(value):
    if isinstance(value, dt.date):
        return Value(value, output_field=DateField())
    return F(value) if isinstance(value, str) else value


def overdue_state(*, on: dt.date):
    """Open invoices past their due date on ``on``, each annotated with its overdue state.

    ``days_late`` (int, days since the due date), ``overdue_level`` (the highest of J+15/30/60/90
    reached, 0 before J+15) and ``amount_due`` (TTC still unpaid). A paid invoice is not open, so it
    leaves this list the moment its payment is recorded. Ordered from the most late. Alert raising and
    the dunning mails read the same state from here.
    """
    level = Case(
        *[
            When(due_date__lte=on - dt.timedelta(days=days), then=Value(days))
            for days in sorted(LEVELS, reverse=True)
        ],
        default=Value(0),
        output_field=IntegerField(),
    )
    return (
        Invoice.objects.overdue(on)
        .filter(due_date__isnull=False)
        .select_related("client")
        .annotate(
            days_late=DaysBetween(on, "due_date"),
            overdue_level=level,
            amount_due=F("total_ttc") - F("amount_paid"),
        )
        .order_by("due_date", "pk")
    )


def overdue_alerts_current():
    """Alerts whose invoice is still unpaid: what the back-office and the daily report list."""
    return OverdueAlert.objects.filter(
        invoice__kind=Kind.INVOICE, invoice__status__in=OPEN_STATUSES
    ).select_related("invoice", "invoice__client")


def overdue_alerts_raised_on(*, on: dt.date):
    """Alerts raised on one day (the daily report's "new today"), still unpaid ones only."""
    return overdue_alerts_current().filter(raised_on=on).order_by("-level", "invoice__due_date")


def overdue_summary_by_level(*, on: dt.date) -> list[dict]:
    """Unpaid overdue invoices grouped by the highest level reached: count and amount, J+90 first.

    Level 0 gathers invoices past due by fewer than 15 days (late, not yet alerted).
    """
    rows = (
        overdue_state(on=on)
        .order_by()
        .values("overdue_level")
        .annotate(count=Count("pk"), amount=Sum("amount_due"))
    )
    by_level = {row["overdue_level"]: row for row in rows}
    return [
        {
            "level": level,
            "count": by_level.get(level, {}).get("count", 0),
            "amount": quantize(by_level.get(level, {}).get("amount") or ZERO),
        }
        for level in (*sorted(LEVELS, reverse=True), 0)
    ]


DSO_WINDOW_DAYS = 90


def receivables_total(*, on: dt.date) -> Decimal:
    """TTC still unpaid on every open invoice (issued on or before ``on``)."""
    total = (
        Invoice.objects.open()
        .filter(Q(issue_date__lte=on) | Q(issue_date__isnull=True))
        .aggregate(total=Sum(F("total_ttc") - F("amount_paid")))["total"]
    )
    return quantize(total or ZERO)


def sales_total(*, start: dt.date, end: dt.date) -> Decimal:
    """TTC invoiced from ``start`` to ``end`` included, net of credit notes issued in that window."""
    issued = Invoice.objects.filter(status__in=FROZEN_STATUSES, issue_date__gte=start, issue_date__lte=end)
    agg = issued.aggregate(
        invoiced=Sum("total_ttc", filter=Q(kind=Kind.INVOICE)),
        credited=Sum("total_ttc", filter=Q(kind=Kind.CREDIT_NOTE)),
    )
    return quantize((agg["invoiced"] or ZERO) - (agg["credited"] or ZERO))


def days_sales_outstanding(*, on: dt.date, window_days: int = DSO_WINDOW_DAYS) -> Decimal | None:
    """DSO = receivables / sales of the last ``window_days`` days x ``window_days``, in days (0.1).

    Receivables: TTC unpaid on open invoices on ``on``. Sales: TTC invoiced in the ``window_days``
    days ending on ``on`` (credit notes deducted). ``None`` when nothing was sold in the window: the
    ratio means nothing then.
    """
    sales = sales_total(start=on - dt.timedelta(days=window_days - 1), end=on)
    if sales <= 0:
        return None
    return quantize(receivables_total(on=on) / sales * window_days, Decimal("0.1"))
