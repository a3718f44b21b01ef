import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from banking.clients.qonto import QontoAuthError, QontoConfigError, QontoError, client_from_settings
from banking.services.qonto_sync import qonto_sync
from syaga.core.dates import date_option


class Command(BaseCommand):
    help = (
        "Récupère les comptes bancaires Qonto et les transactions modifiées depuis la dernière "
        "synchronisation (ou depuis --since DATE). Tourne toutes les 15 minutes ; une exécution répétée ou "
        "interrompue est sans danger."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            metavar="DATE",
            help="relire les transactions modifiées depuis cette date (jj/mm/aaaa ou aaaa-mm-jj) au lieu "
            "de la dernière synchronisation",
        )

    def handle(self, *args, since=None, **options):
        start = None
        if since:
            day = date_option("--since", since)
            start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        try:
            report = qonto_sync(client=client_from_settings(), since=start)
        except QontoConfigError as exc:
            raise CommandError(str(exc)) from exc
        except QontoAuthError as exc:
            raise CommandError(f"Qonto a refusé les identifiants : {exc}") from exc
        except QontoError as exc:
            raise CommandError(
                f"synchronisation Qonto arrêtée, rien n'est perdu (la prochaine exécution reprend) : {exc}"
            ) from exc
        self.stdout.write(
            f"comptes : {report.accounts_created} créé(s), {report.accounts_updated} mis à jour"
        )
        for line in report.accounts:
            self.stdout.write(f"  {line.name or line.qonto_id} : {line.pages} page(s), {line.counts.text()}")
        self.stdout.write(self.style.SUCCESS(f"transactions : {report.transactions.text()}"))
