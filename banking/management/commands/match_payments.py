"""``manage.py match_payments [--json] [--dry-run]``: match unprocessed credits to open invoices."""

from collections import Counter

from django.core.management.base import BaseCommand

from banking.services.allocation import payments_match
from syaga.core.output import json_dumps


class Command(BaseCommand):
    help = (
        "Decide which open invoices every unprocessed credit transaction pays "
        "(matched / suggested / unmatched)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object per credit considered")
        parser.add_argument("--dry-run", action="store_true", help="decide without writing anything")

    def handle(self, *args, **options):
        results = payments_match(dry_run=options["dry_run"])
        if options["json"]:
            self.stdout.write(json_dumps([r.as_json() for r in results]))
            return
        counts = Counter(r.status for r in results)
        for r in results:
            paid = ", ".join(f"{a['invoice']} {a['amount']}" for a in r.allocations) or "-"
            self.stdout.write(f"{r.transaction_id}: {r.status} ({r.score}) {paid}")
        prefix = "[dry run] " if options["dry_run"] else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{prefix}{len(results)} credits: {counts['matched']} matched, "
                f"{counts['suggested']} suggested, {counts['unmatched']} unmatched"
            )
        )
