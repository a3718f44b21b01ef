"""Reads that need the bank: the cash-flow forecast and the overdue alerts raised.

Reads that need only invoices (overdue state, receivables, DSO, payment behaviour) are in
``invoicing/selectors.py``.

Cash-flow forecast: today's bank balance plus what clients are expected to pay, day by day.

Rules (what the numbers mean):

* Opening balance: the sum of the balances of the active bank accounts, as the Qonto sync last stored
  them; for a forecast dated in the past, each account's latest daily snapshot on or before that date.
* Day 1 is the forecast date itself (a receipt expected today has not arrived yet), the last day is
  ``on + days - 1``.
* Open invoices: their balance due (TTC - already paid) is expected on due date + the client's habit
  (average days late, rounded to whole days, see
  :func:`invoicing.selectors.client_payment_behaviour`).
* An open invoice whose expected date is already past is NOT spread over the days: it is listed apart
  as "overdue, date unknown" (``Forecast.overdue``). Counting a 90-day-late invoice as cash tomorrow
  would make the forecast optimistic exactly when cash is tight.
* Recurring invoices not yet issued: for each active contract, every billing date from
  ``next_billing_date`` stepping by its period (calendar months, clamped to month ends) inside the
  horizon and not after the contract's end; a billing date already past (the run is late) is taken
  as issued on day 1. Amount TTC = quantize(amount_ht x (1 + vat_rate / 100)); expected on billing
  date + the client's payment terms + the client's habit.
* Only receipts are forecast: outgoing payments are not known to the billing system.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DateField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django_q.models import Success

from banking.clients.qonto import QontoConfigError, client_from_settings
from banking.models import BalanceSnapshot, BankAccount, BankTransaction, MatchStatus, OverdueAlert
from invoicing.models import Contract, Invoice
from invoicing.models.contract import PERIOD_MONTHS
from invoicing.models.invoice import OPEN_STATUSES, Kind
from invoicing.selectors import (
    DaysBetween,
    PaymentBehaviour,
    client_payment_habits,
    client_payment_terms,
    default_payment_terms,
)
from syaga.core.dates import add_months, today
from syaga.core.money import ZERO, quantize


@dataclass(frozen=True)
class ForecastDay:
    date: dt.date
    from_invoices: Decimal
    from_recurring: Decimal
    balance: Decimal

    @property
    def receipts(self) -> Decimal:
        return self.from_invoices + self.from_recurring


@dataclass(frozen=True)
class OverdueReceipt:
    """An open invoice whose expected payment date is already past: cash of unknown date."""

    invoice_id: int
    number: str
    client: str
    due_date: dt.date
    expected_date: dt.date
    days_late: int
    balance_due: Decimal


@dataclass(frozen=True)
class Forecast:
    as_of: dt.date
    opening_balance: Decimal
    days: list[ForecastDay]
    # Listed one by one only when asked for (``detail``); the total and the count always.
    overdue: list[OverdueReceipt] = field(default_factory=list)
    overdue_total: Decimal = ZERO
    overdue_count: int = 0

    @property
    def total_expected(self) -> Decimal:
        return sum((day.receipts for day in self.days), ZERO)

    def total_for(self, days: int) -> Decimal:
        """Receipts expected over the first ``days`` days."""
        return sum((day.receipts for day in self.days[:days]), ZERO)

    def balance_after(self, days: int) -> Decimal:
        """The running balance at the end of day ``days`` (the opening balance for 0 days)."""
        return self.days[days - 1].balance if days else self.opening_balance

    def as_json(self) -> dict:
        """The command's ``--json`` shape; amounts are strings with two decimals, never floats."""
        return {
            "as_of": self.as_of.isoformat(),
            "opening_balance": str(self.opening_balance),
            "days": [
                {
                    "date": day.date.isoformat(),
                    "receipts": str(day.receipts),
                    "from_invoices": str(day.from_invoices),
                    "from_recurring": str(day.from_recurring),
                    "balance": str(day.balance),
                }
                for day in self.days
            ],
            "total_expected": str(self.total_expected),
            "overdue": {
                "total": str(self.overdue_total),
                "invoices": [
                    {
                        "invoice": item.number,
                        "client": item.client,
                        "due_date": item.due_date.isoformat(),
                        "expected_date": item.expected_date.isoformat(),
                        "days_late": item.days_late,
                        "balance_due": str(item.balance_due),
                    }
                    for item in self.overdue
                ],
            },
        }


def opening_balance(*, on: dt.date) -> Decimal:
    """The cash on hand on ``on``, summed over the active accounts.

    Today (or later): each account's balance as the Qonto sync last stored it. For a past date: each
    account's latest daily snapshot on or before that date, its stored balance when it has none.
    """
    accounts = BankAccount.objects.filter(status="active")
    if on >= today():
        return quantize(accounts.aggregate(total=Sum("balance"))["total"] or ZERO)
    latest = BalanceSnapshot.objects.filter(account=OuterRef("pk"), date__lte=on).order_by("-date")
    rows = accounts.annotate(snapshot=Subquery(latest.values("balance")[:1])).values_list(
        "balance", "snapshot"
    )
    return quantize(sum((balance if snapshot is None else snapshot for balance, snapshot in rows), ZERO))


def contract_billing_dates(contract: Contract, *, until: dt.date) -> list[dt.date]:
    """The contract's coming billing dates up to ``until`` (included), not after its end date."""
    months = PERIOD_MONTHS[contract.period]
    dates, step = [], 0
    while True:
        day = add_months(contract.next_billing_date, months * step)
        if day > until or (contract.end_date and day > contract.end_date):
            return dates
        dates.append(day)
        step += 1


def recurring_amount_ttc(contract: Contract) -> Decimal:
    return quantize(contract.amount_ht * (1 + contract.vat_rate / Decimal(100)))


def _habit_days(habits: dict[int, int]):
    """Each client's habit (days late when it pays) as a SQL expression over ``client_id``.

    Clients are grouped by their habit, so the expression has one branch per distinct number of days (a few
    dozen at most), not one per client; a client without a habit pays on its due date (0).
    """
    by_days: dict[int, list[int]] = defaultdict(list)
    for client_id, days in habits.items():
        if days:
            by_days[days].append(client_id)
    if not by_days:
        return Value(0, output_field=IntegerField())
    return Case(
        *[When(client_id__in=sorted(ids), then=Value(days)) for days, ids in sorted(by_days.items())],
        default=Value(0),
        output_field=IntegerField(),
    )


def _open_receipts(*, on: dt.date, days: int, habits: dict[int, int]):
    """Open invoices with a balance, annotated with ``offset``: the day their payment is expected, counted
    from ``on`` (negative: already past), i.e. (due date or issue date) - on + the client's habit."""
    due = Coalesce("due_date", "issue_date", Value(on, output_field=DateField()))
    offset = ExpressionWrapper(DaysBetween(due, on) + _habit_days(habits), output_field=IntegerField())
    return (
        Invoice.objects.open()
        .filter(total_ttc__gt=F("amount_paid"))
        .alias(offset=offset)
        .filter(offset__lt=days)
        .annotate(balance_due=F("total_ttc") - F("amount_paid"))
    )


def cashflow_forecast(
    *, on: dt.date, days: int, detail: bool = True, behaviour: dict[int, PaymentBehaviour] | None = None
) -> Forecast:
    """Day-by-day expected receipts and running balance over ``days`` days from ``on`` (see module doc).

    The open invoices are summed by the database, grouped by the day their payment is expected (one
    query, at most ``days`` + 1 rows whatever the number of invoices); the clients' habits come from one
    grouped query (:func:`invoicing.selectors.client_payment_habits`, or ``behaviour``, the clients'
    :func:`~invoicing.selectors.client_payment_behaviour` on ``on`` when the caller has it already).
    ``detail`` also lists the overdue invoices one by one (the ``cashflow`` command); without it the
    forecast carries only their total and count (the dashboards).
    """
    if days < 1:
        raise ValueError(f"days : {days} n'est pas un nombre de jours positif")
    last = on + dt.timedelta(days=days - 1)
    if behaviour is None:
        habits = client_payment_habits(on=on)
    else:
        habits = {client_id: record.habit_days for client_id, record in behaviour.items()}
    receipts = _open_receipts(on=on, days=days, habits=habits)
    buckets = (
        receipts.annotate(bucket=Case(When(offset__lt=0, then=Value(-1)), default=F("offset")))
        .order_by()
        .values("bucket")
        .annotate(amount=Sum("balance_due"), count=Count("pk"))
    )
    from_invoices: dict[dt.date, Decimal] = {}
    overdue_total, overdue_count = ZERO, 0
    for row in buckets:
        if row["bucket"] < 0:
            overdue_total, overdue_count = quantize(row["amount"]), row["count"]
        else:
            from_invoices[on + dt.timedelta(days=row["bucket"])] = row["amount"]
    overdue = []
    if detail and overdue_count:
        rows = (
            receipts.filter(offset__lt=0)
            .annotate(expected=F("offset"))
            .order_by("due_date", "pk")
            .values_list("pk", "number", "client__name", "due_date", "issue_date", "expected", "balance_due")
        )
        for pk, number, client, due_date, issue_date, expected, balance in rows:
            due = due_date or issue_date or on
            overdue.append(
                OverdueReceipt(
                    invoice_id=pk,
                    number=number or "",
                    client=client,
                    due_date=due,
                    expected_date=on + dt.timedelta(days=expected),
                    days_late=(on - due).days,
                    balance_due=quantize(balance),
                )
            )
    contracts = list(Contract.objects.active().filter(next_billing_date__lte=last).select_related("client"))
    from_recurring: dict[dt.date, Decimal] = {}
    firm_terms = default_payment_terms()
    for contract in contracts:
        amount = recurring_amount_ttc(contract)
        terms = client_payment_terms(contract.client, default_days=firm_terms)
        habit = habits.get(contract.client_id, 0)
        for billing in contract_billing_dates(contract, until=last):
            expected = max(billing, on) + dt.timedelta(days=terms + habit)
            if expected <= last:
                from_recurring[expected] = from_recurring.get(expected, ZERO) + amount
    balance = opening = opening_balance(on=on)
    forecast_days = []
    for offset in range(days):
        day = on + dt.timedelta(days=offset)
        invoiced, recurring = quantize(from_invoices.get(day, ZERO)), quantize(from_recurring.get(day, ZERO))
        balance = quantize(balance + invoiced + recurring)
        forecast_days.append(
            ForecastDay(date=day, from_invoices=invoiced, from_recurring=recurring, balance=balance)
        )
    overdue.sort(key=lambda item: (item.due_date, item.invoice_id))
    return Forecast(
        as_of=on,
        opening_balance=opening,
        days=forecast_days,
        overdue=overdue,
        overdue_total=overdue_total,
        overdue_count=overdue_count,
    )


# ------------------------------------------------------------------------------------------ the bank


@dataclass(frozen=True)
class BankPosition:
    """The bank balance as the first page shows it, and how fresh it is.

    ``balance`` is None when no bank account was ever synchronised: the page says « non synchronisé »
    rather than a false 0,00 €. ``synced_at`` is the last time a sync succeeded (the sync task's last
    success, or the last time a sync wrote the accounts). ``configured`` says whether Qonto credentials are
    set: without them the balance shown is the last one stored and no longer moves.
    """

    configured: bool
    balance: Decimal | None
    synced_at: dt.datetime | None
    accounts: int


def qonto_configured() -> bool:
    """Whether the settings describe a way to reach Qonto (API key or OAuth); reads nothing over the wire."""
    try:
        client_from_settings()
    except QontoConfigError:
        return False
    return True


SYNC_TASK = "banking.tasks.qonto_sync_and_match"


def bank_position() -> BankPosition:
    configured = qonto_configured()
    accounts = BankAccount.objects.filter(status="active").aggregate(
        count=Count("pk"), balance=Sum("balance"), written=Max("updated_at")
    )
    if not accounts["count"]:
        return BankPosition(configured=configured, balance=None, synced_at=None, accounts=0)
    synced_at = accounts["written"]
    if configured:
        last_run = (
            Success.objects.filter(func=SYNC_TASK)
            .order_by("-stopped")
            .values_list("stopped", flat=True)
            .first()
        )
        if last_run is not None and (synced_at is None or last_run > synced_at):
            synced_at = last_run
    return BankPosition(
        configured=configured,
        balance=quantize(accounts["balance"] or ZERO),
        synced_at=synced_at,
        accounts=accounts["count"],
    )


@dataclass(frozen=True)
class CreditsWaiting:
    """Bank credits waiting for a person: suggestions to confirm, and credits the matcher did not place."""

    to_confirm: int
    to_confirm_amount: Decimal
    unrecognised: int
    unrecognised_amount: Decimal


def credits_waiting() -> CreditsWaiting:
    """One grouped query over the credits a person has to look at."""
    # « Non reconnu » waits for a person; « ne paie aucune facture » is a person's decision and does not.
    rows = {
        row["match_status"]: row
        for row in BankTransaction.objects.credits()
        .filter(match_status__in=[MatchStatus.SUGGESTED, MatchStatus.UNRECOGNISED])
        .order_by()
        .values("match_status")
        .annotate(count=Count("pk"), amount=Sum("amount"))
    }
    suggested, unmatched = rows.get(MatchStatus.SUGGESTED, {}), rows.get(MatchStatus.UNRECOGNISED, {})
    return CreditsWaiting(
        to_confirm=suggested.get("count", 0),
        to_confirm_amount=quantize(suggested.get("amount") or ZERO),
        unrecognised=unmatched.get("count", 0),
        unrecognised_amount=quantize(unmatched.get("amount") or ZERO),
    )


# ------------------------------------------------------------------------------------------ overdue alerts


def overdue_alerts_current():
    """Alerts whose invoice is still unpaid: what the back-office and the daily report list."""
    return OverdueAlert.objects.filter(
        invoice__kind=Kind.INVOICE, invoice__status__in=OPEN_STATUSES
    ).select_related("invoice", "invoice__client")


def overdue_alerts_raised_on(*, on: dt.date):
    """Alerts raised on one day (the daily report's "new today"), still unpaid ones only."""
    return overdue_alerts_current().filter(raised_on=on).order_by("-level", "invoice__due_date")
