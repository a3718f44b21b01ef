import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from invoicing.models import Invoice, InvoiceLine
from invoicing.models.invoice import InvoiceImmutableError, Status
from invoicing.services.invoices import compute_totals
from invoicing.services.lifecycle import invoice_record_payment
from tests.factories import ClientFactory, make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(seller):
    return make_invoice(status=Status.ISSUED, amounts=[Decimal("1000.00")], issue_date=dt.date(2025, 8, 1))


def test_issued_invoice_amounts_cannot_change_through_save(issued):
    issued.total_ht = Decimal("1.00")
    with pytest.raises(InvoiceImmutableError, match="total_ht"):
        issued.save()
    assert Invoice.objects.get(pk=issued.pk).total_ht == Decimal("1000.00")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("client_id", None),
        ("issue_date", dt.date(2020, 1, 1)),
        ("number", "F20259999"),
        ("subject", "x"),
    ],
)
def test_issued_invoice_identity_cannot_change(issued, field, value):
    if field == "client_id":
        value = ClientFactory().pk
    setattr(issued, field, value)
    with pytest.raises(InvoiceImmutableError):
        issued.save()


def test_issued_invoice_cannot_change_through_queryset_update(issued):
    with pytest.raises(InvoiceImmutableError):
        Invoice.objects.filter(pk=issued.pk).update(total_ttc=Decimal("0"))
    with pytest.raises(InvoiceImmutableError):
        Invoice.objects.filter(pk=issued.pk).update(status=Status.DRAFT)


def test_issued_invoice_cannot_be_deleted(issued):
    with pytest.raises(InvoiceImmutableError):
        issued.delete()
    with pytest.raises(InvoiceImmutableError):
        Invoice.objects.filter(pk=issued.pk).delete()
    assert Invoice.objects.filter(pk=issued.pk).exists()


def test_issued_invoice_lines_are_frozen(issued):
    line = issued.lines.get()
    line.unit_price = Decimal("1")
    with pytest.raises(InvoiceImmutableError):
        line.save()
    with pytest.raises(InvoiceImmutableError):
        line.delete()
    with pytest.raises(InvoiceImmutableError):
        InvoiceLine.objects.create(invoice=issued, description="extra", unit_price=Decimal("5"))
    with pytest.raises(InvoiceImmutableError):
        issued.lines.update(unit_price=Decimal("2"))


def test_payment_state_of_an_issued_invoice_may_still_move(issued):
    invoice_record_payment(invoice=issued, amount=Decimal("1200.00"), paid_on=dt.date(2025, 9, 1))
    assert Invoice.objects.get(pk=issued.pk).status == Status.PAID


def test_drafts_stay_editable(seller):
    draft = make_invoice()
    draft.subject = "Nouvel objet"
    draft.save()
    draft.lines.update(description="modifiée")
    assert Invoice.objects.get(pk=draft.pk).subject == "Nouvel objet"


def test_vat_is_computed_per_rate_on_the_sum_of_lines_half_up():
    # given: three lines at 20 % whose VAT, rounded line by line, would differ from VAT on the sum
    lines = [InvoiceLine(total_ht=Decimal("0.03"), vat_rate=Decimal("20")) for _ in range(3)]
    lines.append(InvoiceLine(total_ht=Decimal("10.05"), vat_rate=Decimal("5.5")))
    # when
    ht, vat, ttc, breakdown = compute_totals(lines)
    # then: 0.09 * 20 % = 0.018 -> 0.02; 10.05 * 5.5 % = 0.55275 -> 0.55
    assert (ht, vat, ttc) == (Decimal("10.14"), Decimal("0.57"), Decimal("10.71"))
    assert breakdown == [
        {"rate": "5.50", "base_ht": "10.05", "vat": "0.55"},
        {"rate": "20.00", "base_ht": "0.09", "vat": "0.02"},
    ]


# --- the paths the hostile review used --------------------------------------------------------------


def test_lines_cannot_be_bulk_created_on_an_issued_invoice(issued):
    with pytest.raises(InvoiceImmutableError):
        InvoiceLine.objects.bulk_create(
            [InvoiceLine(invoice=issued, description="extra", unit_price=Decimal("5"))]
        )
    assert issued.lines.count() == 1


def test_the_base_manager_is_guarded_too(issued):
    with pytest.raises(InvoiceImmutableError):
        Invoice._base_manager.filter(pk=issued.pk).update(total_ttc=Decimal("1.00"))
    assert Invoice.objects.get(pk=issued.pk).total_ttc == Decimal("1200.00")


def _raw(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("UPDATE invoicing_invoice SET total_ttc = 1 WHERE id = %s", "a total"),
        ("UPDATE invoicing_invoice SET number = 'F20259999' WHERE id = %s", "the number"),
        ("UPDATE invoicing_invoice SET buyer_snapshot = '{}' WHERE id = %s", "the buyer"),
        ("UPDATE invoicing_invoice SET status = 'draft' WHERE id = %s", "a move back to draft"),
        ("DELETE FROM invoicing_invoice WHERE id = %s", "a deletion"),
        ("UPDATE invoicing_invoiceline SET unit_price = 1 WHERE invoice_id = %s", "a line"),
        ("DELETE FROM invoicing_invoiceline WHERE invoice_id = %s", "a line deleted"),
        (
            "INSERT INTO invoicing_invoiceline (invoice_id, position, description, quantity, unit, "
            "unit_price, vat_rate, total_ht) VALUES (%s, 9, 'extra', 1, 'flat', 5, 20, 5)",
            "a line added",
        ),
    ],
)
def test_postgresql_refuses_raw_sql_on_an_issued_invoice(issued, sql, what):
    # when: a write that bypasses Django entirely
    with pytest.raises(IntegrityError, match="émise"), transaction.atomic():
        _raw(sql, [issued.pk])
    # then: nothing moved
    stored = Invoice.objects.get(pk=issued.pk)
    assert (stored.status, stored.total_ttc, stored.number) == (
        Status.ISSUED,
        Decimal("1200.00"),
        issued.number,
    )
    assert stored.lines.count() == 1


@pytest.mark.postgres
def test_postgresql_still_lets_the_payment_state_move(issued):
    _raw(
        "UPDATE invoicing_invoice SET amount_paid = 100, status = 'partially_paid' WHERE id = %s", [issued.pk]
    )
    assert Invoice.objects.get(pk=issued.pk).status == Status.PARTIALLY_PAID


@pytest.mark.postgres
def test_postgresql_lets_drafts_change_freely(seller):
    draft = make_invoice()
    _raw("UPDATE invoicing_invoiceline SET unit_price = 7 WHERE invoice_id = %s", [draft.pk])
    _raw("UPDATE invoicing_invoice SET subject = 'libre' WHERE id = %s", [draft.pk])
    assert Invoice.objects.get(pk=draft.pk).subject == "libre"
