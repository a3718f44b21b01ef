"""The coming reminders the first page lists: each e-mailed open invoice's next level on its day, held ones
left out, the soonest first (the longest overdue first on one day), chosen by the database (the first page
stays fast with 15,000 open invoices)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoicing.services import lifecycle
from mailbox.models import OutboundMessage, OutboundStatus, Purpose
from mailbox.services.dunning import next_reminders
from syaga.core.dates import today
from tests.factories import ClientFactory, make_invoice
from tests.mailbox.helpers import sent_invoice

pytestmark = pytest.mark.django_db


def due(days_ago: int, **kwargs):
    """An invoice e-mailed to its client, due ``days_ago`` days ago."""
    t = today()
    return sent_invoice(
        issue_date=t - dt.timedelta(days=days_ago + 30), due_date=t - dt.timedelta(days=days_ago), **kwargs
    )


def given(invoice, *levels):
    for level in levels:
        OutboundMessage.objects.create(
            invoice=invoice,
            purpose=Purpose.REMINDER,
            level=level,
            dedupe_key=f"invoice:{invoice.pk}:reminder:{level}",
            message_id=f"<r{invoice.pk}.{level}@test>",
            to="compta@client.fr",
            subject="Relance",
            body="…",
            state=OutboundStatus.SENT,
        )


@pytest.fixture
def books(seller, settings):
    settings.MAIL_PROMISE_GRACE_DAYS = 5
    t = today()
    late = due(50)  # J+15 passed long ago, never reminded: today
    later = due(70)  # today too, and more overdue: before it
    soon = due(10)  # J+15 in 5 days
    second = due(20)  # reminded at J+15: J+30 in 10 days
    given(second, 1)
    done = due(60)  # every level given: nothing more
    given(done, 1, 2, 3)
    # held: under dispute, payment promised (J+15 in 5 days, promise in 2 + 5 days of grace)
    disputed = due(40)
    lifecycle.invoice_dispute_open(invoice=disputed, reason="montant contesté")
    promised = due(10)
    lifecycle.invoice_payment_promise_record(invoice=promised, promised_for=t + dt.timedelta(days=2))
    # a delay until the reminder's day holds it; a delay ending before it does not
    held = due(12)
    lifecycle.invoice_delay_grant(invoice=held, until=t + dt.timedelta(days=20))
    after_delay = due(12)
    lifecycle.invoice_delay_grant(invoice=after_delay, until=t + dt.timedelta(days=1))
    # never e-mailed: no reminder about a document the client never received
    make_invoice(
        client=ClientFactory(invoice_emails="a@b.fr"),
        amounts=(Decimal("100.00"),),
        status="issued",
        issue_date=t - dt.timedelta(days=80),
        due_date=t - dt.timedelta(days=50),
    )
    return {"late": late, "later": later, "soon": soon, "second": second, "after_delay": after_delay}


def test_the_next_reminders_soonest_first_held_ones_left_out(books):
    t = today()
    # when
    rows = next_reminders(on=t, limit=10)
    # then
    assert [(row["invoice"], row["level"], row["date"]) for row in rows] == [
        (books["later"], 1, t),
        (books["late"], 1, t),
        (books["after_delay"], 1, t + dt.timedelta(days=3)),
        (books["soon"], 1, t + dt.timedelta(days=5)),
        (books["second"], 2, t + dt.timedelta(days=10)),
    ]
    assert rows[1]["invoice"].amount_due == books["late"].total_ttc


def test_the_next_reminders_cost_the_same_whatever_the_open_invoices(books):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            rows = next_reminders(on=today(), limit=3)
            [row["invoice"].client.name for row in rows]
        return captured

    before = queries()
    for n in range(5):
        due(30 + n)
    after = queries()
    assert len(after) == len(before)
    # the database picks the three: it never hands over every open invoice
    invoices = [q["sql"] for q in after if 'FROM "invoicing_invoice"' in q["sql"]]
    assert invoices
    assert all("LIMIT 3" in sql for sql in invoices)
