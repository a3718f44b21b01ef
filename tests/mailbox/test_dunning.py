"""Dunning: J+15 / J+30 / J+45 (configurable), one reminder a day at most, missed levels sent once, and the
stops (paid, disputed, payment promised, delay granted, never sent, no address)."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from invoicing.models import InvoiceEvent
from invoicing.models.invoice import Status
from invoicing.models.validation import EventKind
from invoicing.services import lifecycle
from invoicing.services.invoices import credit_note_create
from mailbox.models import MailTemplate, OutboundMessage, Purpose
from mailbox.services import sending
from mailbox.services.dunning import reminders_plan, reminders_send
from mailbox.services.rendering import late_penalties
from tests.factories import ClientFactory, make_invoice
from tests.mailbox.helpers import sent_invoice

pytestmark = pytest.mark.django_db

ISSUED = dt.date(2025, 1, 30)
DUE = dt.date(2025, 3, 1)  # 30 days later


def at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(7, 0)))


def run(day_offset: int):
    day = DUE + dt.timedelta(days=day_offset)
    return reminders_send(on=day, now=at(day))


def reminders(invoice=None):
    rows = OutboundMessage.objects.filter(purpose=Purpose.REMINDER)
    if invoice is not None:
        rows = rows.filter(invoice=invoice)
    return list(rows.order_by("created_at").values_list("level", flat=True))


@pytest.fixture
def invoice(seller):
    made = sent_invoice(issue_date=ISSUED, amount=Decimal("1000.00"))
    assert made.due_date == DUE
    return made


def test_each_level_leaves_on_its_day_and_only_then(invoice, mailoutbox):
    for offset in range(0, 70):
        run(offset)
    assert reminders(invoice) == [1, 2, 3]
    sent = {m.created_at.date(): m.level for m in OutboundMessage.objects.filter(purpose=Purpose.REMINDER)}
    assert sent == {
        DUE + dt.timedelta(days=15): 1,
        DUE + dt.timedelta(days=30): 2,
        DUE + dt.timedelta(days=45): 3,
    }
    assert [m.subject for m in mailoutbox] == [
        f"Rappel : facture {invoice.number} échue le 01/03/2025",
        f"Deuxième relance : facture {invoice.number} impayée",
        f"Mise en demeure de payer – facture {invoice.number}",
    ]


def test_the_job_running_twice_a_day_sends_one_reminder(invoice, mailoutbox):
    run(15)
    run(15)
    assert reminders(invoice) == [1]
    assert len(mailoutbox) == 1


def test_missed_levels_are_not_sent_all_at_once(invoice, mailoutbox):
    # given: the machine was off from J+10 to J+50
    run(10)
    # when
    for offset in range(50, 80):
        run(offset)
    # then: one reminder, today's level, and none of the missed ones later
    assert reminders(invoice) == [3]
    assert len(mailoutbox) == 1


def test_a_level_missed_while_off_is_sent_once_when_back(invoice, mailoutbox):
    run(15)
    for offset in range(33, 40):  # off over J+30
        run(offset)
    assert reminders(invoice) == [1, 2]


def test_two_reminders_are_a_week_apart_at_least(invoice, mailoutbox):
    run(29)  # first run of the machine: level 1
    run(30)
    run(35)
    assert reminders(invoice) == [1]
    run(36)
    assert reminders(invoice) == [1, 2]


def test_the_final_notice_states_the_penalties_and_the_indemnity(invoice, mailoutbox):
    # given: 1 200,00 € TTC unpaid, 12,15 % a year, 45 days late
    assert late_penalties(balance=Decimal("1200.00"), annual_rate=Decimal("12.15"), days_late=45) == Decimal(
        "17.98"
    )
    # when
    run(45)
    # then
    body = mailoutbox[0].body
    assert "pénalités de retard au taux annuel de 12,15\u00a0% sur 45 jours : 17,98\u00a0€" in body
    assert (
        "indemnité forfaitaire pour frais de recouvrement (articles L441-10 et D441-5 du code de commerce) : "
        "40,00\u00a0€" in body
    )
    assert "la somme de 1\u202f257,98\u00a0€" in body


def test_nothing_is_sent_for_a_paid_or_cancelled_invoice(seller, mailoutbox):
    paid = sent_invoice(issue_date=ISSUED)
    lifecycle.invoice_record_payment(invoice=paid, amount=paid.total_ttc, paid_on=DUE + dt.timedelta(days=3))
    cancelled = sent_invoice(issue_date=ISSUED)
    credit_note_create(invoice=cancelled, reason="annulée")
    run(20)
    assert reminders() == []


def test_a_partly_paid_invoice_is_reminded_of_its_balance(seller, mailoutbox):
    invoice = sent_invoice(issue_date=ISSUED, amount=Decimal("1000.00"))
    lifecycle.invoice_record_payment(invoice=invoice, amount=Decimal("200.00"), paid_on=DUE)
    run(15)
    assert "reste dû : 1\u202f000,00\u00a0€" in mailoutbox[0].body


def test_a_dispute_holds_the_reminders_until_it_is_closed(invoice, mailoutbox):
    lifecycle.invoice_dispute_open(invoice=invoice, reason="montant contesté")
    plan = reminders_plan(on=DUE + dt.timedelta(days=15))
    assert plan.due == []
    assert plan.held[0].reason.startswith("en litige depuis le")
    run(15)
    assert reminders() == []
    lifecycle.invoice_dispute_close(invoice=invoice, reason="réglé à l'amiable")
    run(16)
    assert reminders(invoice) == [1]


def test_a_payment_promise_holds_the_reminders_until_its_date_and_a_grace(invoice, mailoutbox, settings):
    settings.MAIL_PROMISE_GRACE_DAYS = 5
    lifecycle.invoice_payment_promise_record(invoice=invoice, promised_for=DUE + dt.timedelta(days=20))
    for offset in range(15, 26):
        run(offset)
    assert reminders() == []
    run(26)
    assert reminders(invoice) == [1]


def test_a_delay_granted_holds_the_reminders_until_its_date(invoice, mailoutbox):
    lifecycle.invoice_delay_grant(invoice=invoice, until=DUE + dt.timedelta(days=40))
    for offset in range(15, 41):
        run(offset)
    assert reminders() == []
    run(41)
    assert reminders(invoice) == [2]


def test_an_invoice_never_emailed_or_without_address_gets_no_reminder(seller, mailoutbox):
    never_sent = make_invoice(status=Status.ISSUED, issue_date=ISSUED)
    no_address = sent_invoice(issue_date=ISSUED, client=ClientFactory(invoice_emails=""))
    plan = reminders_plan(on=DUE + dt.timedelta(days=15))
    reasons = {hold.invoice.pk: hold.reason for hold in plan.held}
    assert reasons[never_sent.pk] == "facture jamais envoyée par e-mail"
    assert reasons[no_address.pk] == f"le client {no_address.client} n'a pas d'e-mail de facturation"
    assert plan.due == []


def test_the_levels_are_configured_in_the_admin_templates(invoice, mailoutbox):
    MailTemplate.objects.filter(kind="dunning_1").update(days_after_due=10)
    MailTemplate.objects.filter(kind="dunning_2").update(active=False)
    for offset in range(0, 60):
        run(offset)
    assert reminders(invoice) == [1, 3]
    assert OutboundMessage.objects.get(level=1).created_at.date() == DUE + dt.timedelta(days=10)


def test_each_reminder_is_logged_on_the_invoice_and_threads_under_its_first_email(seller, mailoutbox):
    invoice = make_invoice(
        client=ClientFactory(invoice_emails="compta@client.fr"), status=Status.ISSUED, issue_date=ISSUED
    )
    sending.invoices_send(invoice_ids=[invoice.pk])
    run(15)
    first, reminder = mailoutbox
    assert reminder.extra_headers["Message-ID"] == f"<invoice-{invoice.number}.2@syaga.fr>"
    assert reminder.extra_headers["In-Reply-To"] == first.extra_headers["Message-ID"]
    assert InvoiceEvent.objects.filter(
        invoice=invoice, kind=EventKind.SENT, reason__startswith="relance niveau 1 envoyée à compta@client.fr"
    ).exists()


def test_send_reminders_dry_run_shows_what_would_leave_and_sends_nothing(invoice, mailoutbox):
    out = StringIO()
    day = (DUE + dt.timedelta(days=15)).strftime("%d/%m/%Y")
    call_command("send_reminders", "--dry-run", "--date", day, stdout=out)
    assert f"{invoice.number}  {invoice.client}  niveau 1  J+15" in out.getvalue()
    assert "(simulation : rien n'a été envoyé)" in out.getvalue()
    assert reminders() == []
    assert mailoutbox == []
    call_command("send_reminders", "--date", day, stdout=StringIO())
    assert reminders(invoice) == [1]
