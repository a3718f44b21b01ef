"""The seeds' indicators read from the invoices: issue delay, payment delay, recovery rate, share issued
automatically, contracts not billed. Each against figures computed by hand on a few invoices."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoicing.models.invoice import Origin, Status
from invoicing.selectors import (
    automation_share,
    contracts_not_billed,
    issue_delay,
    payment_delay,
    recovery_rate,
)
from invoicing.services import lifecycle
from invoicing.services.invoices import LineSpec, credit_note_create
from invoicing.services.recurring import contract_bill_period
from invoicing.services.review import invoice_approve
from syaga.core.dates import today
from tests.factories import ClientFactory, ContractFactory, UserFactory, make_invoice

pytestmark = pytest.mark.django_db

D = Decimal


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def issued(*, on: dt.date, amount: str = "100.00", due: dt.date | None = None, **kwargs):
    return make_invoice(
        amounts=[D(amount)], status=Status.ISSUED, issue_date=on, due_date=due or on + days(30), **kwargs
    )


def pay(invoice, amount: str, on: dt.date):
    lifecycle.invoice_record_payment(invoice=invoice, amount=D(amount), paid_on=on)


# --------------------------------------------------------------------------------------------- issue delay


def test_issue_delay_from_the_end_of_the_service_period(seller):
    t = today()
    # given: issued 3 days, then 1 day after the period ended; a flat fee billed in advance (not late: 0)
    issued(on=t - days(7), period_start=t - days(40), period_end=t - days(10))
    issued(on=t - days(4), period_start=t - days(35), period_end=t - days(5))
    issued(on=t - days(2), period_start=t - days(2), period_end=t + days(20))
    # a one-off without a period: left out, and counted as such
    issued(on=t - days(1))
    # before the window, and not issued yet: nowhere
    issued(on=t - days(40), period_start=t - days(80), period_end=t - days(50))
    make_invoice(status=Status.PENDING_REVIEW, period_start=t - days(60), period_end=t - days(30))
    # when
    delay = issue_delay(on=t, window_days=30)
    # then: (3 + 1 + 0) / 3
    assert delay.days == D("1.3")
    assert delay.count == 3
    assert delay.excluded == 1
    assert (delay.start, delay.end) == (t - days(29), t)


def test_issue_delay_of_nothing_is_none(seller):
    assert issue_delay(on=today(), window_days=30).days is None


# ------------------------------------------------------------------------------------------- payment delay


def test_payment_delay_from_issue_to_paid_over_the_invoices_paid_in_the_window(seller):
    t = today()
    # given: paid 30 days after issue, 5 days after issue, and one paid before the window
    pay(issued(on=t - days(40), amount="1000.00"), "1200.00", t - days(10))
    pay(issued(on=t - days(20), amount="500.00"), "600.00", t - days(15))
    pay(issued(on=t - days(100), amount="100.00"), "120.00", t - days(60))
    # half paid in the window: not paid yet, not in this figure
    pay(issued(on=t - days(25), amount="100.00"), "60.00", t - days(3))
    # when
    delay = payment_delay(on=t, window_days=30)
    # then: (30 + 5) / 2
    assert delay.days == D("17.5")
    assert delay.count == 2


# ------------------------------------------------------------------------------------------- recovery rate


def test_recovery_rate_over_what_fell_due_in_the_window(seller):
    t = today()
    # given: 1 200 TTC due 60 days ago, paid in full
    pay(issued(on=t - days(90), amount="1000.00", due=t - days(60)), "1200.00", t - days(50))
    # 600 TTC due 40 days ago, nothing paid
    issued(on=t - days(70), amount="500.00", due=t - days(40))
    # 2 400 TTC due 50 days ago, credited 600 TTC (a partial credit note), 1 200 paid: 1 800 owed
    partly = issued(on=t - days(80), amount="2000.00", due=t - days(50))
    credit_note_create(
        invoice=partly,
        reason="remise accordée",
        lines=[LineSpec(description="Remise", unit_price=D("500.00"), vat_rate=D("20.00"))],
    )
    pay(partly, "1200.00", t - days(45))
    # cancelled (wholly credited): out on both sides
    make_invoice(amounts=[D("300.00")], status=Status.CANCELLED, issue_date=t - days(75))
    # not due yet, due today, and due before the window: out
    issued(on=t - days(5), amount="200.00")
    issued(on=t - days(30), amount="200.00", due=t)
    issued(on=t - days(430), amount="200.00", due=t - days(400))
    # when
    recovery = recovery_rate(on=t, window_days=365)
    # then: collected 1 200 + 1 200 = 2 400 of 1 200 + 600 + 1 800 = 3 600
    assert recovery.invoiced == D("3600.00")
    assert recovery.collected == D("2400.00")
    assert recovery.rate == D("66.7")
    assert (recovery.start, recovery.end) == (t - days(365), t - days(1))


def test_recovery_rate_without_anything_due_is_none(seller):
    issued(on=today(), amount="100.00")
    assert recovery_rate(on=today(), window_days=365).rate is None


# ----------------------------------------------------------------------------------------- automation share


def test_share_issued_by_a_rule_against_by_a_person_imported_history_aside(seller):
    t = today()
    # given: two invoices approved by a rule (auto_approved in their history)
    issued(on=t - days(3))
    issued(on=t - days(1))
    # one approved by a person
    pending = make_invoice(status=Status.PENDING_REVIEW)
    invoice_approve(invoice=pending, user=UserFactory(username="boss", is_superuser=True))
    # a credit note (always a person's), imported history, and one issued before the window: out
    credit_note_create(invoice=issued(on=t - days(2)), reason="erreur")
    issued(on=t - days(2), origin=Origin.IMPORTED)
    issued(on=t - days(40))
    # when
    automation = automation_share(on=t, window_days=30)
    # then: the cancelled one counts (issued by a rule): 3 by a rule, 1 by a person
    assert (automation.automatic, automation.by_person) == (3, 1)
    assert automation.share == D("75.0")


# ----------------------------------------------------------------------------------- contracts not billed


def test_contracts_whose_past_billing_date_has_no_invoice(seller):
    t = today()
    # given: a contract whose billing date passed three days ago, unbilled
    late = ContractFactory(start_date=t - days(100), next_billing_date=t - days(3))
    # one due today (the daily cycle still has today), one later, one inactive, one ended before its date
    ContractFactory(start_date=t - days(100), next_billing_date=t)
    ContractFactory(start_date=t - days(100), next_billing_date=t + days(10))
    ContractFactory(start_date=t - days(100), next_billing_date=t - days(3), active=False)
    ContractFactory(start_date=t - days(100), end_date=t - days(5), next_billing_date=t - days(3))
    # one whose period was billed by hand without the date moving on: it has its invoice
    covered = ContractFactory(client=ClientFactory(), start_date=t - days(100), next_billing_date=t - days(3))
    contract_bill_period(contract=covered, period_start=covered.next_billing_date)
    # when
    with CaptureQueriesContext(connection) as queries:
        forgotten = list(contracts_not_billed(on=t))
    # then
    assert forgotten == [late]
    assert len(queries) == 1
