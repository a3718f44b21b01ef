"""The law's checks on an invoice: the mandatory mentions it must print and the latest lawful due date.

Code de commerce L441-9 and L441-10, CGI art. 242 nonies A (see ../shared/contracts/french-invoicing.md).
The validation rules call them before an invoice is issued; the documents will print the same mentions.
"""

import datetime as dt

from invoicing.models import Invoice, SellerProfile
from syaga.core.dates import end_of_month

LEGAL_DAYS_FROM_ISSUE = 60
LEGAL_DAYS_END_OF_MONTH = 45


def legal_mentions_missing(invoice: Invoice, seller: SellerProfile | None) -> list[str]:
    """The mandatory mentions (code de commerce L441-9, CGI 242 nonies A) this invoice would print without."""
    missing = []
    if seller is None:
        missing.append("profil vendeur (identité, SIREN, adresse…)")
    else:
        for label, value in (
            ("raison sociale du vendeur", seller.legal_name),
            ("SIREN du vendeur", seller.siren),
            ("n° de TVA du vendeur", seller.vat_number),
            ("adresse du vendeur", seller.address_line1),
            ("code postal du vendeur", seller.postal_code),
            ("ville du vendeur", seller.city),
            ("forme juridique du vendeur", seller.legal_form),
            ("ville du RCS du vendeur", seller.rcs_city),
        ):
            if not (value or "").strip():
                missing.append(label)
        if not seller.share_capital:
            missing.append("capital social du vendeur")
        if seller.late_penalty_rate is None:
            missing.append("taux des pénalités de retard")
    client = invoice.client
    if not client.name.strip():
        missing.append("nom de l'acheteur")
    if not (client.address_line1.strip() and client.city.strip()):
        missing.append("adresse de l'acheteur")
    if invoice.issue_date is None:
        missing.append("date d'émission")
    if invoice.due_date is None:
        missing.append("date d'échéance")
    lines = list(invoice.lines.all())
    if not lines:
        missing.append("au moins une ligne")
    for line in lines:
        gaps = [
            label
            for label, ok in (
                ("désignation", bool(line.description.strip())),
                ("quantité", line.quantity is not None),
                ("prix unitaire", line.unit_price is not None),
                ("taux de TVA", line.vat_rate is not None),
            )
            if not ok
        ]
        if gaps:
            missing.append(f"ligne {line.position} : {', '.join(gaps)}")
    return missing


def legal_due_date_limit(issue_date: dt.date) -> dt.date:
    """The latest lawful due date (art. L441-10): 60 days after issue or 45 days end of month.

    The law allows either when the contract says so; we accept whichever falls later.
    """
    return max(
        issue_date + dt.timedelta(days=LEGAL_DAYS_FROM_ISSUE),
        end_of_month(issue_date) + dt.timedelta(days=LEGAL_DAYS_END_OF_MONTH),
    )
