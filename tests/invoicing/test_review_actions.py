"""People deciding: batch approval with a mix of good and failing invoices, rejection, send back,
permissions, four-eyes, and the audit rows each transition writes."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoicing.models import Invoice, InvoiceEvent
from invoicing.models.invoice import Origin, Status
from invoicing.models.validation import EventKind
from invoicing.services.review import (
    ApprovalPermissionError,
    invoice_approve,
    invoices_approve,
    invoices_reject,
    invoices_send_back,
)
from syaga.core.dates import today
from syaga.core.errors import BusinessError, InputError
from tests.factories import ClientFactory, UserFactory, make_invoice
from tests.invoicing.test_validation_rules import client_with_history, pending

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def approver(username="valideur"):
    user = UserFactory(username=username)
    user.user_permissions.add(Permission.objects.get(codename="approve_invoice"))
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def test_batch_approval_issues_the_good_ones_and_says_why_the_others_failed(seller):
    # given: two good invoices, one already issued, one whose client lost its billing e-mail
    user = approver()
    good = [pending(client_with_history()), pending(client_with_history(), amount="2500.00")]
    issued = make_invoice(client=client_with_history(), status=Status.ISSUED)
    no_email_client = client_with_history()
    no_email = pending(no_email_client)
    no_email_client.invoice_emails = ""
    no_email_client.save()
    # when
    result = invoices_approve(invoices=[*good, issued, no_email], user=user)
    # then
    assert sorted(i.pk for i in result.succeeded) == sorted(i.pk for i in good)
    reasons = {invoice.pk: reason for invoice, reason in result.failed}
    assert "émise" in reasons[issued.pk]
    assert "e-mail de facturation" in reasons[no_email.pk]
    numbers = sorted(Invoice.objects.filter(pk__in=[i.pk for i in good]).values_list("number", flat=True))
    year = today().year
    assert numbers == [f"F{year}0002", f"F{year}0003"]  # gapless, after the issued one (history is last year)
    assert Invoice.objects.get(pk=no_email.pk).status == Status.PENDING_REVIEW
    assert Invoice.objects.get(pk=no_email.pk).number is None


def test_batch_approval_writes_the_audit_rows_with_totals(seller):
    # given
    user = approver()
    invoice = pending(client_with_history(), amount="1000.00")
    # when
    invoices_approve(invoices=[invoice], user=user)
    # then
    rows = list(invoice.events.order_by("pk").values_list("kind", "from_status", "to_status", "actor"))
    assert rows == [
        ("created", "draft", "draft", None),
        ("submitted", "draft", "pending_review", None),
        ("approved", "pending_review", "approved", user.pk),
        ("issued", "approved", "issued", user.pk),
    ]
    approved = invoice.events.get(kind=EventKind.APPROVED)
    assert approved.totals == {"total_ht": "1000.00", "total_vat": "200.00", "total_ttc": "1200.00"}


def test_approval_query_count_does_not_grow_beyond_a_constant_per_invoice(seller):
    user = approver()

    def queries_for(n):
        invoices = [pending(client_with_history()) for _ in range(n)]
        with CaptureQueriesContext(connection) as ctx:
            result = invoices_approve(invoices=invoices, user=user)
        assert len(result.succeeded) == n
        return len(ctx.captured_queries)

    small, large = queries_for(2), queries_for(12)
    per_invoice = (large - small) / 10
    assert per_invoice <= 6, (small, large)


def test_without_the_permission_nothing_is_approved(seller):
    # given
    clerk = UserFactory(username="saisie")
    invoice = pending(client_with_history())
    # when / then
    with pytest.raises(ApprovalPermissionError, match="approve_invoice"):
        invoices_approve(invoices=[invoice], user=clerk)
    with pytest.raises(ApprovalPermissionError):
        invoices_reject(invoices=[invoice], user=clerk, reason="non")
    with pytest.raises(ApprovalPermissionError):
        invoices_send_back(invoices=[invoice], user=clerk)
    assert Invoice.objects.get(pk=invoice.pk).status == Status.PENDING_REVIEW


def test_four_eyes_needs_a_second_person_for_your_own_manual_invoice_above_the_threshold(seller):
    # given
    seller.four_eyes_approval = True
    seller.save()
    author, colleague = approver("auteur"), approver("collegue")
    big = pending(client_with_history(), amount="2500.00", created_by=author)
    small = pending(client_with_history(), amount="500.00", created_by=author)
    # when
    result = invoices_approve(invoices=[big, small], user=author)
    # then: the author may approve the small one, not the big one
    assert [i.pk for i in result.succeeded] == [small.pk]
    assert "quatre yeux" in result.failed[0][1]
    # when: a colleague approves it
    issued = invoice_approve(invoice=big, user=colleague)
    # then
    assert issued.status == Status.ISSUED
    assert issued.events.get(kind=EventKind.APPROVED).actor == colleague


def test_without_four_eyes_the_author_approves_alone(seller):
    author = approver("auteur")
    big = pending(client_with_history(), amount="2500.00", created_by=author, origin=Origin.MANUAL)
    assert invoice_approve(invoice=big, user=author).status == Status.ISSUED


def test_reject_needs_a_reason_and_records_it(seller):
    # given
    user = approver()
    invoice, draft = pending(client_with_history()), make_invoice(client=client_with_history())
    # when / then
    with pytest.raises(InputError) as caught:
        invoices_reject(invoices=[invoice], user=user, reason="  ")
    assert (caught.value.where, caught.value.reason) == (
        "motif du rejet",
        "indiquez pourquoi les factures sont rejetées",
    )
    # when
    result = invoices_reject(invoices=[invoice, draft], user=user, reason="Mauvais taux horaire")
    # then
    assert [i.pk for i in result.succeeded] == [invoice.pk]
    assert "brouillon" in result.failed[0][1]
    invoice.refresh_from_db()
    assert (invoice.status, invoice.review_reason) == (Status.REJECTED, "Mauvais taux horaire")
    event = invoice.events.get(kind=EventKind.REJECTED)
    assert (event.actor, event.reason, event.from_status, event.to_status) == (
        user,
        "Mauvais taux horaire",
        "pending_review",
        "rejected",
    )


def test_send_back_returns_pending_and_rejected_invoices_to_draft(seller):
    # given
    user = approver()
    waiting = pending(client_with_history(), amount="2500.00")
    rejected = pending(client_with_history())
    invoices_reject(invoices=[rejected], user=user, reason="à corriger")
    issued = make_invoice(client=ClientFactory(), status=Status.ISSUED)
    # when
    result = invoices_send_back(invoices=[waiting, rejected, issued], user=user)
    # then
    assert sorted(i.pk for i in result.succeeded) == sorted([waiting.pk, rejected.pk])
    assert [i.pk for i, _ in result.failed] == [issued.pk]
    assert set(Invoice.objects.filter(pk__in=[waiting.pk, rejected.pk]).values_list("status", flat=True)) == {
        Status.DRAFT
    }
    assert InvoiceEvent.objects.filter(kind=EventKind.SENT_BACK).count() == 2


def test_a_zero_total_fails_alone_and_takes_no_number(seller):
    # given
    user = approver()
    zero = pending(client_with_history(), amount="0.00")
    good = pending(client_with_history())
    # when
    result = invoices_approve(invoices=[zero, good], user=user)
    # then
    assert [i.pk for i in result.succeeded] == [good.pk]
    assert Invoice.objects.get(pk=good.pk).number == f"F{today().year}0001"
    assert Invoice.objects.get(pk=zero.pk).status == Status.PENDING_REVIEW


def test_approving_one_invoice_that_fails_raises_with_the_reason(seller):
    user = approver()
    draft = make_invoice(client=client_with_history())
    with pytest.raises(BusinessError, match="pas à valider"):
        invoice_approve(invoice=draft, user=user)
