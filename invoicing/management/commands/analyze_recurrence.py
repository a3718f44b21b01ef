"""Find the recurring contracts in the invoice history.

``analyze_recurrence [--as-of DATE] [--json] [--apply]``
"""

from django.core.management.base import BaseCommand

from invoicing.services.recurrence import contracts_apply, recurrence_analyze
from syaga.core.dates import date_option, today
from syaga.core.money import ZERO, format_eur
from syaga.core.output import json_dumps


class Command(BaseCommand):
    help = (
        "Liste les contrats encore actifs dans l'historique des factures (le même montant chaque mois, "
        "trimestre ou année)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of",
            dest="as_of",
            help="date de l'analyse (aujourd'hui par défaut) : jj/mm/aaaa ou aaaa-mm-jj",
        )
        parser.add_argument(
            "--json", action="store_true", help="afficher un tableau JSON, un objet par contrat"
        )
        parser.add_argument(
            "--apply",
            action="store_true",
            help="créer (ou mettre à jour) les contrats, avec leurs prochaines dates de facturation",
        )

    def handle(self, *args, as_of=None, json=False, apply=False, **options):
        day = date_option("--as-of", as_of, default=today())
        detected = recurrence_analyze(as_of=day)
        created = updated = None
        if apply:
            created, updated = contracts_apply(detected=detected, as_of=day)
        if json:
            self.stdout.write(json_dumps([d.as_json() for d in detected]))
            if apply:
                self.stderr.write(f"{len(created)} contrat(s) créé(s), {len(updated)} mis à jour.")
            return
        self._table(detected, day)
        if apply:
            self.stdout.write(
                self.style.SUCCESS(f"{len(created)} contrat(s) créé(s), {len(updated)} mis à jour.")
            )

    def _table(self, detected, day):
        if not detected:
            self.stdout.write(f"Aucun contrat récurrent actif au {day:%d/%m/%Y}.")
            return
        headers = ("Client", "Montant HT", "Périodicité", "Factures", "Première", "Dernière", "Prochaine")
        periods = {"monthly": "mensuel", "quarterly": "trimestriel", "yearly": "annuel"}
        rows = [
            (
                d.client,
                format_eur(d.amount_ht),
                periods[d.period],
                str(d.occurrences),
                f"{d.first:%d/%m/%Y}",
                f"{d.last:%d/%m/%Y}",
                f"{d.next_billing_date:%d/%m/%Y}",
            )
            for d in detected
        ]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        right = {1, 3}

        def fmt(row):
            cells = zip(row, widths, strict=True)
            text = "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(cells))
            return text.rstrip()

        self.stdout.write(f"Contrats récurrents actifs au {day:%d/%m/%Y} :")
        self.stdout.write(fmt(headers))
        self.stdout.write("  ".join("-" * w for w in widths))
        for row in rows:
            self.stdout.write(fmt(row))
        yearly = sum((d.yearly_ht for d in detected), ZERO)
        self.stdout.write(f"{len(detected)} contrat(s), {format_eur(yearly)} HT par an.")
