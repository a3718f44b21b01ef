"""The hostile review's bypass: an approver raised someone else's pending invoice from 100 to 50,000 HT in
the invoice admin (no audit row, no rule re-run), approved it, and it was issued. Four-eyes compared the
approver with the creator only and was off by default."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from invoicing.models import Invoice, SellerProfile
from invoicing.models.invoice import Status
from invoicing.models.validation import EventKind
from invoicing.services.invoices import LineSpec, invoice_update
from invoicing.services.review import four_eyes_active, invoice_approve, invoice_submit
from syaga.core.errors import BusinessError
from tests.factories import UserFactory, make_invoice
from tests.invoicing.test_validation_rules import client_with_history

pytestmark = pytest.mark.django_db


def approver(username):
    user = UserFactory(username=username)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=[
                "approve_invoice",
                "view_invoice",
                "change_invoice",
                "add_invoiceline",
                "change_invoiceline",
                "delete_invoiceline",
            ]
        )
    )
    return user


def change_form_data(invoice: Invoice, **overrides) -> dict:
    """What the invoice admin's change form posts, with the lines as the page shows them."""
    data = {
        "client": invoice.client_id,
        "subject": invoice.subject,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "period_start": "",
        "period_end": "",
        "purchase_order": "",
        "notes": "",
        "lines-TOTAL_FORMS": str(invoice.lines.count()),
        "lines-INITIAL_FORMS": str(invoice.lines.count()),
        "lines-MIN_NUM_FORMS": "1",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for i, line in enumerate(invoice.lines.order_by("position")):
        data.update(
            {
                f"lines-{i}-id": line.pk,
                f"lines-{i}-invoice": invoice.pk,
                f"lines-{i}-position": line.position,
                f"lines-{i}-description": line.description,
                f"lines-{i}-quantity": str(line.quantity),
                f"lines-{i}-unit": line.unit,
                f"lines-{i}-unit_price": str(line.unit_price),
                f"lines-{i}-vat_rate": str(line.vat_rate),
            }
        )
    data.update(overrides)
    return data


def test_raising_a_pending_invoice_in_the_admin_sends_it_back_to_draft_with_the_change_recorded(
    client, seller
):
    # given: someone else's invoice of 100 HT waiting in the queue, and two approvers
    author = approver("auteur")
    attacker = approver("valideur")
    invoice = make_invoice(
        client=client_with_history(),
        amounts=[Decimal("100.00")],
        status=Status.PENDING_REVIEW,
        created_by=author,
    )
    client.force_login(attacker)
    url = reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    # when: the approver opens it in the invoice admin and raises the line to 50,000
    page = client.get(url).content.decode()
    response = client.post(url, change_form_data(invoice, **{"lines-0-unit_price": "50000"}), follow=True)
    # then: the page had said so, and the invoice is back to draft with who changed what
    assert "l'enregistrer la renvoie en brouillon" in page
    invoice.refresh_from_db()
    assert invoice.status == Status.DRAFT
    assert invoice.total_ht == Decimal("50000.00")
    edit = invoice.events.get(kind=EventKind.EDITED)
    assert edit.actor == attacker
    assert (edit.from_status, edit.to_status) == ("pending_review", "draft")
    before, after = edit.changes["lines"]
    assert "× 100,00\xa0€" in before
    assert "× 50\u202f000,00\xa0€" in after
    assert any("revient en brouillon" in str(m) for m in response.context["messages"])
    # when: they try to approve it at once
    with pytest.raises(BusinessError, match="pas à valider"):
        invoice_approve(invoice=invoice, user=attacker)
    # when: it is submitted again, the rules run on what it now says
    decision = invoice_submit(invoice=invoice, user=attacker)
    assert decision.rule is not None
    assert decision.rule.name == "Montant élevé"
    # then: the person who raised it cannot approve it (four-eyes includes editors)...
    with pytest.raises(BusinessError, match="quatre yeux"):
        invoice_approve(invoice=invoice, user=attacker)
    # ...nor can its author; a third person can, and the number is given only then
    with pytest.raises(BusinessError, match="quatre yeux"):
        invoice_approve(invoice=invoice, user=author)
    assert Invoice.objects.get(pk=invoice.pk).number is None
    assert invoice_approve(invoice=invoice, user=approver("tiers")).status == Status.ISSUED


def test_an_edit_of_a_draft_stays_a_draft_and_is_recorded_before_and_after(seller):
    user = UserFactory()
    invoice = make_invoice(client=client_with_history(), amounts=[Decimal("100.00")])
    invoice_update(invoice=invoice, user=user, fields={"subject": "Nouvel objet"})
    edit = invoice.events.get(kind=EventKind.EDITED)
    assert edit.changes == {"subject": ["", "Nouvel objet"]}
    assert Invoice.objects.get(pk=invoice.pk).status == Status.DRAFT


def test_an_edit_that_changes_nothing_records_nothing(seller):
    invoice = make_invoice(
        client=client_with_history(), amounts=[Decimal("100.00")], status=Status.PENDING_REVIEW
    )
    same = [LineSpec(description="Prestation 1", unit_price=Decimal("100.00"))]
    invoice_update(invoice=invoice, user=UserFactory(), fields={"subject": invoice.subject}, lines=same)
    assert Invoice.objects.get(pk=invoice.pk).status == Status.PENDING_REVIEW
    assert not invoice.events.filter(kind=EventKind.EDITED).exists()


def test_an_issued_invoice_cannot_be_edited(seller):
    invoice = make_invoice(client=client_with_history(), status=Status.ISSUED)
    with pytest.raises(BusinessError, match="avoir"):
        invoice_update(invoice=invoice, user=UserFactory(), fields={"subject": "x"})


def test_four_eyes_is_on_by_default_once_two_people_can_approve(seller):
    # given: a fresh seller profile, a recurring (not manual) invoice above the threshold
    assert SellerProfile._meta.get_field("four_eyes_approval").default is True
    author = approver("auteur")
    assert not four_eyes_active(seller)  # one approver: four-eyes cannot hold
    approver("collegue")
    assert four_eyes_active(seller)
    invoice = make_invoice(
        client=client_with_history(),
        amounts=[Decimal("2500.00")],
        status=Status.PENDING_REVIEW,
        origin="recurring",
        created_by=author,
    )
    # when / then
    with pytest.raises(BusinessError, match="quatre yeux"):
        invoice_approve(invoice=invoice, user=author)


def test_the_queue_says_when_only_one_person_can_approve(client, seller):
    only = approver("seul")
    client.force_login(only)
    page = client.get(reverse("admin:invoicing_invoicetoreview_changelist"))
    assert "Une seule personne peut approuver les factures" in page.content.decode()
    approver("second")
    page = client.get(reverse("admin:invoicing_invoicetoreview_changelist"))
    assert "Une seule personne peut approuver" not in page.content.decode()


def test_superusers_count_as_approvers(seller):
    UserFactory(username="chef", is_superuser=True)
    approver("valideur")
    assert four_eyes_active(seller)
