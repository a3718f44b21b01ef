"""Invoices leave by SMTP (a real aiosmtpd server): PDF attached, stable Message-ID, logged, retried, never
twice."""

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.core import mail
from django.db import connection
from django.utils import timezone

from invoicing.models import InvoiceEvent
from invoicing.models.invoice import Origin, Status
from invoicing.models.validation import EventKind
from invoicing.services.delivery import after_issue_labels
from invoicing.services.invoices import credit_note_create
from invoicing.services.lifecycle import invoice_mark_sent
from mailbox import tasks
from mailbox.models import MailTemplate, OutboundMessage, OutboundStatus, Purpose, SendAttempt
from mailbox.services import sending
from mailbox.services.reports import daily_report_text
from tests.factories import ClientFactory, make_invoice
from tests.mailbox.conftest import text_of
from tests.mailbox.helpers import issued_invoice

pytestmark = pytest.mark.django_db


def test_an_issued_invoice_leaves_by_smtp_with_its_pdf_and_a_stable_message_id(seller, smtp_server):
    # given: an issued invoice of 1 200,00 € TTC for a client with two billing addresses
    invoice = issued_invoice(amount=Decimal("1000.00"))
    # when
    report = sending.invoices_send(invoice_ids=[invoice.pk])
    # then: the SMTP server received one message, to both addresses, from the firm
    assert len(report.flush.sent) == 1
    [envelope] = smtp_server.envelopes
    assert sorted(envelope.rcpt_tos) == ["compta@client.fr", "dg@client.fr"]
    [message] = smtp_server.messages()
    assert message["Message-ID"] == f"<invoice-{invoice.number}.1@syaga.fr>"
    assert message["Subject"] == f"Facture {invoice.number} – SYAGA Consulting"
    assert "1\u202f200,00\u00a0€ TTC" in text_of(message)
    pdf = next(p for p in message.walk() if p.get_content_type() == "application/pdf")
    assert pdf.get_filename() == f"Facture-{invoice.number}.pdf"
    assert pdf.get_payload(decode=True).startswith(b"%PDF")
    # and the invoice is sent, its history says so, the log keeps the server's answer
    invoice.refresh_from_db()
    assert invoice.status == Status.SENT
    assert InvoiceEvent.objects.filter(
        invoice=invoice, kind=EventKind.SENT, reason__contains="facture envoyée"
    ).exists()
    row = OutboundMessage.objects.get(invoice=invoice)
    assert row.state == OutboundStatus.SENT
    assert row.smtp_response.startswith("250 2.0.0 Ok: queued as Q0001")
    assert row.to == "compta@client.fr, dg@client.fr"


def test_the_job_running_twice_sends_once(seller, smtp_server):
    invoice = issued_invoice()
    # when: the after-issue task, then again, then the daily cycle's step
    tasks.invoices_send([invoice.pk])
    tasks.invoices_send([invoice.pk])
    sending.invoices_send_pending()
    # then
    assert len(smtp_server.envelopes) == 1
    assert OutboundMessage.objects.filter(invoice=invoice).count() == 1


def test_the_job_after_the_issue_leaves_backdated_and_already_sent_documents_alone(seller, smtp_server):
    # given: an invoice of the demo's year (dated 60 days ago), one marked as sent by hand, one of today
    old = issued_invoice(issue_date=timezone.localdate() - dt.timedelta(days=60))
    marked = issued_invoice()
    invoice_mark_sent(invoice=marked, at=timezone.now(), reason="remise en main propre")
    new = issued_invoice()
    # when: the after-issue task gets all three
    tasks.invoices_send([old.pk, marked.pk, new.pk])
    # then: only today's leaves
    assert len(smtp_server.envelopes) == 1
    assert list(OutboundMessage.objects.values_list("invoice", flat=True)) == [new.pk]


def test_a_failed_send_is_retried_with_backoff_and_never_marks_the_invoice_sent(seller, smtp_server):
    # given: the server refuses the first message (451)
    smtp_server.refuse = 1
    invoice = issued_invoice()
    start = timezone.now()
    # when
    sending.invoices_send(invoice_ids=[invoice.pk])
    # then: nothing sent, the invoice is still issued, the next try is in 5 minutes
    invoice.refresh_from_db()
    assert invoice.status == Status.ISSUED
    assert invoice.sent_at is None
    row = OutboundMessage.objects.get(invoice=invoice)
    assert (row.state, row.attempts) == (OutboundStatus.QUEUED, 1)
    assert dt.timedelta(minutes=4) < row.next_attempt_at - start < dt.timedelta(minutes=6)
    assert "451" in row.last_error
    assert SendAttempt.objects.get(message=row).ok is False
    # when: a run before the retry is due sends nothing; one after it sends
    sending.outbox_flush(now=start + dt.timedelta(minutes=2))
    assert smtp_server.envelopes == []
    sending.outbox_flush(now=start + dt.timedelta(minutes=6))
    # then: sent once, with the same Message-ID as the first try
    assert len(smtp_server.envelopes) == 1
    assert smtp_server.messages()[0]["Message-ID"] == row.message_id
    invoice.refresh_from_db()
    assert invoice.status == Status.SENT


def test_an_unreachable_server_is_retried_then_given_up_and_reported(seller, settings):
    # given: no SMTP server at all on that port, two tries allowed
    settings.EMAIL_BACKEND = "mailbox.backends.SmtpEmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # discard port: connection refused
    settings.MAIL_RETRY_MINUTES = [1]
    invoice = issued_invoice()
    start = timezone.now()
    # when
    sending.invoices_send(invoice_ids=[invoice.pk])
    sending.outbox_flush(now=start + dt.timedelta(minutes=2))
    # then
    row = OutboundMessage.objects.get(invoice=invoice)
    assert (row.state, row.attempts) == (OutboundStatus.FAILED, 2)
    assert "Connection" in row.last_error or "refused" in row.last_error.lower()
    invoice.refresh_from_db()
    assert invoice.status == Status.ISSUED
    text, _ = daily_report_text(on=timezone.localdate())
    assert "E-mails non partis ou à vérifier (1)" in text


def test_a_run_killed_during_the_smtp_exchange_is_never_sent_again_by_itself(seller, smtp_server):
    # given: a message a dead run had claimed and started to hand to the server
    invoice = issued_invoice()
    row = sending.invoice_send_queue(invoice=invoice)
    past = timezone.now() - dt.timedelta(hours=1)
    OutboundMessage.objects.filter(pk=row.pk).update(
        state=OutboundStatus.SENDING, lease_until=past, smtp_started_at=past
    )
    # when
    report = sending.outbox_flush()
    # then: not resent, set aside for a person
    assert smtp_server.envelopes == []
    row.refresh_from_db()
    assert row.state == OutboundStatus.UNCERTAIN
    assert report.uncertain == [row.pk]
    # when: the person checked that it did arrive
    sending.outbound_confirm_sent(message=row, actor=None)
    # then: sent, and the invoice too
    invoice.refresh_from_db()
    assert invoice.status == Status.SENT
    assert smtp_server.envelopes == []


def test_a_run_killed_before_the_smtp_exchange_sends_on_the_next_run(seller, smtp_server):
    invoice = issued_invoice()
    row = sending.invoice_send_queue(invoice=invoice)
    OutboundMessage.objects.filter(pk=row.pk).update(
        state=OutboundStatus.SENDING, lease_until=timezone.now() - dt.timedelta(minutes=1)
    )
    sending.outbox_flush()
    sending.outbox_flush()
    assert len(smtp_server.envelopes) == 1


def test_a_claimed_message_is_not_sent_by_a_second_worker(seller, smtp_server):
    invoice = issued_invoice()
    row = sending.invoice_send_queue(invoice=invoice)
    # given: another worker holds it (its lease runs)
    assert sending._claim(row.pk, timezone.now())
    # when
    sending.outbox_flush()
    # then
    assert smtp_server.envelopes == []


def test_a_credit_note_uses_its_own_template_and_leaves_once(seller, smtp_server):
    invoice = issued_invoice()
    sending.invoices_send(invoice_ids=[invoice.pk])
    credit = credit_note_create(invoice=invoice, reason="erreur de taux")
    # when
    sending.invoices_send_pending()
    sending.invoices_send_pending()
    # then
    messages = smtp_server.messages()
    assert len(messages) == 2
    assert messages[1]["Subject"].startswith(f"Avoir {credit.number}")
    assert f"en déduction de la facture {invoice.number}" in text_of(messages[1])
    assert list(sending.invoices_unsent()) == []
    # and the credit note reads as sent, its history saying to whom
    credit.refresh_from_db()
    assert credit.status == Status.SENT
    assert InvoiceEvent.objects.filter(
        invoice=credit, kind=EventKind.SENT, reason__startswith="avoir envoyé à compta@client.fr"
    ).exists()


def test_the_daily_cycle_never_mails_the_imported_history_nor_old_documents(seller, smtp_server):
    # given: an invoice of the history import and one issued today
    imported = issued_invoice()
    fresh = issued_invoice()
    with connection.cursor() as cursor:  # as the history import writes it
        cursor.execute(
            "UPDATE invoicing_invoice SET origin = %s WHERE id = %s", [Origin.IMPORTED, imported.pk]
        )
    # then: only today's is due, and not any more once it is older than MAIL_SEND_MAX_AGE_DAYS (30)
    assert list(sending.invoices_unsent()) == [fresh]
    assert list(sending.invoices_unsent(now=timezone.now() + dt.timedelta(days=31))) == []
    # when
    sending.invoices_send_pending()
    # then
    assert [m["Subject"] for m in smtp_server.messages()] == [f"Facture {fresh.number} – SYAGA Consulting"]


def test_a_client_without_billing_address_is_refused_with_the_reason(seller, smtp_server):
    invoice = make_invoice(client=ClientFactory(invoice_emails=""), status=Status.ISSUED)
    report = sending.invoices_send(invoice_ids=[invoice.pk])
    assert report.refused == [
        (invoice, f"{invoice} : le client {invoice.client} n'a pas d'e-mail de facturation")
    ]
    assert smtp_server.envelopes == []


def test_the_template_edited_in_the_admin_is_the_one_sent(seller, smtp_server):
    MailTemplate.objects.filter(kind="one_off").update(
        subject="Votre facture {{ number }}", body="Montant : {{ amount }}, échéance {{ due_date }}."
    )
    invoice = issued_invoice(amount=Decimal("100.00"))
    sending.invoices_send(invoice_ids=[invoice.pk])
    [message] = smtp_server.messages()
    assert message["Subject"] == f"Votre facture {invoice.number}"
    assert f"Montant : 120,00\u00a0€, échéance {invoice.due_date:%d/%m/%Y}." in text_of(message)


def test_a_recurring_invoice_uses_the_flat_fee_template(seller, smtp_server):
    invoice = issued_invoice(
        origin=Origin.RECURRING, period_start=dt.date(2025, 3, 1), period_end=dt.date(2025, 3, 31)
    )
    sending.invoices_send(invoice_ids=[invoice.pk])
    assert "de votre forfait (mars 2025)" in text_of(smtp_server.messages()[0])


def test_a_quarter_reads_as_a_period_in_the_flat_fee_mail(seller, smtp_server):
    invoice = issued_invoice(
        origin=Origin.RECURRING, period_start=dt.date(2025, 12, 1), period_end=dt.date(2026, 2, 28)
    )
    sending.invoices_send(invoice_ids=[invoice.pk])
    assert "de votre forfait (du 01/12/2025 au 28/02/2026), d'un montant" in text_of(
        smtp_server.messages()[0]
    )


def test_the_mail_app_registers_its_task_after_the_issue():
    # the suite starts each test with nothing registered (tests/conftest.py): load it again
    assert "envoi au client par e-mail" not in after_issue_labels()
    apps.get_app_config("mailbox").ready()
    assert "envoi au client par e-mail" in after_issue_labels()


def test_an_internal_message_is_sent_after_commit_and_once_per_key(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sending.mail_send(
            to=["equipe@syaga.fr"], subject="Rappel", body="Saisissez vos temps.", key="coach:1"
        )
        sending.mail_send(
            to=["equipe@syaga.fr"], subject="Rappel", body="Saisissez vos temps.", key="coach:1"
        )
    assert [m.subject for m in mail.outbox] == ["Rappel"]
    row = OutboundMessage.objects.get(purpose=Purpose.INTERNAL)
    assert row.state == OutboundStatus.SENT
    assert row.message_id.endswith("@syaga.fr>")


def test_a_missing_template_is_written_back_with_its_default_text(seller, smtp_server):
    # given: the templates table emptied (a transactional test's flush, a hand-made cleanup)
    MailTemplate.objects.all().delete()
    invoice = issued_invoice()
    # when
    sending.invoices_send(invoice_ids=[invoice.pk])
    # then: sent with the default text, and every kind is back for the next ones
    assert smtp_server.messages()[0]["Subject"] == f"Facture {invoice.number} – SYAGA Consulting"
    assert MailTemplate.objects.count() == 6


def test_every_mail_leaves_with_a_local_date_and_its_offset(seller, smtp_server):
    from email.utils import parsedate_to_datetime

    from mailbox.services.dunning import reminders_send
    from tests.mailbox.helpers import sent_invoice

    # given: an invoice to send, a message to the firm (the daily report's way), a reminder due
    invoice = issued_invoice()
    late = sent_invoice(issue_date=dt.date(2025, 1, 30), amount=Decimal("1000.00"))
    smtp_server.envelopes.clear()

    # when
    sending.invoices_send(invoice_ids=[invoice.pk])
    row = sending.mail_send(to=["direction@syaga.fr"], subject="Facturation : le courrier", body="Bonjour")
    sending.outbox_flush(ids=[row.pk])
    reminders_send(on=late.due_date + dt.timedelta(days=15))

    # then: each Date header is Paris time with its offset (+0100 in winter, +0200 in summer), not -0000
    messages = smtp_server.messages()
    assert len(messages) == 3
    now = timezone.localtime()
    for message in messages:
        header = str(message["Date"])
        assert header.endswith(f" {now:%z}"), header
        assert header.endswith((" +0100", " +0200")), header
        sent_at = parsedate_to_datetime(header)
        assert sent_at.utcoffset() == now.utcoffset()
        assert abs(sent_at - timezone.now()) < dt.timedelta(minutes=2)
        assert f"{sent_at:%H:%M}" in {f"{now:%H:%M}", f"{now - dt.timedelta(minutes=1):%H:%M}"}
