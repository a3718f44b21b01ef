"""`manage.py cashflow --days 30 [--json]`: the cash-flow forecast, as a table or as JSON."""

from django.core.management.base import BaseCommand, CommandError

from banking.selectors import cashflow_forecast
from syaga.core.dates import date_option, today
from syaga.core.money import format_eur
from syaga.core.output import json_dumps

MAX_DAYS = 366


class Command(BaseCommand):
    help = (
        "Prévoit les encaissements et le solde bancaire jour par jour (factures ouvertes + contrats "
        "récurrents)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=30, help="horizon en jours, aujourd'hui compris (30 par défaut)"
        )
        parser.add_argument(
            "--date", help="prévision à cette date (aujourd'hui par défaut), jj/mm/aaaa ou aaaa-mm-jj"
        )
        parser.add_argument("--json", action="store_true", help="afficher du JSON (montants en texte)")

    def handle(self, *args, days, date, **options):
        as_json = options["json"]
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days : {days} hors limites ; donnez un nombre de jours de 1 à {MAX_DAYS}")
        on = date_option("--date", date, default=today())
        forecast = cashflow_forecast(on=on, days=days)
        if as_json:
            self.stdout.write(json_dumps(forecast.as_json()))
            return
        self.stdout.write(f"Prévision de trésorerie au {on:%d/%m/%Y} sur {days} jours")
        self.stdout.write(f"Solde d'ouverture : {format_eur(forecast.opening_balance)}")
        self.stdout.write(f"{'date':<10}  {'factures':>14}  {'récurrent':>14}  {'solde':>16}")
        for day in forecast.days:
            if day.receipts:
                self.stdout.write(
                    f"{day.date:%d/%m/%Y}  {format_eur(day.from_invoices):>14}  "
                    f"{format_eur(day.from_recurring):>14}  {format_eur(day.balance):>16}"
                )
        for horizon in (7, 30):
            if horizon <= days:
                self.stdout.write(
                    f"Encaissements attendus sur {horizon} jours : {format_eur(forecast.total_for(horizon))}"
                    f", solde prévu {format_eur(forecast.balance_after(horizon))}"
                )
        self.stdout.write(f"Total attendu sur {days} jours : {format_eur(forecast.total_expected)}")
        if forecast.overdue:
            self.stdout.write(
                f"En retard, date inconnue : {format_eur(forecast.overdue_total)} "
                f"({len(forecast.overdue)} factures)"
            )
            for item in forecast.overdue:
                self.stdout.write(
                    f"  {item.number:<14} {item.client[:30]:<30} échue le {item.due_date:%d/%m/%Y} "
                    f"(J+{item.days_late})  {format_eur(item.balance_due):>14}"
                )
