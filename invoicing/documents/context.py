"""What a printed invoice or credit note shows, in French formats: one context for the admin's preview and
the documents made from it.

Once issued, the frozen snapshots of the seller and the buyer are shown, never today's profiles.
"""

from decimal import Decimal

from invoicing.models import Invoice, SellerProfile
from invoicing.models.invoice import Kind
from invoicing.models.seller import VatRegime
from syaga.core.money import format_eur, format_rate, quantize

VAT_REGIME_MENTIONS = {
    VatRegime.RECEIPTS: "TVA acquittée sur les encaissements.",
    VatRegime.DEBITS: "Option pour le paiement de la taxe d'après les débits.",
}


def invoice_document_context(invoice: Invoice) -> dict:
    """What the printed invoice shows: the frozen snapshots once issued, the current profiles before."""
    seller = invoice.seller_snapshot
    if not seller:
        profile = SellerProfile.current()
        seller = profile.snapshot() if profile else {}
    buyer = invoice.buyer_snapshot or invoice.client.snapshot()
    lines = [
        {
            "description": line.description,
            "quantity": f"{line.quantity.normalize():f}",
            "unit": line.get_unit_display(),
            "unit_price": format_eur(line.unit_price),
            "vat_rate": format_rate(line.vat_rate),
            "total_ht": format_eur(line.total_ht),
        }
        for line in invoice.lines.all()
    ]
    vat_rows = [
        {
            "rate": format_rate(Decimal(row["rate"])),
            "base_ht": format_eur(quantize(row["base_ht"])),
            "vat": format_eur(quantize(row["vat"])),
        }
        for row in (invoice.vat_breakdown or [])
    ]
    return {
        "invoice": invoice,
        "seller": seller,
        "buyer": buyer,
        "lines": lines,
        "vat_rows": vat_rows,
        "number": invoice.number or "(attribué à l'émission)",
        "title": "Avoir" if invoice.kind == Kind.CREDIT_NOTE else "Facture",
        "total_ht": format_eur(invoice.total_ht),
        "total_vat": format_eur(invoice.total_vat),
        "total_ttc": format_eur(invoice.total_ttc),
        "vat_mention": VAT_REGIME_MENTIONS.get(seller.get("vat_regime"), ""),
        "recovery_indemnity": format_eur(quantize(seller.get("recovery_indemnity") or "40.00")),
        "late_penalty_rate": format_rate(Decimal(seller["late_penalty_rate"]))
        if seller.get("late_penalty_rate")
        else "",
        "share_capital": format_eur(quantize(seller["share_capital"])) if seller.get("share_capital") else "",
    }
