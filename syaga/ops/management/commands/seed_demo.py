from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from syaga.core.dates import parse_date, today
from syaga.ops.demo import demo_load
from syaga.ops.management.commands.bootstrap import demo_summary


class Command(BaseCommand):
    help = (
        "Load demo data (seller profile, SYAGA's nine contracts, a year of invoices, a bank account whose "
        "credits pay some of them) into an empty database. `bootstrap` calls it only in development; in "
        "production it runs only when asked for."
    )

    def add_arguments(self, parser):
        parser.add_argument("--today", help="pretend today is this date (dd/mm/yyyy or yyyy-mm-dd)")

    def handle(self, *args, **options):
        try:
            day = parse_date(options["today"]) if options["today"] else today()
        except ValueError as exc:
            raise CommandError(f"--today: {exc}") from exc
        counts = demo_load(today=day)
        if counts.get("skipped"):
            self.stdout.write("Invoices already exist: demo data not loaded.")
            return
        self.stdout.write(self.style.SUCCESS(demo_summary(counts)))
        if settings.PRODUCTION:
            self.stderr.write(
                "Attention : base de production. Les factures de démo ont pris de vrais numéros et les "
                f"{counts['contracts']} contrats de démo seront facturés par la planification."
            )
