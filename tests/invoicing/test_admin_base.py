"""Smoke tests of every invoicing ModelAdmin, and the read-only issued invoice."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from invoicing.models import Invoice
from invoicing.models.invoice import Status
from tests.factories import ClientFactory, ContractFactory, UserFactory, make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(username="boss", is_superuser=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ["sellerprofile", "client", "contract", "invoice", "invoicesequence"])
def test_changelist_search_and_add_pages_answer(admin_client, seller, model):
    ContractFactory()
    make_invoice(status=Status.ISSUED)
    url = reverse(f"admin:invoicing_{model}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "F2026"}).status_code == 200
    add = admin_client.get(reverse(f"admin:invoicing_{model}_add"))
    assert add.status_code in (200, 403)


def test_change_pages_answer(admin_client, seller):
    contract = ContractFactory()
    invoice = make_invoice(client=contract.client)
    for name, obj in [
        ("sellerprofile", seller),
        ("client", contract.client),
        ("contract", contract),
        ("invoice", invoice),
    ]:
        assert admin_client.get(reverse(f"admin:invoicing_{name}_change", args=[obj.pk])).status_code == 200


def test_issued_invoice_page_is_read_only(admin_client, seller):
    # given
    invoice = make_invoice(status=Status.ISSUED, amounts=[Decimal("800.00")], issue_date=dt.date(2025, 8, 1))
    url = reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    # when
    page = admin_client.get(url)
    response = admin_client.post(url, {"subject": "changé", "client": invoice.client.pk})
    # then
    assert 'name="subject"' not in page.content.decode()
    assert response.status_code in (200, 302, 403)
    invoice.refresh_from_db()
    assert invoice.subject != "changé"
    assert invoice.total_ht == Decimal("800.00")
    assert admin_client.get(reverse("admin:invoicing_invoice_delete", args=[invoice.pk])).status_code == 403


def test_draft_typed_in_the_admin_gets_its_totals(admin_client, seller):
    # given
    customer = ClientFactory()
    url = reverse("admin:invoicing_invoice_add")
    data = {
        "client": customer.pk,
        "subject": "Audit réseau",
        "issue_date": "2025-09-01",
        "due_date": "2025-10-01",
        "period_start": "",
        "period_end": "",
        "purchase_order": "",
        "notes": "",
        "lines-TOTAL_FORMS": "2",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-position": "1",
        "lines-0-description": "Audit",
        "lines-0-quantity": "3.5",
        "lines-0-unit": "hour",
        "lines-0-unit_price": "110",
        "lines-0-vat_rate": "20",
        "lines-1-position": "2",
        "lines-1-description": "Déplacement",
        "lines-1-quantity": "1",
        "lines-1-unit": "flat",
        "lines-1-unit_price": "45.50",
        "lines-1-vat_rate": "20",
    }
    # when
    response = admin_client.post(url, data)
    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    invoice = Invoice.objects.get(subject="Audit réseau")
    assert invoice.status == Status.DRAFT
    assert invoice.number is None
    assert (invoice.total_ht, invoice.total_vat, invoice.total_ttc) == (
        Decimal("430.50"),
        Decimal("86.10"),
        Decimal("516.60"),
    )


@pytest.mark.parametrize(
    ("url", "title"),
    [
        ("admin:invoicing_invoice_changelist", "Factures"),
        ("admin:invoicing_client_changelist", "Clients"),
        ("admin:ops_cyclerun_changelist", "Exécutions de cycles"),
    ],
)
def test_a_list_is_titled_by_what_it_holds(admin_client, seller, url, title):
    page = admin_client.get(reverse(url)).content.decode()
    assert f"<h1>{title}</h1>" in page
    assert f"<title>{title} |" in page
    assert "Sélectionnez" not in page
