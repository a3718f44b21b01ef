"""Reads on invoices: the overdue state (what alerts and dunning share), receivables, sales, DSO, how
each client pays (average days late, share paid late, a 0-100 risk score, the worst late payers), and the
seeds' indicators (issue and payment delays, recovery rate, share issued automatically, contracts not billed).

Only invoicing's models are read here; what also needs the bank (the cash-flow forecast, the overdue
alerts raised) lives in ``banking/selectors.py``.
"""

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import (
    Case,
    Count,
    DateField,
    Exists,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import Func
from django.db.models.functions import Greatest, TruncMonth
from django.utils import timezone

from invoicing.models import Client, Contract, Invoice, InvoiceEvent, SellerProfile
from invoicing.models.invoice import FROZEN_STATUSES, OPEN_STATUSES, Kind, Origin, Status
from invoicing.models.validation import EventKind
from syaga.core.dates import add_months
from syaga.core.money import ZERO, AmountError, parse_amount, quantize

# Days after the due date at which an unpaid invoice reaches each overdue level (J+15/30/60/90).
OVERDUE_LEVELS = (15, 30, 60, 90)
DSO_WINDOW_DAYS = 90
# Past this average delay the "how late" half of the risk score is full.
RISK_DAYS_CAP = 60
TENTH = Decimal("0.1")
HUNDREDTH = Decimal("0.01")
UNIT = Decimal(1)


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


# ------------------------------------------------------------------------------------------------ overdue


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
            for days in sorted(OVERDUE_LEVELS, reverse=True)
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
        for level in (*sorted(OVERDUE_LEVELS, reverse=True), 0)
    ]


# ------------------------------------------------------------------------------------ receivables and DSO


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
    return quantize(receivables_total(on=on) / sales * window_days, TENTH)


# ------------------------------------------------------------------------------------- payment behaviour


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
        return int(quantize(self.paid_average_days_late, UNIT))


def risk_score(*, share_late: Decimal, average_days_late: Decimal) -> int:
    """0 (always on time) to 100 (always late, by 60 days or more on average).

    score = 50 x share_late + 50 x min(average_days_late, 60) / 60, rounded half-up. Half says how
    often the client pays late, half how late; the cap keeps one disaster from dominating.
    """
    how_late = min(average_days_late, Decimal(RISK_DAYS_CAP)) / RISK_DAYS_CAP
    return int(quantize(50 * share_late + 50 * how_late, UNIT))


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
        average = quantize(days / sample, TENTH)
        paid_average = (
            quantize(Decimal(row["paid_days"] or 0) / row["invoices_paid"], TENTH)
            if row["invoices_paid"]
            else Decimal("0.0")
        )
        share = quantize(Decimal(row["paid_late"] + row["open_overdue"]) / sample, HUNDREDTH)
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


def client_payment_habits(*, on: dt.date) -> dict[int, int]:
    """Each client's habit on ``on``: :attr:`PaymentBehaviour.habit_days` (whole days late when it pays,
    on average), for every client with a paid invoice; the others pay on their due date (0).

    What the cash-flow forecast shifts expected payments by: the same figure as
    :func:`client_payment_behaviour`, from a lighter query (paid invoices only, two aggregates).
    """
    rows = (
        Invoice.objects.invoices()
        .filter(status=Status.PAID, paid_date__isnull=False, due_date__isnull=False, paid_date__lte=on)
        .order_by()
        .values("client_id")
        .annotate(paid=Count("pk"), days=Sum(Greatest(DaysBetween("paid_date", "due_date"), 0)))
    )
    habits = {}
    for row in rows:
        average = quantize(Decimal(row["days"] or 0) / row["paid"], TENTH)
        habits[row["client_id"]] = int(quantize(average, UNIT))
    return habits


def top_late_payers(
    *, on: dt.date, limit: int = 10, behaviour: dict[int, PaymentBehaviour] | None = None
) -> list[tuple[Client, PaymentBehaviour]]:
    """The clients with the highest risk score (then the longest average delay), score above 0.

    ``behaviour`` is :func:`client_payment_behaviour` on ``on`` when the caller has it already."""
    if behaviour is None:
        behaviour = client_payment_behaviour(on=on)
    ranked = sorted(
        (b for b in behaviour.values() if b.risk_score > 0),
        key=lambda b: (-b.risk_score, -b.average_days_late, b.client_id),
    )[:limit]
    clients = Client.objects.in_bulk([b.client_id for b in ranked])
    return [(clients[b.client_id], b) for b in ranked]


# --- payment terms -----------------------------------------------------------------------------------

DEFAULT_PAYMENT_TERMS_DAYS = 30


def default_payment_terms() -> int:
    """The seller profile's payment terms in days (30 without a profile)."""
    seller = SellerProfile.current()
    return seller.payment_terms_days if seller else DEFAULT_PAYMENT_TERMS_DAYS


def client_payment_terms(client: Client, *, default_days: int | None = None) -> int:
    """A client's own payment terms, else the firm's (``default_days`` when the caller already read them)."""
    if client.payment_terms_days is not None:
        return client.payment_terms_days
    return default_payment_terms() if default_days is None else default_days


# --- who may approve -------------------------------------------------------------------------------------

APPROVE_PERMISSION = "invoicing.approve_invoice"


def approvers():
    """Active users who may approve invoices: superusers, and holders of the permission (direct or group)."""
    app_label, codename = APPROVE_PERMISSION.split(".")
    permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True) | Q(user_permissions__in=permission) | Q(groups__permissions__in=permission)
        )
        .distinct()
    )


# --- the review queue and the sales, for the first page -------------------------------------------------


@dataclass(frozen=True)
class QueueSummary:
    count: int
    total_ht: Decimal
    total_ttc: Decimal


def review_queue_summary() -> QueueSummary:
    """Invoices waiting for a person's approval: how many, and what they add up to (one query)."""
    agg = Invoice.objects.pending_review().aggregate(
        count=Count("pk"), ht=Sum("total_ht"), ttc=Sum("total_ttc")
    )
    return QueueSummary(
        count=agg["count"], total_ht=quantize(agg["ht"] or ZERO), total_ttc=quantize(agg["ttc"] or ZERO)
    )


@dataclass(frozen=True)
class MonthRevenue:
    month: dt.date  # the first day of the month
    invoiced_ht: Decimal
    credited_ht: Decimal

    @property
    def net_ht(self) -> Decimal:
        return self.invoiced_ht - self.credited_ht


def revenue_by_month(*, on: dt.date, months: int = 24) -> list[MonthRevenue]:
    """Revenue (HT) per calendar month, the ``months`` months ending with ``on``'s, oldest first, every
    month present (0 when nothing was issued).

    Revenue is what was issued (numbered) that month, invoices minus credit notes, by issue date: a
    cancelled invoice counts in its month and its credit note in the credit note's month, as the books
    say. Drafts, invoices waiting for review and rejected ones are not revenue. One grouped query.
    """
    first = add_months(on.replace(day=1), -(months - 1))
    rows = (
        Invoice.objects.filter(status__in=FROZEN_STATUSES, issue_date__gte=first, issue_date__lte=on)
        .annotate(month=TruncMonth("issue_date"))
        .order_by()
        .values("month")
        .annotate(
            invoiced=Sum("total_ht", filter=Q(kind=Kind.INVOICE)),
            credited=Sum("total_ht", filter=Q(kind=Kind.CREDIT_NOTE)),
        )
    )
    by_month = {}
    for row in rows:
        month = row["month"]
        month = month.date() if isinstance(month, dt.datetime) else month
        by_month[month] = row
    result = []
    for index in range(months):
        month = add_months(first, index)
        row = by_month.get(month, {})
        result.append(
            MonthRevenue(
                month=month,
                invoiced_ht=quantize(row.get("invoiced") or ZERO),
                credited_ht=quantize(row.get("credited") or ZERO),
            )
        )
    return result


# --- payments, as each invoice's history records them -------------------------------------------------

# What ``lifecycle`` writes in the reason of a payment and of a payment taken back.
_PAYMENT_REASON = re.compile(
    r"^(?P<amount>.+?) reçus le (?P<date>\d{2}/\d{2}/\d{4})(?: \((?P<detail>.*)\))?$", re.S
)
_REVERSAL_REASON = re.compile(r"^(?P<amount>.+?) retirés : (?P<detail>.*)$", re.S)


@dataclass(frozen=True)
class PaymentLine:
    """One payment received for an invoice (or taken back: ``amount`` is then negative), from its history."""

    invoice_id: int
    invoice: str  # the invoice's number
    date: dt.date  # the day the money came (the booking day for a payment taken back)
    amount: Decimal
    detail: str  # the bank line and how it was matched, or why it was taken back
    reversed: bool = False


def _payment_line(event: InvoiceEvent) -> PaymentLine | None:
    number = event.invoice.number or f"#{event.invoice_id}"
    if event.kind == EventKind.PAYMENT:
        match = _PAYMENT_REASON.match(event.reason or "")
        sign = 1
    else:
        match = _REVERSAL_REASON.match(event.reason or "")
        sign = -1
    if match is None:
        return None
    try:
        amount = quantize(parse_amount(match["amount"]))
    except AmountError:
        return None
    if event.kind == EventKind.PAYMENT:
        day, month, year = (int(part) for part in match["date"].split("/"))
        date = dt.date(year, month, day)
    else:
        date = timezone.localdate(event.at)
    return PaymentLine(
        invoice_id=event.invoice_id,
        invoice=number,
        date=date,
        amount=sign * amount,
        detail=(match["detail"] or "").strip(),
        reversed=sign < 0,
    )


def payment_lines(events, *, latest_first: bool = False, limit: int | None = None) -> list[PaymentLine]:
    """The payments among ``events`` (an InvoiceEvent queryset), oldest first (or the ``limit`` latest)."""
    events = events.filter(kind__in=[EventKind.PAYMENT, EventKind.PAYMENT_REVERSED]).select_related("invoice")
    events = events.order_by("-at", "-pk") if latest_first else events.order_by("at", "pk")
    if limit is not None:
        events = events[:limit]
    return [line for line in map(_payment_line, events) if line is not None]


def invoice_payments(invoice: Invoice) -> list[PaymentLine]:
    """What an invoice received (date, bank line, amount), and any payment taken back, from its history."""
    return payment_lines(InvoiceEvent.objects.filter(invoice=invoice))


@dataclass(frozen=True)
class ListTotals:
    """What a list of invoices and credit notes adds up to: credit notes deducted, and what is still due."""

    count: int
    total_ht: Decimal
    total_ttc: Decimal
    balance_due: Decimal


def invoice_list_totals(queryset) -> ListTotals:
    """Totals of any invoice queryset (a filtered list): one aggregate query."""
    credit = Q(kind=Kind.CREDIT_NOTE)
    open_invoice = Q(kind=Kind.INVOICE, status__in=OPEN_STATUSES)
    agg = queryset.order_by().aggregate(
        count=Count("pk"),
        ht=Sum("total_ht", filter=~credit),
        ht_credited=Sum("total_ht", filter=credit),
        ttc=Sum("total_ttc", filter=~credit),
        ttc_credited=Sum("total_ttc", filter=credit),
        due=Sum(F("total_ttc") - F("amount_paid"), filter=open_invoice),
    )
    return ListTotals(
        count=agg["count"],
        total_ht=quantize((agg["ht"] or ZERO) - (agg["ht_credited"] or ZERO)),
        total_ttc=quantize((agg["ttc"] or ZERO) - (agg["ttc_credited"] or ZERO)),
        balance_due=quantize(agg["due"] or ZERO),
    )


# --- a client's account --------------------------------------------------------------------------------

STATEMENT_ROWS = 50


@dataclass(frozen=True)
class ClientStatement:
    """What a client owes and how it pays, on ``on``: the client page's reads."""

    on: dt.date
    balance_due: Decimal  # TTC still due on its open invoices
    overdue: Decimal  # part of it past the due date
    open_invoices: list[Invoice]  # oldest due first, annotated with ``amount_due``
    open_count: int
    payments: list[PaymentLine]  # the latest first
    credit_notes: list[Invoice]  # the latest first
    behaviour: PaymentBehaviour
    invoiced_ttc: Decimal  # every issued invoice, for scale
    more_payments: bool = False


def client_statement(*, client: Client, on: dt.date, rows: int = STATEMENT_ROWS) -> ClientStatement:
    """A client's balance, open invoices, payments, credit notes and payment behaviour (a few queries,
    whatever the client's history; lists cut at ``rows``)."""
    open_invoices = Invoice.objects.open().filter(client=client)
    totals = open_invoices.aggregate(
        due=Sum(F("total_ttc") - F("amount_paid")),
        overdue=Sum(F("total_ttc") - F("amount_paid"), filter=Q(due_date__lt=on)),
        count=Count("pk"),
    )
    invoiced = Invoice.objects.invoices().issued().filter(client=client).aggregate(total=Sum("total_ttc"))
    listed = list(
        open_invoices.annotate(amount_due=F("total_ttc") - F("amount_paid")).order_by("due_date", "pk")[:rows]
    )
    payments = payment_lines(
        InvoiceEvent.objects.filter(invoice__client=client), latest_first=True, limit=rows + 1
    )
    credit_notes = list(
        Invoice.objects.credit_notes()
        .issued()
        .filter(client=client)
        .select_related("credited_invoice")
        .order_by("-issue_date", "-pk")[:rows]
    )
    behaviour = client_payment_behaviour(on=on, clients=[client.pk])[client.pk]
    return ClientStatement(
        on=on,
        balance_due=quantize(totals["due"] or ZERO),
        overdue=quantize(totals["overdue"] or ZERO),
        open_invoices=listed,
        open_count=totals["count"],
        payments=payments[:rows],
        more_payments=len(payments) > rows,
        credit_notes=credit_notes,
        behaviour=behaviour,
        invoiced_ttc=quantize(invoiced["total"] or ZERO),
    )


# --- the seeds' indicators (first page) -----------------------------------------------------------------
# Each reads a window of days ending on ``on`` (included) and aggregates in one query; days are whole
# calendar days between business dates, averaged in Decimal from an integer sum and a count.


@dataclass(frozen=True)
class AverageDelay:
    """An average number of days over a sample of invoices, and what the sample left out."""

    start: dt.date  # the window, both ends included
    end: dt.date
    days: Decimal | None  # one decimal; None when the sample is empty
    count: int  # invoices averaged
    excluded: int = 0  # invoices of the window left out (issue delay: no service period)


def _window(on: dt.date, window_days: int) -> tuple[dt.date, dt.date]:
    if window_days < 1:
        raise ValueError(f"window_days={window_days}: a window is at least one day")
    return on - dt.timedelta(days=window_days - 1), on


def _average(total_days, count: int) -> Decimal | None:
    return quantize(Decimal(total_days or 0) / count, TENTH) if count else None


def issue_delay(*, on: dt.date, window_days: int) -> AverageDelay:
    """Days from the end of the service period to the issue date, on average, over the invoices issued in
    the window (credit notes aside; cancelled ones count, they were issued).

    An invoice issued before its period ends (a flat fee billed in advance) was not late: 0 days. An invoice
    without a service period (``period_end`` empty: a one-off typed by hand) has no end of service to measure
    from: it is left out of the average and counted in ``excluded``.
    """
    start, end = _window(on, window_days)
    with_period = Q(period_end__isnull=False)
    agg = (
        Invoice.objects.invoices()
        .issued()
        .filter(issue_date__gte=start, issue_date__lte=end)
        .aggregate(
            count=Count("pk", filter=with_period),
            days=Sum(Greatest(DaysBetween("issue_date", "period_end"), 0), filter=with_period),
            without=Count("pk", filter=~with_period),
        )
    )
    return AverageDelay(start, end, _average(agg["days"], agg["count"]), agg["count"], agg["without"])


def payment_delay(*, on: dt.date, window_days: int) -> AverageDelay:
    """Days from the issue date to the day the invoice was paid in full, on average, over the invoices paid
    in the window (``paid_date`` in it). Money received before the issue date counts as 0 days. Invoices not
    paid yet are not in this figure: the DSO and the recovery rate see them."""
    start, end = _window(on, window_days)
    agg = (
        Invoice.objects.invoices()
        .filter(status=Status.PAID, paid_date__gte=start, paid_date__lte=end, issue_date__isnull=False)
        .aggregate(count=Count("pk"), days=Sum(Greatest(DaysBetween("paid_date", "issue_date"), 0)))
    )
    return AverageDelay(start, end, _average(agg["days"], agg["count"]), agg["count"])


@dataclass(frozen=True)
class RecoveryRate:
    """The share of what fell due in the window that was collected."""

    start: dt.date  # due dates from ``start`` to ``end`` included
    end: dt.date
    invoiced: Decimal  # TTC fallen due, credit notes deducted
    collected: Decimal  # paid on those invoices
    rate: Decimal | None  # percent, one decimal; None when nothing fell due

    @property
    def outstanding(self) -> Decimal:
        return self.invoiced - self.collected


def recovery_rate(*, on: dt.date, window_days: int) -> RecoveryRate:
    """Collected / invoiced over the invoices whose due date falls in the ``window_days`` days before
    ``on`` (``on`` excluded: what falls due today may still be paid today).

    The window is read on due dates, not issue dates, so that what is not payable yet never counts as not
    collected. Invoiced: TTC of the issued invoices falling due in the window, minus the credit notes issued
    against them; a cancelled invoice (wholly credited) is out on both sides. Collected: what was paid on
    them (``amount_paid``, whenever it came). Two queries.
    """
    start, end = _window(on - dt.timedelta(days=1), window_days)
    counted = FROZEN_STATUSES - {Status.CANCELLED}
    fallen_due = Invoice.objects.filter(
        kind=Kind.INVOICE, status__in=counted, due_date__gte=start, due_date__lte=end
    )
    agg = fallen_due.aggregate(
        invoiced=Sum("total_ttc"), collected=Sum("amount_paid"), first_issue=Min("issue_date")
    )
    # Apart: one OR over both sides would read every invoice. A credit note is issued on or after the
    # invoice it corrects: the issue date index finds them without reading the older books.
    agg |= Invoice.objects.filter(
        kind=Kind.CREDIT_NOTE,
        status__in=FROZEN_STATUSES,
        issue_date__gte=agg["first_issue"] or on,
        credited_invoice__in=fallen_due.values("pk"),
    ).aggregate(credited=Sum("total_ttc"))
    invoiced = quantize((agg["invoiced"] or ZERO) - (agg["credited"] or ZERO))
    collected = quantize(agg["collected"] or ZERO)
    rate = quantize(min(collected, invoiced) * 100 / invoiced, TENTH) if invoiced > 0 else None
    return RecoveryRate(start, end, invoiced, collected, rate)


@dataclass(frozen=True)
class AutomationShare:
    """Invoices issued in the window by a validation rule's automatic approval, against those a person
    approved."""

    start: dt.date
    end: dt.date
    automatic: int
    by_person: int
    share: Decimal | None  # percent of automatic, one decimal; None when nothing was issued

    @property
    def total(self) -> int:
        return self.automatic + self.by_person


def automation_share(*, on: dt.date, window_days: int) -> AutomationShare:
    """Of the invoices issued in the window (credit notes aside, imported history aside: it was issued
    before this machine), the share whose history holds an ``auto_approved`` event: approved and issued
    by a rule, without a person. One query."""
    start, end = _window(on, window_days)
    by_rule = InvoiceEvent.objects.filter(invoice=OuterRef("pk"), kind=EventKind.AUTO_APPROVED)
    agg = (
        Invoice.objects.invoices()
        .issued()
        .exclude(origin=Origin.IMPORTED)
        .filter(issue_date__gte=start, issue_date__lte=end)
        .annotate(by_rule=Exists(by_rule))
        .aggregate(total=Count("pk"), automatic=Count("pk", filter=Q(by_rule=True)))
    )
    total, automatic = agg["total"], agg["automatic"]
    share = quantize(Decimal(automatic) * 100 / total, TENTH) if total else None
    return AutomationShare(start, end, automatic, total - automatic, share)


def contracts_not_billed(*, on: dt.date):
    """Active contracts with a period that should have been billed before ``on`` and has no invoice.

    The recurring run bills a contract on its next billing date and moves that date one period on in the
    same transaction; a contract whose next billing date has passed (and that has not ended by then) was
    therefore not billed, unless an invoice covering that date exists (made by hand, or by a run that died
    before moving the date). Today's billing date is not late: the daily cycle has today to do it.
    """
    covered = Invoice.objects.filter(
        contract=OuterRef("pk"),
        period_start__lte=OuterRef("next_billing_date"),
        period_end__gte=OuterRef("next_billing_date"),
    )
    return Contract.objects.due(on - dt.timedelta(days=1)).filter(~Exists(covered))
