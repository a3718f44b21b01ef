"""Bill the recurring contracts: ``generate_recurring [--date DATE] [--dry-run] [--json] [--force]``."""

from django.core.management.base import BaseCommand, CommandError

from invoicing.services.recurring import recurring_generate
from syaga.core.dates import add_months, date_option, today
from syaga.core.output import json_dumps


class Command(BaseCommand):
    help = (
        "Crée les factures dues à la date pour chaque contrat actif (à relire), en rattrapant les périodes "
        "manquées. Le relancer ne crée rien de plus. Une date à plus d'un mois demande --force."
    )

    # Billing ahead of time is normal up to the next period; further is most likely a typo in the year.
    AHEAD_MONTHS = 1

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", help="date de facturation (aujourd'hui par défaut) : jj/mm/aaaa ou aaaa-mm-jj"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="montrer ce qui serait créé, sans rien écrire"
        )
        parser.add_argument("--json", action="store_true", help="afficher le compte rendu en JSON")
        parser.add_argument(
            "--force", action="store_true", help="facturer jusqu'à une --date à plus d'un mois d'aujourd'hui"
        )

    def handle(self, *args, date=None, dry_run=False, json=False, force=False, **options):
        day = date_option("--date", date, default=today())
        limit = add_months(today(), self.AHEAD_MONTHS)
        if day > limit and not dry_run and not force:
            plan = recurring_generate(on=day, dry_run=True)
            contracts = sum(1 for run in plan.runs if run.created)
            raise CommandError(
                f"--date {day:%d/%m/%Y} est à plus d'un mois d'aujourd'hui (limite {limit:%d/%m/%Y}) : "
                f"{plan.created} facture(s) seraient créées d'un coup pour {contracts} contrat(s), une par "
                "période. Rien n'a été créé. Vérifiez la date (--dry-run montre le détail) ; "
                "--force si c'est bien voulu."
            )
        report = recurring_generate(on=day, dry_run=dry_run)
        if json:
            self.stdout.write(json_dumps(report.as_json()))
        else:
            verb = "à créer" if dry_run else "créée(s)"
            for run in report.runs:
                periods = ", ".join(f"{d:%m/%Y}" for d in run.created) or "-"
                line = f"{run.client}, {run.label} : {len(run.created)} {verb} ({periods})"
                if run.skipped:
                    line += f", {len(run.skipped)} déjà facturée(s)"
                if run.error:
                    line += f", ERREUR : {run.error}"
                self.stdout.write(line)
            self.stdout.write(
                self.style.SUCCESS(
                    f"{report.created} facture(s) {verb}, {report.skipped} période(s) déjà facturée(s) au "
                    f"{day:%d/%m/%Y}."
                )
            )
        if report.errors:
            raise CommandError(f"{len(report.errors)} contrat(s) en erreur, voir ci-dessus")
