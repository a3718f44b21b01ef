"""A separate OS process for the kill test (tests/mailbox/test_kill.py), on the database DATABASE_URL names.

``python -m tests.mailbox.send_worker seed`` creates the seller, a client and one issued invoice;
``python -m tests.mailbox.send_worker send`` runs the daily cycle's sending step, as the django-q2 worker
does.
"""

import os
import sys
from decimal import Decimal

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syaga.settings")
django.setup()

from invoicing.models.invoice import Status  # noqa: E402 (Django must be set up first)
from mailbox.services.sending import invoices_send_pending  # noqa: E402
from tests.factories import ClientFactory, SellerProfileFactory, make_invoice  # noqa: E402

if __name__ == "__main__":
    if sys.argv[1] == "seed":
        SellerProfileFactory()
        invoice = make_invoice(
            client=ClientFactory(invoice_emails="compta@client.fr"),
            amounts=(Decimal("100.00"),),
            status=Status.ISSUED,
        )
        print(invoice.number)
    else:
        print(invoices_send_pending())
