"""The invoice page's documents: « Télécharger le PDF » and « Imprimer » once the PDF is stored."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from invoicing.documents.pdf import invoice_pdf_path
from invoicing.models.invoice import FROZEN_STATUSES


class InvoiceDocumentsAdminMixin:
    """Gives InvoiceAdmin a read-only ``documents`` field; list it in a fieldset to show it."""

    @admin.display(description="PDF (Factur-X)")
    def documents(self, obj):
        if obj is None or obj.pk is None or obj.status not in FROZEN_STATUSES:
            return "Le PDF est créé à l'émission."
        if invoice_pdf_path(obj) is None:
            return "PDF en préparation : il apparaîtra ici dès que le worker l'aura écrit."
        url = reverse("invoicing:invoice-pdf", args=[obj.pk])
        return format_html(
            '<a class="button" href="{}">Télécharger le PDF</a>&nbsp;'
            '<a class="button" href="{}?inline=1" target="_blank" rel="noopener">Imprimer</a>'
            '<div class="help">Empreinte SHA-256 : {}</div>',
            url,
            url,
            obj.pdf_sha256,
        )
