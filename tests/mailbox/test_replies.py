"""Acting on replies: disputes (flag, alert, resolution), payment promises, delay decisions, to-dos,
acknowledgements, automatic replies, replies to link, and corrections."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from invoicing.services import lifecycle
from mailbox.models import DelayRequest, DelayStatus, Dispute, DisputeStatus, InboundMessage, Todo
from mailbox.models.inbound import Action
from mailbox.services import replies
from mailbox.services.inbox import inbound_store
from mailbox.services.reports import daily_report_send
from syaga.core.errors import BusinessError
from tests.factories import ClientFactory
from tests.mailbox.helpers import reply, sent_invoice

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(dt.datetime(2025, 3, 12, 10, 0))  # Wednesday 12 March 2025


@pytest.fixture
def invoice(seller):
    return sent_invoice(
        issue_date=dt.date(2025, 1, 30),
        client=ClientFactory(name="Durand SAS", invoice_emails="compta@durand.fr"),
    )


def receive(invoice, body, *, message_id="<m@durand.fr>", subject=None):
    subject = subject or f"RE: Facture {invoice.number}"
    raw = reply(subject=subject, sender="compta@durand.fr", message_id=message_id, body=body)
    inbound_store(raw, now=NOW)
    return InboundMessage.objects.get(message_id=message_id)


def test_a_dispute_opens_a_case_pauses_dunning_and_waits_for_the_daily_report(
    invoice, mailoutbox, django_capture_on_commit_callbacks
):
    message = receive(invoice, "Le montant facturé ne correspond pas au devis signé, merci de corriger.")
    dispute = Dispute.objects.get()
    assert (dispute.type, dispute.urgency, dispute.state) == ("amount_error", 3, DisputeStatus.OPEN)
    assert dispute.amount_at_stake == invoice.total_ttc
    assert dispute.message == message
    invoice.refresh_from_db()
    assert invoice.disputed_since is not None
    # not urgent: no alert now, in the daily report instead (once)
    assert mailoutbox == []
    with django_capture_on_commit_callbacks(execute=True):
        daily_report_send(on=NOW.date())
        daily_report_send(on=NOW.date())
    [report] = mail.outbox
    assert f"{invoice} (Durand SAS), erreur de montant, urgence 3" in report.body
    dispute.refresh_from_db()
    assert dispute.alerted_at is not None


def test_a_second_complaint_joins_the_open_dispute_and_an_escalation_alerts(
    invoice, mailoutbox, django_capture_on_commit_callbacks
):
    receive(invoice, "Il me semble qu'il y a une erreur sur le taux.", message_id="<1@durand.fr>")
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(
            invoice, "C'est inadmissible, cette facture est erronée !", message_id="<2@durand.fr>"
        )
    assert Dispute.objects.count() == 1
    assert Dispute.objects.get().urgency == 4
    assert message.action == Action.DISPUTE_JOINED
    assert [m.subject for m in mail.outbox] == [f"[Litige urgent] {invoice} – Durand SAS"]


def test_a_dispute_is_resolved_with_a_note_and_dunning_resumes(invoice):
    receive(invoice, "Nous contestons cette facture.")
    dispute = Dispute.objects.get()
    replies.dispute_start(dispute=dispute, actor=None)
    assert Dispute.objects.get().state == DisputeStatus.IN_PROGRESS
    with pytest.raises(BusinessError, match="note de résolution"):
        replies.dispute_resolve(dispute=dispute, note="  ", actor=None)
    replies.dispute_resolve(dispute=dispute, note="Avoir A20250003 émis pour l'écart de taux.", actor=None)
    dispute.refresh_from_db()
    assert dispute.state == DisputeStatus.RESOLVED
    invoice.refresh_from_db()
    assert invoice.disputed_since is None
    assert invoice.events.filter(kind="dispute_closed", reason__contains="Avoir A20250003").exists()


def test_an_announced_payment_records_a_promise_for_the_date_given(invoice):
    message = receive(invoice, "Le virement sera effectué le 25 mars.")
    invoice.refresh_from_db()
    assert invoice.payment_promised_for == dt.date(2025, 3, 25)
    assert (message.action, message.action_note) == (Action.PROMISE, "pour le 25/03/2025")


def test_a_delay_request_waits_for_a_decision_and_granting_it_holds_dunning(invoice):
    message = receive(invoice, "Pourrions-nous régler fin avril ? Notre trésorerie est tendue.")
    request = DelayRequest.objects.get()
    assert (request.requested_until, request.state, message.action) == (
        dt.date(2025, 4, 30),
        DelayStatus.PENDING,
        Action.DELAY,
    )
    invoice.refresh_from_db()
    assert invoice.delay_granted_until is None
    replies.delay_grant(request=request, until=dt.date(2025, 4, 30), actor=None, note="client fidèle")
    invoice.refresh_from_db()
    assert invoice.delay_granted_until == dt.date(2025, 4, 30)
    with pytest.raises(BusinessError, match="déjà décidée"):
        replies.delay_refuse(request=request, actor=None)


def test_a_question_goes_to_the_todo_list_and_an_ack_marks_the_invoice_received(invoice):
    receive(invoice, "Pouvez-vous nous envoyer votre RIB ?", message_id="<q@durand.fr>")
    assert Todo.objects.get().title.startswith(
        "Répondre à Compta Client : Pouvez-vous nous envoyer votre RIB ?"
    )
    receive(invoice, "Bien reçu, je transmets à la comptabilité.", message_id="<a@durand.fr>")
    invoice.refresh_from_db()
    assert invoice.acknowledged_at is not None


def test_an_automatic_reply_is_ignored(invoice):
    message = receive(invoice, "Je suis absent jusqu'au 20 mars, accès limité à mes e-mails.")
    assert (message.category, message.action) == ("auto_reply", Action.IGNORED)
    assert not Todo.objects.exists()


def test_a_reply_without_invoice_waits_to_be_linked_then_is_acted_on(seller):
    client = ClientFactory(invoice_emails="compta@durand.fr")
    first = sent_invoice(issue_date=dt.date(2025, 1, 30), client=client)
    sent_invoice(issue_date=dt.date(2025, 2, 2), client=client)
    # given: the client has two open invoices and cites none
    message = receive(first, "Nous contestons le montant.", subject="Votre facture")
    assert (message.invoice, message.client, message.action) == (None, client, Action.TO_LINK)
    assert Todo.objects.get().title.startswith("Rattacher à une facture : contestation")
    # when: a person links it
    replies.inbound_link(message=message, invoice=first, actor=None)
    # then
    assert Dispute.objects.get().invoice == first


def test_a_correction_to_dispute_opens_the_dispute(invoice):
    message = receive(invoice, "Merci pour la facture.")
    assert message.category == "ack"
    replies.inbound_correct(message=message, category="dispute", actor=None)
    assert Dispute.objects.get().invoice == invoice
    message.refresh_from_db()
    assert message.final_category == "dispute"


def test_a_promise_on_a_paid_invoice_is_noted_not_an_error(invoice):
    lifecycle.invoice_record_payment(invoice=invoice, amount=invoice.total_ttc, paid_on=dt.date(2025, 3, 10))
    message = receive(invoice, "Le virement a été effectué hier.")
    assert message.action == Action.IGNORED
    assert "n'est plus à encaisser" in message.action_note
