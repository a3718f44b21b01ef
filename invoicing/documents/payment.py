"""How the client pays: the ISO 11649 (RF) creditor reference of a document and its EPC (SEPA) QR code.

The RF reference is derived from the invoice number (``F20260001`` → ``RF12F20260001``), printed on the
invoice in groups of four, put in the Factur-X remittance information and in the QR code's structured
reference, so that the client's transfer carries a reference the bank matching can read back.
"""

import re
from decimal import Decimal

import segno
from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

from syaga.core.money import quantize

RF_BODY = re.compile(r"^[A-Z0-9]{1,21}$")
EPC_MAX_AMOUNT = Decimal("999999999.99")
EPC_NAME_LENGTH = 70


def rf_reference(number: str) -> str:
    """``RF`` + check digits + the invoice number (letters and digits only), valid under ISO 11649."""
    body = re.sub(r"[^A-Za-z0-9]", "", number or "").upper()
    if not RF_BODY.match(body):
        raise ValueError(f"numéro « {number} » : une référence RF prend 1 à 21 lettres ou chiffres")
    reference = f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"
    iso11649.validate(reference)
    return reference


def rf_reference_printed(reference: str) -> str:
    """In groups of four, as a person copies it into a bank form: ``RF12 F202 6000 1``."""
    return iso11649.format(reference)


def epc_payload(*, name: str, iban: str, amount: Decimal, reference: str, bic: str = "") -> str:
    """The EPC069-12 (version 002, UTF-8) payload of a SEPA credit transfer with a structured reference.

    One element per line: service tag, version, charset, SCT, BIC, name, IBAN, amount in EUR with a dot,
    purpose (empty), the RF reference; nothing after the last element used.
    """
    amount = quantize(amount)
    if not Decimal("0.01") <= amount <= EPC_MAX_AMOUNT:
        raise ValueError(f"montant {amount} hors des bornes d'un QR code SEPA")
    compact_iban = "".join(iban.split()).upper()
    elements = [
        "BCD",
        "002",
        "1",
        "SCT",
        "".join(bic.split()).upper(),
        name.strip()[:EPC_NAME_LENGTH],
        compact_iban,
        f"EUR{amount}",
        "",
        reference,
    ]
    return "\n".join(elements)


def epc_qr_svg_data_uri(payload: str) -> str:
    """The QR code as an SVG data URI (error correction M, at most version 13, as EPC069-12 asks)."""
    qr = segno.make_qr(payload, error="m", boost_error=False, encoding="utf-8")
    if qr.version > 13:
        raise ValueError("QR code SEPA trop long (version > 13)")
    return qr.svg_data_uri(scale=3, border=0, dark="#1b2a3a")
