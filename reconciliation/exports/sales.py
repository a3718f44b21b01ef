"""The sales documents of a period as the accounting exports read them: one row per issued document.

Shared by the Oxygène exports (XML, CSV, XLSX) and the FEC. Credit notes are documents of their own (kind
``avoir``) with positive amounts, as issued; each export says how it books them.
"""

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from invoicing.models import Invoice
from invoicing.models.invoice import FROZEN_STATUSES, Kind
from invoicing.models.seller import VatRegime
from syaga.core.money import quantize
from syaga.core.text import normalize_company_name


@dataclass(frozen=True)
class VatRow:
    rate: Decimal
    base: Decimal
    vat: Decimal


@dataclass(frozen=True)
class SaleDocument:
    pk: int
    kind: str  # "facture" or "avoir"
    number: str
    issue_date: dt.date
    due_date: dt.date | None
    client_code: str
    client_name: str
    client_siren: str
    client_vat: str
    credited_number: str
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal
    vat_rows: tuple[VatRow, ...]
    vat_on_debits: bool

    @property
    def is_credit_note(self) -> bool:
        return self.kind == "avoir"


def client_account_code(*, siren: str, name: str) -> str:
    """The client's auxiliary account: ``C`` + SIREN when known (stable and unique), else its name."""
    compact = re.sub(r"\D", "", siren or "")
    if len(compact) == 9:
        return f"C{compact}"
    letters = re.sub(r"[^A-Z0-9]", "", normalize_company_name(name).upper())
    return f"C{letters[:16] or 'SANSNOM'}"


def sales_documents(*, date_from: dt.date, date_to: dt.date) -> list[SaleDocument]:
    """Issued invoices and credit notes whose issue date is in [date_from, date_to], by date then number."""
    rows = (
        Invoice.objects.filter(status__in=FROZEN_STATUSES, issue_date__gte=date_from, issue_date__lte=date_to)
        .select_related("client", "credited_invoice")
        .order_by("issue_date", "series", "number")
    )
    documents = []
    for invoice in rows:
        buyer = invoice.buyer_snapshot or invoice.client.snapshot()
        name = buyer.get("name") or invoice.client.name
        documents.append(
            SaleDocument(
                pk=invoice.pk,
                kind="avoir" if invoice.kind == Kind.CREDIT_NOTE else "facture",
                number=invoice.number,
                issue_date=invoice.issue_date,
                due_date=invoice.due_date,
                client_code=client_account_code(siren=buyer.get("siren", ""), name=name),
                client_name=name,
                client_siren=buyer.get("siren", ""),
                client_vat=buyer.get("vat_number", ""),
                credited_number=invoice.credited_invoice.number if invoice.credited_invoice_id else "",
                total_ht=invoice.total_ht,
                total_vat=invoice.total_vat,
                total_ttc=invoice.total_ttc,
                vat_rows=tuple(
                    VatRow(
                        quantize(Decimal(r["rate"])),
                        quantize(Decimal(r["base_ht"])),
                        quantize(Decimal(r["vat"])),
                    )
                    for r in invoice.vat_breakdown or []
                ),
                vat_on_debits=(invoice.seller_snapshot or {}).get("vat_regime") == VatRegime.DEBITS,
            )
        )
    return documents


def plain_text(value: str) -> str:
    """Free text made safe for a separated file: no separator, tab or line break can shift a column."""
    return re.sub(r"\s+", " ", re.sub(r"[\t\r\n|;]", " ", value or "")).strip()
