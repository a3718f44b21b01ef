"""Open tracking: off by default; when on, a 1-pixel image with an unguessable token records the first open,
without login, and reveals nothing."""

import pytest

from mailbox.models import OutboundMessage
from mailbox.services import sending
from tests.mailbox.helpers import issued_invoice

pytestmark = pytest.mark.django_db


def html_of(email) -> str:
    return (
        email.alternatives[0][0]
        if hasattr(email.alternatives[0], "__getitem__")
        else email.alternatives[0].content
    )


def test_off_by_default_no_token_no_pixel(seller, mailoutbox):
    invoice = issued_invoice()
    sending.invoices_send(invoice_ids=[invoice.pk])
    row = OutboundMessage.objects.get()
    assert row.tracking_token is None
    assert "<img" not in html_of(mailoutbox[0])


def test_when_enabled_the_first_open_is_recorded_without_login(seller, mailoutbox, settings, client):
    settings.MAIL_OPEN_TRACKING = True
    settings.MAIL_PUBLIC_URL = "https://factures.syaga.fr"
    invoice = issued_invoice()
    sending.invoices_send(invoice_ids=[invoice.pk])
    row = OutboundMessage.objects.get()
    assert len(row.tracking_token) >= 40
    url = f"/m/o/{row.tracking_token}.gif"
    assert f'<img src="https://factures.syaga.fr{url}" width="1" height="1"' in html_of(mailoutbox[0])
    # when: the client's mail program fetches the image (no session)
    first = client.get(url)
    row.refresh_from_db()
    opened = row.opened_at
    second = client.get(url)
    # then: a 1x1 GIF each time, the first open only is kept
    assert first.status_code == 200
    assert first["Content-Type"] == "image/gif"
    assert first.content.startswith(b"GIF89a")
    assert opened is not None
    row.refresh_from_db()
    assert row.opened_at == opened
    assert second.content == first.content


def test_an_unknown_token_gets_the_same_image_and_changes_nothing(seller, settings, client):
    settings.MAIL_OPEN_TRACKING = True
    response = client.get("/m/o/not-a-token.gif")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert not OutboundMessage.objects.filter(opened_at__isnull=False).exists()
