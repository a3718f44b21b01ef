import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from syaga.core.dates import date_option
from timetracking.clients.clockify import ClockifyAuthError, ClockifyConfigError, ClockifyError
from timetracking.services.clockify_sync import clockify_sync


class Command(BaseCommand):
    help = (
        "Récupère les saisies Clockify de chaque utilisateur de l'espace de travail depuis la dernière "
        "synchronisation (ou depuis --since DATE), et les chronos en cours. Tourne toutes les 15 minutes "
        "pendant les heures de travail ; une exécution répétée ou interrompue est sans danger. Sans "
        "CLOCKIFY_API_KEY, elle le dit et ne fait rien."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            metavar="DATE",
            help="relire les saisies commencées depuis cette date (jj/mm/aaaa ou aaaa-mm-jj) au lieu de "
            "depuis la dernière synchronisation",
        )

    def handle(self, *args, since=None, **options):
        start = None
        if since:
            day = date_option("--since", since)
            start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        try:
            report = clockify_sync(since=start)
        except ClockifyConfigError as exc:
            self.stdout.write(self.style.WARNING(f"Synchronisation Clockify sautée : {exc}."))
            return
        except ClockifyAuthError as exc:
            raise CommandError(f"{exc}") from exc
        except ClockifyError as exc:
            raise CommandError(
                f"Synchronisation Clockify interrompue, rien n'est perdu (la prochaine reprendra) : {exc}"
            ) from exc
        for user in report.users:
            c = user.counts
            self.stdout.write(
                f"  {user.name} : {user.read} saisie(s) lue(s) depuis le "
                f"{timezone.localtime(user.since):%d/%m/%Y %H:%M}, {c.created} créée(s), "
                f"{c.updated} mise(s) à jour, {c.unchanged} inchangée(s), {user.deleted} supprimée(s)"
                + (", chrono en cours" if user.running else "")
            )
        self.stdout.write(self.style.SUCCESS(str(report)))
