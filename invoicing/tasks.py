"""django-q2 entry points of the invoicing app: thin, they take ids or nothing and call one service.

Recurring generation and the validation rules run in the daily cycle (``syaga/ops/cycles.py``), in order
with the other steps, rather than on clock times of their own.
"""

from invoicing.documents.pdf import invoices_pdf_ensure

SCHEDULES = []


def invoices_pdf_render(*, invoice_ids: list[int]) -> str:
    """After an issue: the PDF of each document (a large batch is split across the workers)."""
    return str(invoices_pdf_ensure(invoice_ids=invoice_ids))
