"""A whole day of the firm against real local peers: the Clockify and Qonto stubs speaking their contracts,
a real SMTP server (aiosmtpd) and a real IMAP server (dovecot). Then the same day again changes nothing."""

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.utils import timezone
from pytest_httpserver import HTTPServer

from banking.models import BankTransaction
from invoicing.models import Invoice, ValidationRule
from invoicing.models.invoice import Origin, Status
from invoicing.services.review import invoice_approve
from mailbox.services.sending import invoices_send
from mailbox.tasks import poll_inbox
from syaga.core.dates import today
from syaga.ops.cycles import cycle_run
from syaga.ops.models import RunStatus
from tests.banking.qonto_stub import QontoStub
from tests.factories import ContractFactory, UserFactory, make_invoice
from tests.invoicing.test_validation_rules import client_with_history
from tests.mailbox.conftest import _mail_settings, dovecot, smtp_server  # noqa: F401 (fixtures)
from tests.mailbox.helpers import reply
from tests.timetracking.clockify_stub import ClockifyStub
from timetracking.models import CategoryRule

# Real commits: what is sent after a transaction commits (the daily report, alerts) is sent as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def approver(username):
    user = UserFactory(username=username)
    user.user_permissions.add(Permission.objects.get(codename="approve_invoice"))
    return user


@pytest.fixture(autouse=True)
def _rules_from_the_migrations():
    """The default validation and categorisation rules, put back: a transactional test may run after others
    flushed the tables (the rows written by data migrations included)."""
    if not ValidationRule.objects.exists():
        importlib.import_module("invoicing.migrations.0003_default_validation_rules").create_rules(apps, None)
    if not CategoryRule.objects.exists():
        importlib.import_module("timetracking.migrations.0002_default_category_rules").create_rules(
            apps, None
        )


@pytest.fixture
def bank_server():
    server = HTTPServer(host="127.0.0.1")
    server.start()
    yield server
    server.clear()
    server.stop()


def counts(run, code) -> dict:
    return run.steps.get(code=code).counts


def test_a_whole_day_then_the_same_day_again(seller, settings, httpserver, bank_server, smtp_server, dovecot):  # noqa: F811
    day = today()
    now = timezone.localtime()
    # --- given: the firm's books -------------------------------------------------------------------------
    anne = approver("anne")
    approver("bruno")
    acme = client_with_history(name="Acme SAS", invoice_emails="compta@acme.fr", auto_approve=True)
    ContractFactory(client=acme, amount_ht=Decimal("800.00"), start_date=day, next_billing_date=day)
    client_with_history(name="Beta SARL", invoice_emails="compta@beta.fr")
    # two invoices sent 50 days ago, 20 days overdue: one will be disputed by its client
    gamma = client_with_history(name="Gamma SA", invoice_emails="compta@gamma.fr")
    delta = client_with_history(name="Delta SAS", invoice_emails="compta@delta.fr")
    old = day - dt.timedelta(days=50)
    disputed = make_invoice(client=gamma, amounts=[Decimal("1000.00")], status=Status.ISSUED, issue_date=old)
    overdue = make_invoice(client=delta, amounts=[Decimal("700.00")], status=Status.ISSUED, issue_date=old)
    # one sent 5 days ago, which its client pays today by transfer
    epsilon = client_with_history(name="Epsilon SARL", invoice_emails="compta@epsilon.fr")
    paid_today = make_invoice(
        client=epsilon,
        amounts=[Decimal("500.00")],
        status=Status.ISSUED,
        issue_date=day - dt.timedelta(days=5),
    )
    invoices_send(invoice_ids=[disputed.pk, overdue.pk, paid_today.pk])
    sent_before = len(smtp_server.envelopes)
    assert sent_before == 3
    # the consultants' time in Clockify: three hours for Beta this morning
    clockify = ClockifyStub(httpserver)
    consultant = clockify.add_user("Camille Roux", "camille@syaga.fr")
    start = now.replace(hour=9, minute=0, second=0, microsecond=0)
    clockify.add_entry(
        consultant, start=start, end=start + dt.timedelta(hours=3), project="Migration", client="Beta SARL"
    )
    clockify.configure(settings)
    # the bank: Epsilon's transfer with the invoice number
    qonto = QontoStub(bank_server)  # a server of its own: each stub answers every path of its host
    qonto.configure(settings)
    qonto.add(
        cents=60000,
        label="EPSILON SARL",
        clean_counterparty_name="Epsilon SARL",
        reference=f"Facture {paid_today.number}",
        updated=timezone.now() - dt.timedelta(hours=1),
    )
    # Gamma's reply, read by the 15-minute inbox schedule before the morning cycle
    dovecot.append(
        reply(
            subject=f"RE: Facture {disputed.number}",
            sender="compta@gamma.fr",
            message_id="<contest@gamma.fr>",
            body="Nous contestons cette facture : la prestation n'a pas été réalisée. "
            "Nous ne la réglerons pas.",
        )
    )
    poll_inbox()
    disputed.refresh_from_db()
    assert disputed.disputed_since is not None

    # --- when: the month-end billing of time, a person approving, the daily cycle -------------------------
    month_end = cycle_run(kind="month-end", day=day)
    assert month_end.status == RunStatus.OK, list(month_end.steps.values_list("code", "status", "error"))
    time_invoice = Invoice.objects.get(origin=Origin.TIMESHEET)
    assert (time_invoice.client.name, time_invoice.total_ht) == ("Beta SARL", Decimal("330.00"))  # 3 h × 110
    assert time_invoice.status == Status.PENDING_REVIEW  # a person approves time invoices
    invoice_approve(invoice=time_invoice, user=anne)
    daily = cycle_run(kind="daily", day=day)

    # --- then ----------------------------------------------------------------------------------------------
    assert daily.status == RunStatus.OK, list(daily.steps.values_list("code", "status", "error"))
    recurring = Invoice.objects.get(origin=Origin.RECURRING, client=acme)  # its period starts on the 1st
    assert recurring.status == Status.SENT  # approved by its rule, issued, rendered, e-mailed
    time_invoice.refresh_from_db()
    assert time_invoice.status == Status.SENT
    assert recurring.pdf_path
    assert time_invoice.pdf_path
    recipients = [envelope.rcpt_tos for envelope in smtp_server.envelopes[sent_before:]]
    assert ["compta@acme.fr"] in recipients
    assert ["compta@beta.fr"] in recipients
    # the transfer matched and paid Epsilon's invoice
    paid_today.refresh_from_db()
    assert paid_today.status == Status.PAID
    assert BankTransaction.objects.get().match_status == "matched"
    # the reminder went to Delta, not to Gamma whose dispute pauses dunning
    assert ["compta@delta.fr"] in recipients
    assert ["compta@gamma.fr"] not in recipients
    # and the old history (issued long ago, never e-mailed) was neither sent nor dunned
    assert len(recipients) == 4
    # the daily report reached the firm
    assert ["direction@syaga.fr"] in recipients
    assert counts(daily, "report") == {"rapport envoyé": 1}

    # --- when: the same day again -------------------------------------------------------------------------
    messages, invoices = len(smtp_server.envelopes), Invoice.objects.count()
    again = cycle_run(kind="daily", day=day)
    # then: nothing generated, sent, matched or reminded twice
    assert again.status == RunStatus.OK
    assert counts(again, "recurring")["factures créées"] == 0
    assert counts(again, "send")["envoyés"] == 0
    assert counts(again, "match")["crédits examinés"] == 0
    assert counts(again, "dunning")["relances envoyées"] == 0
    assert counts(again, "report") == {"rapport envoyé": 0}
    assert (len(smtp_server.envelopes), Invoice.objects.count()) == (messages, invoices)
