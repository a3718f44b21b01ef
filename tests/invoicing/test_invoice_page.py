"""The invoice page's buttons (what the lifecycle allows, through the services), its payments, the client
page, the list in French with « reste dû » and totals, and its CSV export for French Excel."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.template.loader import render_to_string
from django.urls import reverse

from invoicing.models import Invoice
from invoicing.models.invoice import Kind, Status
from invoicing.services.lifecycle import invoice_record_payment
from syaga.core.dates import today
from tests.factories import ClientFactory, UserFactory, make_invoice

pytestmark = pytest.mark.django_db

EUR = "\u00a0€"
NNBSP = "\u202f"


def url(name, invoice):
    return reverse(f"admin:invoicing_invoice_{name}", args=[invoice.pk])


def page(client, invoice) -> str:
    return client.get(url("change", invoice)).content.decode()


def buttons(html: str) -> list[str]:
    return re.findall(r'id="action-([a-z-]+)"', html)


@pytest.fixture
def approver(client, seller):
    user = UserFactory(username="valideur", is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def clerk(client, seller):
    user = UserFactory(username="saisie", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_invoice", "change_invoice", "add_invoice", "view_client"]
        )
    )
    client.force_login(user)
    return client


def test_buttons_follow_the_state(approver):
    draft = make_invoice()
    pending = make_invoice(status=Status.PENDING_REVIEW)
    rejected = make_invoice(status=Status.REJECTED)
    issued = make_invoice(status=Status.ISSUED)
    paid = make_invoice(status=Status.PAID)
    cancelled = make_invoice(status=Status.CANCELLED)
    assert buttons(page(approver, draft)) == ["submit"]
    assert buttons(page(approver, pending)) == ["approve", "reject", "send-back"]
    assert buttons(page(approver, rejected)) == ["submit", "send-back"]
    assert buttons(page(approver, issued)) == ["credit-note"]
    assert buttons(page(approver, paid)) == ["credit-note"]
    assert buttons(page(approver, cancelled)) == []


def test_without_the_approve_permission_only_submit(clerk):
    pending = make_invoice(status=Status.PENDING_REVIEW)
    issued = make_invoice(status=Status.ISSUED)
    assert buttons(page(clerk, make_invoice())) == ["submit"]
    assert buttons(page(clerk, pending)) == []
    assert buttons(page(clerk, issued)) == []
    # a forged POST changes nothing
    clerk.post(url("approve", pending), {"post": "yes"})
    clerk.post(url("credit_note", issued), {"post": "yes", "mode": "whole", "reason": "x"})
    pending.refresh_from_db()
    assert pending.status == Status.PENDING_REVIEW
    assert not Invoice.objects.filter(kind=Kind.CREDIT_NOTE).exists()


def test_create_submit_approve_from_the_invoice_page(approver):
    # given: a new invoice typed by hand, without a due date, for a client paying at 45 days
    client = ClientFactory(name="Nouveau SAS", payment_terms_days=45)
    issue = today()
    response = approver.post(
        reverse("admin:invoicing_invoice_add"),
        {
            "client": client.pk,
            "subject": "Audit",
            "issue_date": issue.strftime("%d/%m/%Y"),
            "due_date": "",
            "purchase_order": "",
            "notes": "",
            "period_start": "",
            "period_end": "",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-MIN_NUM_FORMS": "1",
            "lines-MAX_NUM_FORMS": "1000",
            "lines-0-position": "1",
            "lines-0-description": "Audit de sécurité",
            "lines-0-quantity": "2",
            "lines-0-unit": "day",
            "lines-0-unit_price": "850",
            "lines-0-vat_rate": "20",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    invoice = Invoice.objects.get(client=client)
    # then: the due date follows the client's terms
    assert invoice.due_date == issue + dt.timedelta(days=45)
    assert invoice.total_ttc == Decimal("2040.00")
    # when: submitted from its page (the first invoice of this client: the rules hold it for review)
    approver.post(url("submit", invoice))
    invoice.refresh_from_db()
    assert invoice.status == Status.PENDING_REVIEW
    # when: approve shows the confirmation first, then issues
    confirmation = approver.get(url("approve", invoice)).content.decode()
    assert "numéro définitif" in confirmation
    assert f"2{NNBSP}040,00{EUR}" in confirmation
    invoice.refresh_from_db()
    assert invoice.status == Status.PENDING_REVIEW  # nothing yet
    response = approver.post(url("approve", invoice), {"post": "yes"}, follow=True)
    invoice.refresh_from_db()
    assert invoice.status == Status.ISSUED
    assert invoice.number in response.content.decode()


def test_reject_needs_a_reason_and_send_back(approver):
    pending = make_invoice(status=Status.PENDING_REVIEW)
    response = approver.post(url("reject", pending), {"post": "yes", "reason": "  "})
    assert "Indiquez le motif" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Status.PENDING_REVIEW
    approver.post(url("reject", pending), {"post": "yes", "reason": "mauvais taux"})
    pending.refresh_from_db()
    assert (pending.status, pending.review_reason) == (Status.REJECTED, "mauvais taux")
    approver.post(url("send_back", pending))
    pending.refresh_from_db()
    assert pending.status == Status.DRAFT


def test_credit_note_for_the_whole_invoice_cancels_it(approver):
    invoice = make_invoice(amounts=[Decimal("300.00"), Decimal("200.00")], status=Status.SENT)
    response = approver.post(
        url("credit_note", invoice), {"post": "yes", "mode": "whole", "reason": "doublon"}
    )
    note = Invoice.objects.get(kind=Kind.CREDIT_NOTE)
    assert response["Location"] == url("change", note)
    assert note.total_ttc == Decimal("600.00")
    invoice.refresh_from_db()
    assert invoice.status == Status.CANCELLED


def test_credit_note_by_lines_and_by_amount(approver):
    invoice = make_invoice(amounts=[Decimal("300.00"), Decimal("200.00")], status=Status.ISSUED)
    second = invoice.lines.order_by("position")[1]
    # a quantity beyond the invoiced one is refused, naming the line; nothing is written
    response = approver.post(
        url("credit_note", invoice),
        {"post": "yes", "mode": "lines", f"quantity_{second.pk}": "3", "reason": "erreur"},
    )
    assert "Ligne 2" in response.content.decode()
    assert not Invoice.objects.filter(kind=Kind.CREDIT_NOTE).exists()
    # half of the second line
    approver.post(
        url("credit_note", invoice),
        {"post": "yes", "mode": "lines", f"quantity_{second.pk}": "0,5", "reason": "demi-journée"},
    )
    # then 50,00 € HT at 20 %
    approver.post(
        url("credit_note", invoice),
        {"post": "yes", "mode": "amount", "amount": "50,00", "rate": "20.00", "reason": "geste commercial"},
    )
    notes = list(Invoice.objects.filter(kind=Kind.CREDIT_NOTE).order_by("pk"))
    assert [n.total_ttc for n in notes] == [Decimal("120.00"), Decimal("60.00")]
    invoice.refresh_from_db()
    assert invoice.status == Status.ISSUED  # not cancelled: 180 of 600 credited


def test_the_invoice_page_shows_its_payments_and_what_remains(approver):
    invoice = make_invoice(amounts=[Decimal("1000.00")], status=Status.SENT)
    invoice_record_payment(
        invoice=invoice,
        amount=Decimal("450.00"),
        paid_on=today(),
        reason="virement TX-42, rapprochement confirmé",
    )
    html = page(approver, invoice)
    assert "virement TX-42, rapprochement confirmé" in html
    assert f"450,00{EUR}" in html
    assert f"<strong>750,00{EUR}</strong>" in html  # reste dû
    assert today().strftime("%d/%m/%Y") in html


def test_the_client_page_shows_balance_open_invoices_payments_and_behaviour(approver):
    client = ClientFactory(name="Fidèle SARL")
    open_one = make_invoice(client=client, amounts=[Decimal("500.00")], status=Status.SENT)
    paid = make_invoice(client=client, amounts=[Decimal("100.00")], status=Status.PAID)
    html = approver.get(reverse("admin:invoicing_client_change", args=[client.pk])).content.decode()
    assert f'id="client-balance">600,00{EUR}' in html
    assert open_one.number in html
    assert paid.number in html  # in the payments
    assert "Score de risque" in html
    assert 'id="client-credit"' not in html  # until banking gives the client credit


def test_the_list_fits_in_french_with_balance_and_totals(approver):
    a = make_invoice(amounts=[Decimal("1000.00")], status=Status.SENT)
    invoice_record_payment(invoice=a, amount=Decimal("200.00"), paid_on=today())
    make_invoice(amounts=[Decimal("50.00")], status=Status.PENDING_REVIEW)
    html = approver.get(reverse("admin:invoicing_invoice_changelist")).content.decode()
    assert "reste dû" in html.lower()
    assert f"1{NNBSP}000,00{EUR}" in html
    assert f"Reste dû <strong>1{NNBSP}000,00{EUR}</strong>" in html
    assert f"Total HT <strong>1{NNBSP}050,00{EUR}</strong>" in html
    assert "à valider" in html
    assert today().strftime("%d/%m/%Y") in html
    rows = html[html.index('id="result_list"') : html.index('id="changelist-filter"')]
    assert "partially_paid" not in rows
    assert "pending_review" not in rows


def test_the_list_exports_for_french_excel(approver):
    a = make_invoice(amounts=[Decimal("1234.50")], status=Status.SENT, issue_date=dt.date(2026, 3, 5))
    response = approver.get(reverse("admin:invoicing_invoice_export") + "?status__exact=sent")
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Numéro", "Type", "Statut"]
    assert rows[1][:6] == [a.number, "facture", "envoyée", a.client.name, "05/03/2026", "04/04/2026"]
    assert rows[1][6:11] == ["1234,50", "246,90", "1481,40", "0,00", "1481,40"]
    assert len(rows) == 2


@pytest.mark.parametrize(
    "template",
    [
        "admin/invoicing/invoicetoreview/approve_confirmation.html",
        "admin/invoicing/invoicetoreview/reject_confirmation.html",
    ],
)
def test_confirmations_post_ids_without_thousands_separator(template, rf):
    # given: numbers are written 1 234 for people; an id in a form must stay 12345 for the server
    invoice = Invoice(pk=12345, client=ClientFactory.build(name="Gros SA"), total_ht=Decimal("1.00"))
    request = rf.get("/")
    request.user = UserFactory.build(is_superuser=True)
    # when
    html = render_to_string(
        template,
        {"invoices": [invoice], "action_checkbox_name": "_selected_action", "opts": Invoice._meta},
        request=request,
    )
    # then
    assert 'value="12345"' in html
