"""What a printed invoice or credit note shows: one context for the admin's preview and the PDF.

Once issued, the frozen snapshots of the seller and the buyer are shown, never today's profiles. Amounts and
rates stay Decimals here: the templates format them with ``{% load money %}`` (``|eur``, ``|rate``).
"""

from decimal import Decimal

from stdnum import iban as stdnum_iban

from invoicing.documents.annexes import annexes_for
from invoicing.documents.payment import epc_payload, epc_qr_svg_data_uri, rf_reference, rf_reference_printed
from invoicing.models import Invoice, SellerProfile
from invoicing.models.invoice import Kind
from invoicing.models.seller import VatRegime
from syaga.core.money import ZERO, quantize

# Printed only when the seller's profile says so: the debits mention without the option is a fineable
# inexactitude (CE 21 May 2014 n° 364610).
VAT_REGIME_MENTIONS = {
    VatRegime.RECEIPTS: "TVA acquittée sur les encaissements.",
    VatRegime.DEBITS: "Option pour le paiement de la taxe d'après les débits.",
}
NATURE_MENTION = "Prestations de services"
NO_DISCOUNT = "Pas d'escompte pour paiement anticipé."


def _decimal(value, default: str = "0") -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(default)


def _unit_label(line) -> str:
    """« 6 heures », « 1 mois », « 2 forfaits »: the unit agrees with the quantity."""
    label = line.get_unit_display()
    return f"{label}s" if abs(line.quantity) >= 2 and not label.endswith("s") else label


def payment_context(invoice: Invoice, seller: dict) -> dict:
    """The RF reference and the SEPA QR code of an issued invoice that is to be paid by transfer."""
    if invoice.kind != Kind.INVOICE or not invoice.number:
        return {"rf": "", "rf_printed": "", "qr": ""}
    reference = rf_reference(invoice.number)
    qr = ""
    if seller.get("iban") and invoice.total_ttc > ZERO:
        payload = epc_payload(
            name=seller.get("legal_name", ""),
            iban=seller["iban"],
            bic=seller.get("bic", ""),
            amount=invoice.total_ttc,
            reference=reference,
        )
        qr = epc_qr_svg_data_uri(payload)
    return {"rf": reference, "rf_printed": rf_reference_printed(reference), "qr": qr}


def invoice_document_context(invoice: Invoice, *, with_payment: bool = True) -> dict:
    """What the printed invoice shows: the frozen snapshots once issued, the current profiles before."""
    seller = invoice.seller_snapshot
    if not seller:
        profile = SellerProfile.current()
        seller = profile.snapshot() if profile else {}
    buyer = invoice.buyer_snapshot or invoice.client.snapshot()
    lines = [
        {
            "position": line.position,
            "description": line.description,
            "quantity": f"{line.quantity.normalize():f}".replace(".", ","),
            "unit": _unit_label(line),
            "unit_price": line.unit_price,
            "vat_rate": line.vat_rate,
            "total_ht": line.total_ht,
        }
        for line in invoice.lines.all()
    ]
    vat_rows = [
        {"rate": Decimal(row["rate"]), "base_ht": quantize(row["base_ht"]), "vat": quantize(row["vat"])}
        for row in (invoice.vat_breakdown or [])
    ]
    credit_note = invoice.kind == Kind.CREDIT_NOTE
    credited = invoice.credited_invoice if credit_note else None
    context = {
        "invoice": invoice,
        "seller": seller,
        "buyer": buyer,
        "lines": lines,
        "vat_rows": vat_rows,
        "number": invoice.number or "(attribué à l'émission)",
        "title": "Avoir" if credit_note else "Facture",
        "credit_note": credit_note,
        "credited": credited,
        "total_ht": invoice.total_ht,
        "total_vat": invoice.total_vat,
        "total_ttc": invoice.total_ttc,
        "nature": NATURE_MENTION,
        "vat_mention": VAT_REGIME_MENTIONS.get(seller.get("vat_regime"), ""),
        "early_payment_discount": seller.get("early_payment_discount") or NO_DISCOUNT,
        "recovery_indemnity": quantize(_decimal(seller.get("recovery_indemnity"), "40.00")),
        "late_penalty_rate": _decimal(seller["late_penalty_rate"])
        if seller.get("late_penalty_rate")
        else None,
        "iban_printed": stdnum_iban.format(seller["iban"]) if seller.get("iban") else "",
        "share_capital": quantize(_decimal(seller["share_capital"])) if seller.get("share_capital") else None,
        # The date of the service when it differs from the issue date (242 nonies A): the billed period.
        "service_date": invoice.period_end if invoice.period_end and not invoice.period_start else None,
        "notes": invoice.notes,
        # Pages after the invoice from the apps above (the time sheet of a time-billed invoice).
        "annexes": annexes_for(invoice),
    }
    if with_payment:
        context.update(payment_context(invoice, seller))
    return context
