"""The one door for invoice states: the table of moves, a history without holes, what follows an issue."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django_q.conf import Conf

from invoicing.models import Invoice, InvoiceEvent, InvoiceSequence
from invoicing.models.invoice import Status
from invoicing.models.validation import EventKind
from invoicing.services import lifecycle
from invoicing.services.delivery import after_issue_register, after_issue_unregister
from invoicing.services.invoices import credit_note_create
from invoicing.services.lifecycle import (
    INVOICE_TRANSITIONS,
    TransitionError,
    invoice_dispute_close,
    invoice_dispute_open,
    invoice_issue,
    invoice_mark_sent,
    invoice_record_payment,
)
from invoicing.services.review import invoice_approve, invoice_submit
from tests.factories import UserFactory, make_invoice
from tests.invoicing.test_validation_rules import client_with_history

pytestmark = pytest.mark.django_db


def kinds(invoice) -> list[tuple[str, str, str]]:
    return list(invoice.events.order_by("at", "pk").values_list("kind", "from_status", "to_status"))


def approver(username="valideur"):
    from django.contrib.auth.models import Permission

    user = UserFactory(username=username)
    user.user_permissions.add(Permission.objects.get(codename="approve_invoice"))
    return user


# --- the table ----------------------------------------------------------------------------------------


def test_every_status_has_a_row_in_the_table():
    assert set(INVOICE_TRANSITIONS) == set(Status.values)
    assert INVOICE_TRANSITIONS[Status.CANCELLED] == frozenset()
    # issued documents never go back before the issue
    for frozen in (Status.ISSUED, Status.SENT, Status.PARTIALLY_PAID, Status.PAID):
        assert not INVOICE_TRANSITIONS[frozen] & {Status.DRAFT, Status.PENDING_REVIEW, Status.APPROVED}


def test_a_draft_cannot_be_issued_without_review_and_no_number_is_spent(seller):
    # given: a draft nobody reviewed
    draft = make_invoice(client=client_with_history())
    counters = list(InvoiceSequence.objects.values_list("series", "year", "last_number"))
    # when / then: the issue is refused, before any number is taken
    with pytest.raises(TransitionError, match="seule une facture approuvée est émise"):
        invoice_issue(invoice=draft)
    assert Invoice.objects.get(pk=draft.pk).status == Status.DRAFT
    assert list(InvoiceSequence.objects.values_list("series", "year", "last_number")) == counters


def test_a_refused_move_writes_nothing(seller):
    invoice = make_invoice(client=client_with_history(), status=Status.ISSUED)
    before = kinds(invoice)
    with pytest.raises(TransitionError, match="émise : passage à « brouillon » impossible"):
        lifecycle.invoice_move(invoice=invoice, to=Status.DRAFT, kind=EventKind.SENT_BACK)
    assert Invoice.objects.get(pk=invoice.pk).status == Status.ISSUED
    assert kinds(invoice) == before


# --- a history without holes ------------------------------------------------------------------------


def test_the_history_reads_from_creation_to_paid(seller):
    # given
    author, colleague = UserFactory(username="auteur"), approver()
    invoice = make_invoice(client=client_with_history(), amounts=[Decimal("1000.00")], created_by=author)
    # when: submitted, approved, sent, paid in two instalments
    invoice_submit(invoice=invoice, user=author)
    invoice_approve(invoice=invoice, user=colleague)
    invoice_mark_sent(invoice=invoice)
    invoice_record_payment(invoice=invoice, amount=Decimal("400.00"), paid_on=dt.date(2026, 1, 10))
    invoice_record_payment(invoice=invoice, amount=Decimal("800.00"), paid_on=dt.date(2026, 1, 20))
    # then
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.paid_date) == (
        Status.PAID,
        Decimal("1200.00"),
        dt.date(2026, 1, 20),
    )
    assert kinds(invoice) == [
        ("created", "draft", "draft"),
        ("submitted", "draft", "pending_review"),
        ("review_required", "pending_review", "pending_review"),
        ("approved", "pending_review", "approved"),
        ("issued", "approved", "issued"),
        ("sent", "issued", "sent"),
        ("payment", "sent", "partially_paid"),
        ("payment", "partially_paid", "paid"),
    ]
    payments = list(invoice.events.filter(kind=EventKind.PAYMENT).values_list("reason", flat=True))
    assert payments == ["400,00\xa0€ reçus le 10/01/2026", "800,00\xa0€ reçus le 20/01/2026"]


def test_a_cancelled_invoice_history_ends_with_the_credit_note_that_cancelled_it(seller):
    # given
    invoice = make_invoice(client=client_with_history(), amounts=[Decimal("500.00")], status=Status.ISSUED)
    # when
    note = credit_note_create(invoice=invoice, reason="erreur de client")
    # then
    invoice.refresh_from_db()
    assert invoice.status == Status.CANCELLED
    assert invoice.cancelled_by == note
    last = invoice.events.order_by("at", "pk").last()
    assert (last.kind, last.from_status, last.to_status) == ("cancelled", "issued", "cancelled")
    assert note.number in last.reason
    assert kinds(note) == [
        ("created", "draft", "draft"),
        ("approved", "draft", "approved"),
        ("issued", "approved", "issued"),
    ]


def test_a_partial_credit_note_is_in_the_history_and_leaves_the_invoice_open(seller):
    from invoicing.services.invoices import LineSpec

    invoice = make_invoice(client=client_with_history(), amounts=[Decimal("500.00")], status=Status.ISSUED)
    note = credit_note_create(
        invoice=invoice, reason="remise", lines=[LineSpec(description="Remise", unit_price=Decimal("100"))]
    )
    invoice.refresh_from_db()
    assert invoice.status == Status.ISSUED
    assert invoice.events.filter(kind=EventKind.CREDITED, reason__contains=note.number).exists()


def test_cancelled_only_by_a_credit_note(seller):
    invoice = make_invoice(client=client_with_history(), status=Status.ISSUED)
    # no move to "cancelled" in the table without the credit note (the service refuses a bare move)...
    with pytest.raises(TransitionError, match="n'est annulée que par un avoir"):
        lifecycle.invoice_move(invoice=invoice, to=Status.CANCELLED, kind=EventKind.CANCELLED)
    # ...and the database refuses a cancelled invoice that names no credit note, whatever the path
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(status=Status.CANCELLED)
    assert Invoice.objects.get(pk=invoice.pk).status == Status.ISSUED


def test_a_payment_on_an_invoice_that_is_not_open_is_refused(seller):
    draft = make_invoice(client=client_with_history())
    with pytest.raises(TransitionError, match="pas de paiement à recevoir"):
        invoice_record_payment(invoice=draft, amount=Decimal("10"), paid_on=dt.date(2026, 1, 1))
    issued = make_invoice(client=client_with_history(), amounts=[Decimal("100")], status=Status.ISSUED)
    with pytest.raises(Exception, match="dépasse le reste dû"):
        invoice_record_payment(invoice=issued, amount=Decimal("500"), paid_on=dt.date(2026, 1, 1))
    assert Invoice.objects.get(pk=issued.pk).amount_paid == Decimal("0.00")


def test_a_dispute_is_a_flag_opened_and_closed_in_the_history(seller):
    invoice = make_invoice(client=client_with_history(), status=Status.SENT)
    invoice_dispute_open(invoice=invoice, reason="prestation contestée")
    assert Invoice.objects.get(pk=invoice.pk).disputed_since is not None
    with pytest.raises(Exception, match="déjà en litige"):
        invoice_dispute_open(invoice=invoice, reason="encore")
    invoice_dispute_close(invoice=invoice, reason="avoir accepté")
    stored = Invoice.objects.get(pk=invoice.pk)
    assert (stored.disputed_since, stored.status) == (None, Status.SENT)
    assert [k for k, _, _ in kinds(invoice)][-2:] == ["dispute_opened", "dispute_closed"]


# --- what follows an issue ------------------------------------------------------------------------------

RECEIVED: list[list[int]] = []


def record_issued(*, invoice_ids):
    """A task registered after the issue (as the documents and mail apps will register theirs)."""
    RECEIVED.append(list(invoice_ids))


def test_nothing_scheduled_means_no_false_audit_line(seller):
    invoice = make_invoice(client=client_with_history(), status=Status.PENDING_REVIEW)
    invoice_approve(invoice=invoice, user=approver())
    assert not invoice.events.filter(kind=EventKind.DELIVERY_QUEUED).exists()
    assert not InvoiceEvent.objects.filter(reason__contains="PDF et envoi").exists()


def test_a_registered_task_is_queued_after_commit_and_named_in_the_history(
    seller, monkeypatch, django_capture_on_commit_callbacks
):
    # given: a task registered by name, django-q2 running tasks inline
    monkeypatch.setattr(Conf, "SYNC", True)
    task = "tests.invoicing.test_lifecycle.record_issued"
    after_issue_register(task=task, label="test de suite")
    RECEIVED.clear()
    invoice = make_invoice(client=client_with_history(), status=Status.PENDING_REVIEW)
    try:
        # when
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            invoice_approve(invoice=invoice, user=approver())
            # then: nothing runs while the issuing transaction is open
            assert RECEIVED == []
        for callback in callbacks:
            callback()
    finally:
        after_issue_unregister(task=task)
    assert [[invoice.pk]] == RECEIVED
    queued = invoice.events.get(kind=EventKind.DELIVERY_QUEUED)
    assert queued.reason == "programmé : test de suite"


def test_what_the_client_said_is_recorded_beside_the_status(seller):
    invoice = make_invoice(client=client_with_history(), status=Status.SENT)
    lifecycle.invoice_payment_promise_record(
        invoice=invoice, promised_for=dt.date(2026, 12, 20), reason="mail"
    )
    lifecycle.invoice_delay_grant(invoice=invoice, until=dt.date(2027, 1, 15))
    lifecycle.invoice_acknowledged_record(invoice=invoice)
    stored = Invoice.objects.get(pk=invoice.pk)
    assert (stored.status, stored.payment_promised_for, stored.delay_granted_until) == (
        Status.SENT,
        dt.date(2026, 12, 20),
        dt.date(2027, 1, 15),
    )
    assert stored.acknowledged_at is not None
    reasons = list(invoice.events.order_by("pk").values_list("reason", flat=True))[-3:]
    assert reasons[:2] == ["paiement annoncé pour le 20/12/2026 (mail)", "délai accordé jusqu'au 15/01/2027"]
    with pytest.raises(TransitionError):
        lifecycle.invoice_delay_grant(
            invoice=make_invoice(client=client_with_history()), until=dt.date(2027, 1, 1)
        )


def test_a_wrong_payment_can_be_taken_back_with_its_reason(seller):
    invoice = make_invoice(client=client_with_history(), amounts=[Decimal("100.00")], status=Status.PAID)
    user = UserFactory()
    lifecycle.invoices_reverse_payments(
        payments=[
            lifecycle.Payment(invoice_id=invoice.pk, amount=Decimal("120.00"), paid_on=dt.date(2026, 1, 1))
        ],
        actor=user,
        reason="virement d'un autre client",
    )
    stored = Invoice.objects.get(pk=invoice.pk)
    assert (stored.status, stored.amount_paid, stored.paid_date) == (Status.ISSUED, Decimal("0.00"), None)
    last = stored.events.order_by("pk").last()
    assert (last.kind, last.actor, last.reason) == (
        "payment_reversed",
        user,
        "120,00\xa0€ retirés : virement d'un autre client",
    )
