import datetime as dt
import re

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from syaga.core.dates import add_months, french_month_label, today
from syaga.core.errors import BusinessError
from syaga.core.money import format_eur, format_quantity
from syaga.core.output import json_dumps
from timetracking.display import format_hours
from timetracking.services.billing import timesheets_bill


class Command(BaseCommand):
    help = (
        "Crée une facture brouillon par client ayant du temps FACTURABLE dans le mois (lignes par projet ou "
        "par tâche, heures arrondies selon TIMESHEET_ROUNDING_* × le taux du client ou le taux par défaut) "
        "et l'envoie à valider ; les saisies sont marquées facturées dans la même transaction. Relancer la "
        "commande ne facture rien deux fois."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--month", required=True, metavar="AAAA-MM", help="le mois à facturer, par exemple 2026-03"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="montrer ce qui serait facturé, sans rien écrire"
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="afficher le compte rendu en JSON"
        )

    def handle(self, *args, month, dry_run, as_json, **options):
        m = re.fullmatch(r"(\d{4})-(\d{1,2})", month.strip())
        if not m or not 1 <= int(m[2]) <= 12:
            raise CommandError(f"--month « {month} » : attendu AAAA-MM, par exemple 2026-03")
        month = dt.date(int(m[1]), int(m[2]), 1)
        label = french_month_label(month)
        if add_months(month, 1) > today():
            self.stderr.write(
                self.style.WARNING(
                    f"{label} n'est pas terminé : le temps saisi plus tard dans le mois ira sur une autre "
                    "facture"
                )
            )
        try:
            report = timesheets_bill(month=month, dry_run=dry_run)
        except (BusinessError, ImproperlyConfigured) as exc:
            raise CommandError(f"{exc} ; rien n'a été facturé") from exc
        if as_json:
            self.stdout.write(json_dumps(report.as_dict()))
            return
        for bill in report.bills:
            self.stdout.write(
                f"  {bill.client_name} : {format_quantity(bill.hours)} h × {format_eur(bill.rate)} = "
                f"{format_eur(bill.total_ht)} HT ({len(bill.lines)} ligne(s), {bill.entries} saisie(s))"
            )
        for name, seconds in sorted(report.unknown_clients.items()):
            self.stdout.write(
                self.style.WARNING(
                    f"  non facturé : {format_hours(seconds)} FACTURABLE pour « {name} », qui n'est pas un "
                    "client du back-office (créez-le ou donnez-lui cet autre nom)"
                )
            )
        for name in report.below_unit:
            self.stdout.write(
                self.style.WARNING(f"  non facturé : {name}, temps inférieur à l'unité d'arrondi")
            )
        done = (
            "à créer (essai à blanc, rien n'a été écrit)" if dry_run else "créée(s) et envoyée(s) à valider"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{label} : {len(report.bills)} facture(s) {done}, "
                f"{format_eur(report.total_ht)} HT ({report.rule.statement()})."
            )
        )
