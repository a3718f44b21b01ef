from django.core.management.base import BaseCommand, CommandError

from mailbox.services.inbox import inbox_poll
from syaga.core.errors import BusinessError


class Command(BaseCommand):
    help = "Lit les nouveaux e-mails de la boîte surveillée (IMAP_URL), les classe et agit."

    def handle(self, *args, **options):
        try:
            report = inbox_poll()
        except BusinessError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(str(report)))
