"""Two workers flush the outbox at the same moment (PostgreSQL, real transactions): each invoice leaves
once."""

import threading

import pytest
from django.db import connection

from mailbox.models import OutboundMessage, OutboundStatus
from mailbox.services import sending
from tests.mailbox.helpers import issued_invoice

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_workers_sending_at_once_send_each_invoice_once(seller, smtp_server):
    invoices = [issued_invoice() for _ in range(5)]
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        try:
            barrier.wait(10)
            sending.invoices_send_pending()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(smtp_server.envelopes) == 5
    assert OutboundMessage.objects.filter(state=OutboundStatus.SENT).count() == 5
    for invoice in invoices:
        invoice.refresh_from_db()
        assert invoice.status == "sent"
