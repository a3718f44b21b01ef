"""What happens to an invoice once approved and issued: its PDF, then its sending.

Approval calls :func:`invoices_delivery_queue` inside its transaction; the audit row is written there and
the real work is handed to :func:`delivery_dispatch` after commit. The documents and mailing issues plug
their services into ``delivery_dispatch`` (a plain call, not a signal), so one place says what follows
an approval.
"""

from django.db import transaction

from invoicing.models import Invoice, InvoiceEvent
from invoicing.models.validation import EventKind


def invoices_delivery_queue(*, invoices: list[Invoice], actor=None) -> list[InvoiceEvent]:
    """Record that these issued invoices await their PDF and sending, and dispatch them after commit."""
    from invoicing.services.review import event_build

    if not invoices:
        return []
    events = InvoiceEvent.objects.bulk_create(
        [
            event_build(
                invoice,
                EventKind.DELIVERY_QUEUED,
                from_status=invoice.status,
                to_status=invoice.status,
                actor=actor,
                reason="PDF et envoi au client programmés",
            )
            for invoice in invoices
        ]
    )
    invoice_ids = [invoice.pk for invoice in invoices]
    transaction.on_commit(lambda: delivery_dispatch(invoice_ids=invoice_ids))
    return events


def invoice_delivery_queue(*, invoice: Invoice, actor=None) -> InvoiceEvent:
    return invoices_delivery_queue(invoices=[invoice], actor=actor)[0]


def delivery_dispatch(*, invoice_ids: list[int]) -> None:
    """Runs after the approving transaction commits; never holds its locks.

    Nothing to do yet: the PDF (documents issue) and the e-mail (sending issue) are queued from here.
    """
    return None
