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
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import OuterRef, Subquery, Sum

from banking.models import BalanceSnapshot, BankAccount, OverdueAlert
from invoicing.models import Contract, Invoice
from invoicing.models.contract import PERIOD_MONTHS
from invoicing.models.invoice import OPEN_STATUSES, Kind
from invoicing.selectors import client_payment_behaviour, client_payment_terms, default_payment_terms
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
    overdue: list[OverdueReceipt] = field(default_factory=list)

    @property
    def total_expected(self) -> Decimal:
        return sum((day.receipts for day in self.days), ZERO)

    @property
    def overdue_total(self) -> Decimal:
        return sum((item.balance_due for item in self.overdue), ZERO)

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


def cashflow_forecast(*, on: dt.date, days: int) -> Forecast:
    """Day-by-day expected receipts and running balance over ``days`` days from ``on`` (see module doc)."""
    if days < 1:
        raise ValueError(f"days: {days} is not a positive number of days")
    last = on + dt.timedelta(days=days - 1)
    invoices = list(
        Invoice.objects.open()
        .select_related("client")
        .only(
            "pk", "number", "client__name", "client_id", "due_date", "issue_date", "total_ttc", "amount_paid"
        )
    )
    contracts = list(Contract.objects.active().filter(next_billing_date__lte=last).select_related("client"))
    client_ids = {inv.client_id for inv in invoices} | {c.client_id for c in contracts}
    behaviour = client_payment_behaviour(on=on, clients=client_ids)
    from_invoices: dict[dt.date, Decimal] = {}
    from_recurring: dict[dt.date, Decimal] = {}
    overdue = []
    for invoice in invoices:
        due = invoice.due_date or invoice.issue_date or on
        expected = due + dt.timedelta(days=behaviour[invoice.client_id].habit_days)
        amount = invoice.total_ttc - invoice.amount_paid
        if amount <= 0:
            continue
        if expected < on:
            overdue.append(
                OverdueReceipt(
                    invoice_id=invoice.pk,
                    number=invoice.number or "",
                    client=invoice.client.name,
                    due_date=due,
                    expected_date=expected,
                    days_late=(on - due).days,
                    balance_due=quantize(amount),
                )
            )
        elif expected <= last:
            from_invoices[expected] = from_invoices.get(expected, ZERO) + amount
    firm_terms = default_payment_terms()
    for contract in contracts:
        amount = recurring_amount_ttc(contract)
        terms = client_payment_terms(contract.client, default_days=firm_terms)
        shift = terms + behaviour[contract.client_id].habit_days
        for billing in contract_billing_dates(contract, until=last):
            expected = max(billing, on) + dt.timedelta(days=shift)
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
    return Forecast(as_of=on, opening_balance=opening, days=forecast_days, overdue=overdue)


# ------------------------------------------------------------------------------------------ overdue alerts


def overdue_alerts_current():
    """Alerts whose invoice is still unpaid: what the back-office and the daily report list."""
    return OverdueAlert.objects.filter(
        invoice__kind=Kind.INVOICE, invoice__status__in=OPEN_STATUSES
    ).select_related("invoice", "invoice__client")


def overdue_alerts_raised_on(*, on: dt.date):
    """Alerts raised on one day (the daily report's "new today"), still unpaid ones only."""
    return overdue_alerts_current().filter(raised_on=on).order_by("-level", "invoice__due_date")
