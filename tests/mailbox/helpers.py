"""Shared makers for the mail tests."""

import datetime as dt
from decimal import Decimal

from invoicing.models.invoice import Status
from tests.factories import ClientFactory, make_invoice


def sent_invoice(*, issue_date: dt.date, amount=Decimal("1000.00"), client=None, **kwargs):
    """An issued invoice already e-mailed (status sent), due 30 days after ``issue_date``."""
    client = client or ClientFactory(invoice_emails="compta@client.fr")
    return make_invoice(client=client, amounts=(amount,), status=Status.SENT, issue_date=issue_date, **kwargs)


def issued_invoice(*, amount=Decimal("1000.00"), client=None, **kwargs):
    client = client or ClientFactory(invoice_emails="compta@client.fr, dg@client.fr")
    return make_invoice(client=client, amounts=(amount,), status=Status.ISSUED, **kwargs)


def reply(
    *,
    subject: str,
    body: str,
    sender: str = "compta@client.fr",
    message_id: str = "<r1@client.fr>",
    in_reply_to: str = "",
    extra: str = "",
    charset: str = "utf-8",
    date: str = "Tue, 04 Mar 2025 10:00:00 +0100",
) -> bytes:
    headers = [
        f"From: Compta Client <{sender}>",
        "To: facturation@syaga.fr",
        f"Subject: {subject}",
        f"Date: {date}",
        "MIME-Version: 1.0",
        f"Content-Type: text/plain; charset={charset}",
        "Content-Transfer-Encoding: 8bit",
    ]
    if message_id:
        headers.append(f"Message-ID: {message_id}")
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    if extra:
        headers.append(extra)
    encoding = "latin-1" if charset.lower() in ("iso-8859-1", "latin-1") else "utf-8"
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body.replace("\n", "\r\n").encode(encoding)
