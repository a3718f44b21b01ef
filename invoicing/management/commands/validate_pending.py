"""Run the validation rules over every pending invoice: ``validate_pending [--dry-run] [--json]``."""

from django.core.management.base import BaseCommand
from django.db import transaction

from invoicing.services.review import validate_pending
from syaga.core.output import json_dumps


class Command(BaseCommand):
    help = (
        "Passe les règles de validation sur chaque facture à relire : approuve et émet celles qu'une règle "
        "approuve, rejette celles qu'une règle rejette, laisse les autres en relecture. Affiche les totaux."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--json",
            action="store_true",
            help='afficher {"approved": n, "rejected": n, "review": n, "details": [...]}',
        )
        parser.add_argument("--dry-run", action="store_true", help="montrer les décisions, sans rien écrire")

    def handle(self, *args, json=False, dry_run=False, **options):
        with transaction.atomic():
            report = validate_pending()
            if dry_run:
                transaction.set_rollback(True)
        if json:
            self.stdout.write(json_dumps({**report.as_dict(), "dry_run": dry_run}))
            return
        labels = {"approved": "approuvée", "rejected": "rejetée", "review": "à relire"}
        for row in report.as_dict()["details"]:
            who = row["number"] or f"#{row['invoice_id']}"
            rule = f" [{row['rule']}]" if row["rule"] else ""
            self.stdout.write(
                f"{who} {row['client']} {row['total_ht']} € HT : {labels[row['outcome']]}{rule}, "
                f"{row['reason']}"
            )
        counts = report.counts()
        prefix = "(simulation) " if dry_run else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{prefix}{counts['approved']} approuvée(s), {counts['rejected']} rejetée(s), "
                f"{counts['review']} laissée(s) en relecture."
            )
        )
