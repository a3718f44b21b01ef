from django.apps import AppConfig
from django.utils.module_loading import import_string

# invoicing.services.delivery imports django-q2's models, which cannot load while the app registry is being
# built (when this module is imported): the registration is resolved once the apps are ready. It is the
# allowed direction (mailbox → invoicing), not a circle.
REGISTER = "invoicing.services.delivery.after_issue_register"


class MailboxConfig(AppConfig):
    name = "mailbox"
    verbose_name = "Courrier"

    def ready(self):
        # Every issued invoice or credit note is e-mailed to its client once the issue commits.
        import_string(REGISTER)(task="mailbox.tasks.invoices_send", label="envoi au client par e-mail")
