"""Small builders for banking tests: clients, issued invoices (as the history import stores them), credits."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from banking.models import BankTransaction
from invoicing.models import Client, Invoice
from invoicing.models.invoice import Status

PARIS = ZoneInfo("Europe/Paris")
_numbers = {"next": 500}


def client(name: str) -> Client:
    return Client.objects.create(name=name)


def issued(c: Client, ttc: str, issue: dt.date = dt.date(2025, 3, 3), number: str | None = None) -> Invoice:
    _numbers["next"] += 1
    ttc = Decimal(ttc)
    ht = (ttc / Decimal("1.2")).quantize(Decimal("0.01"))
    return Invoice.objects.create(
        number=number or f"F{issue.year}{_numbers['next']:04d}",
        series="F",
        client=c,
        status=Status.ISSUED,
        issue_date=issue,
        due_date=issue + dt.timedelta(days=30),
        total_ht=ht,
        total_vat=ttc - ht,
        total_ttc=ttc,
    )


def credit(amount: str, *, label: str = "", reference: str = "", iban: str = "", day=dt.date(2025, 4, 10)):
    n = BankTransaction.objects.count() + 1
    return BankTransaction.objects.create(
        qonto_id=f"q{n}",
        transaction_id=f"syaga-transaction-{n}",
        amount=Decimal(amount),
        side="credit",
        operation_type="income",
        status="completed",
        label=label,
        clean_counterparty_name=label,
        reference=reference,
        counterparty_iban=iban,
        settled_at=dt.datetime.combine(day, dt.time(9), tzinfo=PARIS),
        raw={"id": f"q{n}", "label": label, "amount": str(amount)},
    )
