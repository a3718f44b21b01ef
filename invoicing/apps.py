from django.apps import AppConfig
from django.utils.module_loading import import_string

PDF_TASK = "invoicing.tasks.invoices_pdf_render"


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Facturation"

    def ready(self):
        # The PDF (Factur-X) of every issued document is written by the worker once the issue commits.
        # Looked up by name here, not imported at the top: the registry imports django-q's models, which
        # cannot load before the app registry is ready (Django's own pattern: import_string in ready()).
        after_issue_register = import_string("invoicing.services.delivery.after_issue_register")
        after_issue_register(task=PDF_TASK, label="PDF")
