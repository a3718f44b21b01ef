"""The text of the e-mails: the admin's templates filled with the invoice's fields, in French formats.

Templates use Django's template syntax on plain text (``{{ number }}``, ``{% if period %}…{% endif %}``).
The variables are the same for every kind; the dunning ones (days late, penalties, indemnity) are computed on
the day the reminder leaves. Late penalties run pro rata temporis on the unpaid balance at the annual rate the
invoice states (frozen seller profile): balance × rate × days late / 365, rounded half-up to the cent.
"""

import datetime as dt
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.template import Context, Template, TemplateSyntaxError

from invoicing.models import Invoice, SellerProfile
from invoicing.models.invoice import Kind
from mailbox.models import MailTemplate
from mailbox.models.outbound import TemplateKind
from syaga.core.dates import FRENCH_MONTHS
from syaga.core.money import ZERO, format_eur, format_rate, quantize

DEFAULT_INDEMNITY = Decimal("40.00")

VARIABLES = {
    "number": "numéro de la facture (F20250012)",
    "document": "« facture » ou « avoir »",
    "amount": "montant TTC (1 234,56 €)",
    "amount_ht": "montant HT",
    "balance": "reste dû TTC",
    "due_date": "échéance (jj/mm/aaaa)",
    "issue_date": "date d'émission",
    "period": "période facturée (« mars 2025 » ou « du 01/03/2025 au 15/03/2025 »)",
    "payment_reference": "référence à indiquer sur le virement",
    "client_name": "nom du client",
    "subject": "objet de la facture",
    "purchase_order": "bon de commande du client",
    "credited_number": "facture corrigée par l'avoir",
    "seller_name": "raison sociale du cabinet",
    "seller_email": "e-mail du cabinet",
    "iban": "IBAN du cabinet",
    "bic": "BIC du cabinet",
    "days_late": "jours de retard (relances)",
    "penalty_rate": "taux annuel des pénalités de retard",
    "penalties": "pénalités de retard calculées",
    "indemnity": "indemnité forfaitaire de recouvrement (40 €)",
    "total_claimed": "reste dû + pénalités + indemnité",
    "level": "niveau de relance (1, 2, 3)",
}
_VARIABLE = re.compile(r"{{\s*([a-zA-Z_][a-zA-Z0-9_]*)")


def template_kind_for(invoice: Invoice) -> str:
    if invoice.kind == Kind.CREDIT_NOTE:
        return TemplateKind.CREDIT_NOTE
    if invoice.contract_id is not None or invoice.origin == "recurring":
        return TemplateKind.RECURRING
    return TemplateKind.ONE_OFF


def period_label(start: dt.date | None, end: dt.date | None) -> str:
    if start is None:
        return ""
    if end is None:
        return f"à partir du {start:%d/%m/%Y}"
    next_day = end + dt.timedelta(days=1)
    if start.day == 1 and next_day.day == 1 and (end.year, end.month) == (start.year, start.month):
        return f"{FRENCH_MONTHS[start.month - 1]} {start.year}"
    return f"du {start:%d/%m/%Y} au {end:%d/%m/%Y}"


def late_penalties(*, balance: Decimal, annual_rate: Decimal, days_late: int) -> Decimal:
    """balance × rate % × days / 365, half-up to the cent; nothing before the due date has passed."""
    if days_late <= 0 or balance <= ZERO:
        return ZERO
    return quantize(
        Decimal(balance) * Decimal(annual_rate) / Decimal(100) * Decimal(days_late) / Decimal(365)
    )


def _seller(invoice: Invoice) -> dict:
    if invoice.seller_snapshot:
        return invoice.seller_snapshot
    profile = SellerProfile.current()
    return profile.snapshot() if profile else {}


def invoice_context(invoice: Invoice, *, on: dt.date | None = None, level: int = 0) -> dict:
    """Every variable a template may use, as text ready to print."""
    seller = _seller(invoice)
    buyer = invoice.buyer_snapshot or {}
    balance = quantize(invoice.total_ttc - invoice.amount_paid)
    context = {
        "number": invoice.number or "",
        "document": "avoir" if invoice.kind == Kind.CREDIT_NOTE else "facture",
        "amount": format_eur(invoice.total_ttc),
        "amount_ht": format_eur(invoice.total_ht),
        "balance": format_eur(balance),
        "due_date": f"{invoice.due_date:%d/%m/%Y}" if invoice.due_date else "",
        "issue_date": f"{invoice.issue_date:%d/%m/%Y}" if invoice.issue_date else "",
        "period": period_label(invoice.period_start, invoice.period_end),
        "payment_reference": invoice.number or "",
        "client_name": buyer.get("name") or invoice.client.name,
        "subject": invoice.subject,
        "purchase_order": invoice.purchase_order,
        "credited_number": invoice.credited_invoice.number if invoice.credited_invoice_id else "",
        "seller_name": seller.get("legal_name", ""),
        "seller_email": seller.get("email", ""),
        "iban": seller.get("iban", ""),
        "bic": seller.get("bic", ""),
        "level": level or "",
    }
    rate = Decimal(seller.get("late_penalty_rate") or "0")
    indemnity = quantize(Decimal(seller.get("recovery_indemnity") or DEFAULT_INDEMNITY))
    days_late = (on - invoice.due_date).days if on and invoice.due_date else 0
    penalties = late_penalties(balance=balance, annual_rate=rate, days_late=days_late)
    context.update(
        days_late=max(days_late, 0),
        penalty_rate=format_rate(rate),
        penalties=format_eur(penalties),
        indemnity=format_eur(indemnity),
        total_claimed=format_eur(balance + penalties + indemnity),
    )
    return context


def _compile(text: str) -> Template:
    return Template("{% autoescape off %}" + text + "{% endautoescape %}")


def render(template: MailTemplate, context: dict) -> tuple[str, str]:
    """(subject, body) of a template for this context. The subject is one line."""
    subject = _compile(template.subject).render(Context(context))
    body = _compile(template.body).render(Context(context))
    return " ".join(subject.split()), body.strip() + "\n"


def template_check(*, subject: str, body: str) -> None:
    """Refuse a template that does not compile or names an unknown variable (ValidationError per field)."""
    errors = {}
    for name, text in (("subject", subject), ("body", body)):
        try:
            _compile(text or "")
        except TemplateSyntaxError as exc:
            errors[name] = f"Syntaxe incorrecte : {exc}"
            continue
        unknown = sorted({v for v in _VARIABLE.findall(text or "")} - set(VARIABLES))
        if unknown:
            names = ", ".join("{{ " + v + " }}" for v in unknown)
            errors[name] = f"Variable inconnue : {names}. Variables possibles : " + ", ".join(
                sorted(VARIABLES)
            )
    if errors:
        raise ValidationError(errors)
