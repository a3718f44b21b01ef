"""`manage.py overdue_alerts [--date D] [--json]`: raise the J+15/30/60/90 alerts due on a date."""

from django.core.management.base import BaseCommand

from banking.services.overdue import overdue_alerts_raise
from syaga.core.dates import date_option, today
from syaga.core.money import format_eur
from syaga.core.output import json_dumps


class Command(BaseCommand):
    help = "Lève les alertes de retard (J+15, J+30, J+60, J+90 après l'échéance) pas encore levées."

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", help="exécuter à cette date (aujourd'hui par défaut), jj/mm/aaaa ou aaaa-mm-jj"
        )
        parser.add_argument("--json", action="store_true", help="afficher en JSON les alertes levées")

    def handle(self, *args, date, **options):
        as_json = options["json"]
        on = date_option("--date", date, default=today())
        alerts = overdue_alerts_raise(on=on)
        if as_json:
            self.stdout.write(
                json_dumps(
                    {
                        "date": on.isoformat(),
                        "raised": [
                            {
                                "invoice": alert.invoice.number,
                                "client": alert.invoice.client.name,
                                "level": alert.level,
                                "days_late": alert.days_late,
                                "due_date": alert.invoice.due_date.isoformat(),
                                "balance_due": str(alert.balance_due),
                            }
                            for alert in alerts
                        ],
                    }
                )
            )
            return
        for alert in alerts:
            self.stdout.write(
                f"J+{alert.level:<3} {alert.invoice.number:<14} {alert.invoice.client.name[:30]:<30} "
                f"{alert.days_late:>4} j  {format_eur(alert.balance_due):>14}"
            )
        self.stdout.write(f"{len(alerts)} alerte(s) levée(s) le {on:%d/%m/%Y}.")
