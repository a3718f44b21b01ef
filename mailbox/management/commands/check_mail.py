from django.core.management.base import BaseCommand, CommandError

from mailbox.services.connection import mail_health


class Command(BaseCommand):
    help = "Vérifie l'envoi et la boîte surveillée : jeton Microsoft 365 (si OAuth), serveur SMTP, IMAP."

    def add_arguments(self, parser):
        parser.add_argument(
            "--token-only", action="store_true", help="le jeton OAuth seulement, sans serveur"
        )

    def handle(self, *args, token_only=False, **options):
        lines = mail_health(check_servers=not token_only)
        for line in lines:
            mark = self.style.SUCCESS("ok") if line.ok else self.style.ERROR("ÉCHEC")
            self.stdout.write(f"{mark}  {line.name} : {line.detail}")
        if any(not line.ok for line in lines):
            raise CommandError("la messagerie n'est pas prête (voir ci-dessus et .env.example)")
