"""PLACEHOLDER (mail branch): the documents issue delivers the real module; the lead replaces it at merge.

Only the contract the mail code relies on: :func:`invoice_pdf_ensure` returns the stored PDF of an issued
document, rendering it once when it is missing.
"""

from pathlib import Path

from django.conf import settings
from django.template.loader import render_to_string
from weasyprint import HTML

from invoicing.documents.context import invoice_document_context
from invoicing.models import Invoice


def invoice_pdf_ensure(invoice: Invoice) -> Path:
    """The PDF of an issued invoice or credit note, rendered into INVOICE_PDF_DIR/<year>/<number>.pdf once."""
    if not invoice.number or invoice.issue_date is None:
        raise ValueError(f"{invoice} n'est pas émise : pas de PDF")
    path = Path(settings.INVOICE_PDF_DIR) / str(invoice.issue_date.year) / f"{invoice.number}.pdf"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    html = render_to_string("invoicing/invoice_preview.html", invoice_document_context(invoice))
    document = f'<!doctype html><html lang="fr"><head><meta charset="utf-8"></head><body>{html}</body></html>'
    partial = path.with_suffix(".pdf.part")
    HTML(string=document, base_url=str(settings.BASE_DIR)).write_pdf(partial)
    partial.replace(path)
    return path
