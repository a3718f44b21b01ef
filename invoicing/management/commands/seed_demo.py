from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from invoicing.services.demo import demo_seed
from syaga.core.dates import parse_date, today


class Command(BaseCommand):
    help = (
        "Load demo data (seller profile, SYAGA's nine contracts, a year of invoices) into an empty database. "
        "`bootstrap` calls it only in development; in production it runs only when asked for."
    )

    def add_arguments(self, parser):
        parser.add_argument("--today", help="pretend today is this date (dd/mm/yyyy or yyyy-mm-dd)")

    def handle(self, *args, **options):
        try:
            day = parse_date(options["today"]) if options["today"] else today()
        except ValueError as exc:
            raise CommandError(f"--today: {exc}") from exc
        counts = demo_seed(today=day)
        if counts.get("skipped"):
            self.stdout.write("Invoices already exist: demo data not loaded.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo loaded: {counts['clients']} clients, {counts['contracts']} contracts, "
                f"{counts['invoices']} invoices ({counts['paid']} paid)."
            )
        )
        if settings.PRODUCTION:
            self.stderr.write(
                "Attention : base de production. Les factures de démo ont pris de vrais numéros et les "
                f"{counts['contracts']} contrats de démo seront facturés par la planification."
            )
