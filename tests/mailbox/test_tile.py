"""The first page's mail tile: replies by category this week, open disputes by urgency, invoices sent this
month, the next reminders due."""

import datetime as dt
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from mailbox.models import InboundMessage, OutboundMessage, Purpose
from mailbox.selectors import week_tile
from mailbox.services import sending
from mailbox.services.inbox import inbound_store
from tests.factories import ClientFactory
from tests.mailbox.helpers import issued_invoice, reply, sent_invoice

pytestmark = pytest.mark.django_db


def test_the_tile_counts_this_weeks_replies_disputes_sends_and_coming_reminders(seller, mailoutbox):
    today = timezone.localdate()
    client = ClientFactory(name="Durand SAS", invoice_emails="compta@durand.fr")
    # given: an invoice e-mailed today, one overdue by 10 days (its first reminder in 5 days)
    fresh = issued_invoice(amount=Decimal("500.00"), client=client)
    sending.invoices_send(invoice_ids=[fresh.pk])
    overdue = sent_invoice(
        issue_date=today - dt.timedelta(days=40), client=ClientFactory(invoice_emails="a@b.fr")
    )
    # and replies: two acknowledgements, one urgent dispute, one corrected to a question, one last week
    for n, body in enumerate(
        ["Bien reçu", "Bien reçu merci", "Nous refusons de payer, notre avocat vous écrira."]
    ):
        inbound_store(
            reply(
                subject=f"RE: Facture {fresh.number}",
                sender="compta@durand.fr",
                message_id=f"<{n}@d.fr>",
                body=body,
            )
        )
    inbound_store(reply(subject="Re", sender="compta@durand.fr", message_id="<x@d.fr>", body="Merci"))
    InboundMessage.objects.filter(message_id="<x@d.fr>").update(corrected_category="question")
    inbound_store(reply(subject="Re", sender="compta@durand.fr", message_id="<old@d.fr>", body="Merci"))
    InboundMessage.objects.filter(message_id="<old@d.fr>").update(
        received_at=timezone.now() - dt.timedelta(days=8)
    )
    # when
    tile = week_tile(on=today)
    # then
    counts = {row["category"]: row["count"] for row in tile["replies"]}
    assert counts == {"ack": 2, "question": 1, "dispute": 1, "payment": 0, "delay": 0, "auto_reply": 0}
    assert tile["replies_total"] == 4
    assert tile["open_disputes"] == [
        {"urgency": 5, "count": 1},
        {"urgency": 4, "count": 0},
        {"urgency": 3, "count": 0},
        {"urgency": 2, "count": 0},
        {"urgency": 1, "count": 0},
    ]
    assert tile["open_disputes_amount"] == Decimal("600.00")
    # both were sent this month (the overdue one is dated in the past, but it left today)
    assert tile["sent_this_month"] == {"count": 2, "amount": Decimal("1800.00")}
    assert [(r["number"], r["level"], r["date"]) for r in tile["next_reminders"]] == [
        (overdue.number, 1, overdue.due_date + dt.timedelta(days=15))
    ]
    # and the partial renders it in French
    html = render_to_string("mailbox/tile.html", {"tile": tile})
    assert "Litiges ouverts : 1 (600,00\u00a0€ en jeu)" in html
    assert f"{overdue.number}</a>" in html
    assert OutboundMessage.objects.filter(purpose=Purpose.INVOICE).count() == 1
