from django.core.management.base import BaseCommand

from syaga.core.dates import date_option
from timetracking.services.coaching import (
    coaching_daily_report,
    coaching_hourly,
    coaching_now,
    reminders_deliver,
)


class Command(BaseCommand):
    help = (
        "Rappels de saisie, enregistrés et visibles dans l'admin (et envoyés par e-mail une fois le courrier "
        "branché) : --now fait les vérifications du quart d'heure (chrono qui tourne trop longtemps, aucun "
        "chrono pendant les heures de travail) et le point horaire ; --daily-report écrit le rapport du jour "
        "de chaque consultant. Chaque rappel n'a lieu qu'une fois."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument(
            "--now", action="store_true", help="les vérifications du quart d'heure et le point horaire"
        )
        group.add_argument(
            "--daily-report", action="store_true", help="le rapport du jour de chaque consultant"
        )
        parser.add_argument(
            "--date", metavar="DATE", help="avec --daily-report : ce jour-là (par défaut aujourd'hui)"
        )

    def handle(self, *args, now, daily_report, date=None, **options):
        if now:
            reminders = coaching_now() + coaching_hourly()
        else:
            day = date_option("--date", date)
            reminders = coaching_daily_report(day=day)
        for reminder in reminders:
            self.stdout.write(f"  {reminder.consultant} : {reminder.subject}")
        delivered = reminders_deliver()
        self.stdout.write(
            self.style.SUCCESS(f"{len(reminders)} rappel(s) enregistré(s), {delivered} envoyé(s) par e-mail.")
        )
