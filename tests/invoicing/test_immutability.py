import datetime as dt
from decimal import Decimal

import pytest

from invoicing.models import Invoice, InvoiceLine
from invoicing.models.invoice import InvoiceImmutableError, Status
from invoicing.services.invoices import compute_totals
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
    issued.amount_paid = Decimal("1200.00")
    issued.status = Status.PAID
    issued.save()
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
