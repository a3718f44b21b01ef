"""Reads behind the first page, the invoice page and the client page, against hand-computed values."""

import datetime as dt
from decimal import Decimal

import pytest

from invoicing.models import Invoice
from invoicing.models.invoice import Status
from invoicing.selectors import (
    client_payment_behaviour,
    client_payment_habits,
    client_statement,
    invoice_list_totals,
    invoice_payments,
    revenue_by_month,
    review_queue_summary,
)
from invoicing.services.invoices import LineSpec, credit_note_create
from invoicing.services.lifecycle import Payment, invoice_record_payment, invoices_reverse_payments
from syaga.core.dates import add_months, today
from tests.factories import ClientFactory, UserFactory, make_invoice

pytestmark = pytest.mark.django_db


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def test_review_queue_summary_counts_pending_invoices_only(seller):
    make_invoice(amounts=[Decimal("100.00")], status=Status.PENDING_REVIEW)
    make_invoice(amounts=[Decimal("250.50"), Decimal("49.50")], status=Status.PENDING_REVIEW)
    make_invoice(amounts=[Decimal("999.00")])  # draft
    make_invoice(amounts=[Decimal("999.00")], status=Status.ISSUED)
    summary = review_queue_summary()
    assert (summary.count, summary.total_ht, summary.total_ttc) == (2, Decimal("400.00"), Decimal("480.00"))


def test_revenue_by_month_nets_credit_notes_in_their_own_month(seller):
    # given: on the 15th of a month, invoices this month, last month, 3 months ago and 30 months ago
    on = today().replace(day=15)
    this, last = on.replace(day=2), add_months(on, -1).replace(day=10)
    make_invoice(amounts=[Decimal("1000.00")], status=Status.ISSUED, issue_date=this)
    cancelled = make_invoice(amounts=[Decimal("400.00")], status=Status.SENT, issue_date=last)
    make_invoice(amounts=[Decimal("250.00")], status=Status.PAID, issue_date=add_months(on, -3))
    make_invoice(amounts=[Decimal("77.00")], status=Status.ISSUED, issue_date=add_months(on, -30))
    make_invoice(amounts=[Decimal("5000.00")], status=Status.PENDING_REVIEW, issue_date=this)  # not revenue
    credit_note_create(invoice=cancelled, reason="erreur", lines=[LineSpec("remise", Decimal("100.00"))])
    # when
    months = revenue_by_month(on=on, months=24)
    # then: 24 months, oldest first; the credit note (issued today) is deducted in this month
    assert len(months) == 24
    assert months[0].month == add_months(on.replace(day=1), -23)
    assert months[-1].month == on.replace(day=1)
    by_month = {m.month: m.net_ht for m in months}
    assert by_month[on.replace(day=1)] == Decimal("900.00")
    assert by_month[last.replace(day=1)] == Decimal("400.00")
    assert by_month[add_months(on, -3).replace(day=1)] == Decimal("250.00")
    assert sum(by_month.values()) == Decimal("1550.00")


def test_habits_are_the_behaviours_habit_from_a_lighter_query(seller):
    # given: a client paying 3, 4 and 4 days late (average 3.7 → 4 days) and one paying early
    t = today()
    slow, early = ClientFactory(name="Lent SAS"), ClientFactory(name="Tôt SAS")
    for late_by, client in [(3, slow), (4, slow), (4, slow), (-5, early)]:
        invoice = make_invoice(client=client, status=Status.ISSUED, issue_date=t - days(100))
        invoice_record_payment(
            invoice=invoice, amount=invoice.total_ttc, paid_on=invoice.due_date + days(late_by)
        )
    # when
    habits = client_payment_habits(on=t)
    behaviour = client_payment_behaviour(on=t)
    # then
    assert habits == {slow.pk: 4, early.pk: 0}
    assert habits == {pk: b.habit_days for pk, b in behaviour.items()}


def test_invoice_payments_come_from_its_history_with_the_bank_line(seller):
    # given: two payments, then one taken back
    invoice = make_invoice(amounts=[Decimal("1000.00")], status=Status.SENT)
    invoice_record_payment(
        invoice=invoice,
        amount=Decimal("400.00"),
        paid_on=today() - days(3),
        reason="virement TX-1, rapprochement",
    )
    invoice_record_payment(invoice=invoice, amount=Decimal("234.56"), paid_on=today() - days(1))
    invoices_reverse_payments(
        payments=[Payment(invoice_id=invoice.pk, amount=Decimal("234.56"), paid_on=today())],
        actor=UserFactory(),
        reason="mauvaise facture",
    )
    # when
    lines = invoice_payments(invoice)
    # then
    assert [(line.date, line.amount, line.detail, line.reversed) for line in lines] == [
        (today() - days(3), Decimal("400.00"), "virement TX-1, rapprochement", False),
        (today() - days(1), Decimal("234.56"), "", False),
        (today(), Decimal("-234.56"), "mauvaise facture", True),
    ]
    invoice.refresh_from_db()
    assert invoice.balance_due == Decimal("800.00")


def test_client_statement(seller):
    # given
    t = today()
    client = ClientFactory(name="Compte SA")
    overdue = make_invoice(
        client=client, amounts=[Decimal("500.00")], status=Status.SENT, issue_date=t - days(45)
    )
    part = make_invoice(
        client=client, amounts=[Decimal("1000.00")], status=Status.ISSUED, issue_date=t - days(5)
    )
    invoice_record_payment(invoice=part, amount=Decimal("200.00"), paid_on=t, reason="chèque 123")
    paid = make_invoice(
        client=client, amounts=[Decimal("100.00")], status=Status.PAID, issue_date=t - days(90)
    )
    note = credit_note_create(invoice=paid, reason="geste", lines=[LineSpec("remise", Decimal("10.00"))])
    make_invoice(amounts=[Decimal("9999.00")], status=Status.ISSUED)  # another client's
    # when
    statement = client_statement(client=client, on=t)
    # then: 600 (overdue) + 1 200 - 200 = 1 600 due
    assert statement.balance_due == Decimal("1600.00")
    assert statement.overdue == Decimal("600.00")
    assert [i.pk for i in statement.open_invoices] == [overdue.pk, part.pk]
    assert [i.amount_due for i in statement.open_invoices] == [Decimal("600.00"), Decimal("1000.00")]
    assert [(p.invoice, p.amount, p.detail) for p in statement.payments] == [
        (paid.number, Decimal("120.00"), ""),  # the latest first
        (part.number, Decimal("200.00"), "chèque 123"),
    ]
    assert statement.credit_notes == [note]
    assert statement.behaviour.open_overdue == 1
    assert statement.invoiced_ttc == Decimal("1920.00")


def test_list_totals_deduct_credit_notes_and_sum_what_is_due(seller):
    a = make_invoice(amounts=[Decimal("1000.00")], status=Status.SENT)
    invoice_record_payment(invoice=a, amount=Decimal("300.00"), paid_on=today())
    make_invoice(amounts=[Decimal("500.00")], status=Status.PAID)
    credit_note_create(invoice=a, reason="remise", lines=[LineSpec("remise", Decimal("100.00"))])
    totals = invoice_list_totals(Invoice.objects.all())
    assert totals.count == 3
    assert totals.total_ht == Decimal("1400.00")
    assert totals.total_ttc == Decimal("1680.00")
    assert totals.balance_due == Decimal("900.00")


def test_a_pending_invoice_is_not_called_a_draft(seller):
    pending = make_invoice(status=Status.PENDING_REVIEW)
    draft = make_invoice()
    assert str(pending) == f"Facture à valider #{pending.pk}"
    assert str(draft) == f"Facture brouillon #{draft.pk}"
