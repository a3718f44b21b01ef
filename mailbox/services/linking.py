"""Which invoice a reply is about: our Message-IDs it answers, else an invoice number it cites, else its
sender.

1. In-Reply-To, then References (nearest first), against the Message-IDs we sent (``<invoice-F….N@…>``).
2. An invoice or credit note number in the subject, then in the new text, then in the quoted text
   (F20250012, "F 2025 0012", "F2025-0012"); with several, the one of the sender's client first.
3. The sender's address among a client's billing addresses (then its domain, public mail domains aside):
   the client's only open invoice if it has exactly one; otherwise the client alone, for a person to link.
"""

import re
from dataclasses import dataclass

from invoicing.models import Client, Invoice
from mailbox.models import OutboundMessage
from mailbox.models.inbound import LinkMethod
from mailbox.services.parsing import ParsedMessage

NUMBER = re.compile(r"\b([FA])[ -]?(20\d{2})[ -]?(\d{4,6})\b", re.IGNORECASE)
PUBLIC_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "hotmail.com",
        "hotmail.fr",
        "outlook.com",
        "outlook.fr",
        "live.com",
        "live.fr",
        "yahoo.com",
        "yahoo.fr",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "sfr.fr",
        "laposte.net",
        "icloud.com",
        "me.com",
        "gmx.fr",
        "gmx.com",
        "proton.me",
        "protonmail.com",
        "bbox.fr",
        "neuf.fr",
    }
)


@dataclass
class Link:
    invoice: Invoice | None = None
    client: Client | None = None
    method: str = LinkMethod.NONE
    detail: str = ""


def numbers_in(text: str) -> list[str]:
    return list(dict.fromkeys(f"{m[1].upper()}{m[2]}{m[3]}" for m in NUMBER.finditer(text or "")))


def client_for_sender(address: str) -> Client | None:
    address = (address or "").strip().lower()
    if "@" not in address:
        return None
    candidates = Client.objects.filter(invoice_emails__icontains=address)
    exact = [c for c in candidates if address in (e.lower() for e in c.email_list)]
    if len(exact) == 1:
        return exact[0]
    if exact:
        return None  # one address shared by several clients: a person decides
    domain = address.rpartition("@")[2]
    if domain in PUBLIC_DOMAINS:
        return None
    by_domain = [
        c
        for c in Client.objects.filter(invoice_emails__icontains="@" + domain)
        if any(e.lower().endswith("@" + domain) for e in c.email_list)
    ]
    return by_domain[0] if len(by_domain) == 1 else None


def link(parsed: ParsedMessage, *, new_text: str = "") -> Link:
    thread_ids = parsed.thread_ids
    if thread_ids:
        ours = {
            row.message_id: row
            for row in OutboundMessage.objects.filter(
                message_id__in=thread_ids, invoice__isnull=False
            ).select_related("invoice", "invoice__client")
        }
        for message_id in thread_ids:
            if message_id in ours:
                invoice = ours[message_id].invoice
                return Link(invoice, invoice.client, LinkMethod.THREAD, message_id)
    sender_client = client_for_sender(parsed.from_email)
    cited = numbers_in(parsed.subject) + numbers_in(new_text) + numbers_in(parsed.text)
    cited = list(dict.fromkeys(cited))
    if cited:
        found = {i.number: i for i in Invoice.objects.filter(number__in=cited).select_related("client")}
        ordered = [found[n] for n in cited if n in found]
        if sender_client is not None:
            ordered.sort(key=lambda invoice: invoice.client_id != sender_client.pk)
        if ordered:
            return Link(ordered[0], ordered[0].client, LinkMethod.NUMBER, ordered[0].number)
    if sender_client is not None:
        open_invoices = list(Invoice.objects.open().filter(client=sender_client).order_by("-issue_date")[:2])
        if len(open_invoices) == 1:
            return Link(open_invoices[0], sender_client, LinkMethod.CLIENT, parsed.from_email)
        return Link(None, sender_client, LinkMethod.CLIENT, parsed.from_email)
    return Link()
