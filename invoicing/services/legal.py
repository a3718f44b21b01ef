"""The law's checks on an invoice: the mandatory mentions it must print and the latest lawful due date.

Code de commerce L441-9 and L441-10, CGI art. 242 nonies A (see ../shared/contracts/french-invoicing.md).
The validation rules call them before an invoice is issued; the documents will print the same mentions.
"""

import datetime as dt

from django.core.exceptions import ValidationError

from invoicing.models import Invoice, SellerProfile
from invoicing.validators import validate_iban, validate_siren, validate_siret, validate_vat_number
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
        if not (seller.email or "").strip():
            missing.append("adresse électronique du vendeur (Factur-X BT-34)")
        if not (seller.iban or "").strip():
            missing.append("IBAN du vendeur (instructions de paiement)")
        missing += identifiers_invalid(
            "du vendeur",
            siren=seller.siren,
            siret=seller.siret,
            vat_number=seller.vat_number,
            iban=seller.iban,
        )
    client = invoice.client
    if not client.name.strip():
        missing.append("nom de l'acheteur")
    if not (client.address_line1.strip() and client.postal_code.strip() and client.city.strip()):
        missing.append("adresse de l'acheteur")
    if (client.country or "FR") == "FR" and not client.siren.strip():
        # Décret 2022-1299: the buyer's SIREN on a B2B invoice; the Factur-X legal id (BT-47, scheme 0002).
        missing.append("SIREN de l'acheteur")
    missing += identifiers_invalid(
        "de l'acheteur", siren=client.siren, siret=client.siret, vat_number=client.vat_number
    )
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


IDENTIFIER_CHECKS = (
    ("SIREN", "siren", validate_siren),
    ("SIRET", "siret", validate_siret),
    ("n° de TVA", "vat_number", validate_vat_number),
    ("IBAN", "iban", validate_iban),
)


def identifiers_invalid(whose: str, **values: str) -> list[str]:
    """The identifiers given that do not pass their check (key, length, country): « SIREN du vendeur
    invalide (123) ». Empty ones are the mentions' business, not this check's."""
    invalid = []
    for label, key, check in IDENTIFIER_CHECKS:
        value = (values.get(key) or "").strip()
        if not value:
            continue
        try:
            check(value)
        except ValidationError:
            invalid.append(f"{label} {whose} invalide ({value})")
    siren, siret = (values.get("siren") or "").replace(" ", ""), (values.get("siret") or "").replace(" ", "")
    if siren and siret and not siret.startswith(siren):
        invalid.append(f"SIRET {whose} ({siret}) d'une autre entreprise que son SIREN ({siren})")
    return invalid


def legal_due_date_limit(issue_date: dt.date) -> dt.date:
    """The latest lawful due date (art. L441-10): 60 days after issue or 45 days end of month.

    The law allows either when the contract says so; we accept whichever falls later.
    """
    return max(
        issue_date + dt.timedelta(days=LEGAL_DAYS_FROM_ISSUE),
        end_of_month(issue_date) + dt.timedelta(days=LEGAL_DAYS_END_OF_MONTH),
    )
