"""The invoicing domain: who sells, who buys, what recurs, what was billed."""

from invoicing.models.client import Client, ClientAlias
from invoicing.models.contract import Contract
from invoicing.models.invoice import Invoice, InvoiceLine, InvoiceQuerySet
from invoicing.models.numbering import InvoiceSequence
from invoicing.models.seller import SellerProfile
from invoicing.models.validation import (
    InvoiceEvent,
    InvoiceToReview,
    RuleChangeLog,
    ValidationRule,
)

__all__ = [
    "Client",
    "ClientAlias",
    "Contract",
    "Invoice",
    "InvoiceEvent",
    "InvoiceLine",
    "InvoiceQuerySet",
    "InvoiceSequence",
    "InvoiceToReview",
    "RuleChangeLog",
    "SellerProfile",
    "ValidationRule",
]
