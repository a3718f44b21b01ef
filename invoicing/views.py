"""Staff pages of the invoicing app outside the admin: an issued document's PDF, to download or print."""

from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from invoicing.documents.pdf import invoice_pdf_ensure
from invoicing.documents.storage import PdfIntegrityError
from invoicing.models import Invoice
from invoicing.models.invoice import FROZEN_STATUSES, Kind


def pdf_filename(invoice: Invoice) -> str:
    return f"{'Avoir' if invoice.kind == Kind.CREDIT_NOTE else 'Facture'}-{invoice.number}.pdf"


@require_GET
@permission_required("invoicing.view_invoice", raise_exception=True)
def invoice_pdf(request, pk: int):
    """The stored PDF: as an attachment (« Télécharger le PDF »), or inline for the browser to print."""
    invoice = get_object_or_404(Invoice, pk=pk)
    if invoice.status not in FROZEN_STATUSES:
        raise Http404("Pas de PDF : ce document n'est pas émis.")
    try:
        path = invoice_pdf_ensure(invoice)
    except PdfIntegrityError as exc:
        # Never hand out a file that is not the one issued; say why instead.
        return HttpResponse(str(exc), status=409, content_type="text/plain; charset=utf-8")
    inline = request.GET.get("inline") == "1"
    return FileResponse(
        path.open("rb"),
        as_attachment=not inline,
        filename=pdf_filename(invoice),
        content_type="application/pdf",
    )
