"""``manage.py match_payments [--json] [--dry-run]``: match unprocessed credits to open invoices."""

from collections import Counter

from django.core.management.base import BaseCommand

from banking.models import MatchStatus
from banking.services.allocation import payments_match
from syaga.core.money import format_eur
from syaga.core.output import json_dumps


class Command(BaseCommand):
    help = (
        "Décide quelles factures ouvertes paie chaque crédit non traité "
        "(rapproché automatiquement / suggéré / non reconnu) ; les décisions des personnes sont gardées."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="un objet JSON par crédit examiné")
        parser.add_argument("--dry-run", action="store_true", help="décider sans rien écrire")

    def handle(self, *args, **options):
        results = payments_match(dry_run=options["dry_run"])
        if options["json"]:
            self.stdout.write(json_dumps([r.as_json() for r in results]))
            return
        counts = Counter(r.status for r in results)
        labels = dict(MatchStatus.choices)
        for r in results:
            paid = ", ".join(f"{a['invoice']} {format_eur(a['amount'])}" for a in r.allocations) or "-"
            self.stdout.write(f"{r.transaction_id} : {labels.get(r.status, r.status)} ({r.score}) {paid}")
        prefix = "[essai] " if options["dry_run"] else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{prefix}{len(results)} crédit(s) : {counts['matched']} rapproché(s), "
                f"{counts['suggested']} suggéré(s), {counts['unrecognised']} non reconnu(s)"
            )
        )
