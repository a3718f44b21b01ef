from django.core.management.base import BaseCommand

from mailbox.services.sending import invoices_send_pending


class Command(BaseCommand):
    help = "Envoie par e-mail les factures et avoirs émis qui ne l'ont pas encore été (sans doublon)."

    def handle(self, *args, **options):
        report = invoices_send_pending()
        for invoice, reason in report.refused:
            self.stderr.write(f"{invoice} : {reason}")
        self.stdout.write(self.style.SUCCESS(str(report)))
