import datetime as dt
import re

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from syaga.core.dates import add_months, today
from syaga.core.errors import BusinessError
from syaga.core.money import format_eur
from syaga.core.output import json_dumps
from timetracking.display import format_hours
from timetracking.services.billing import timesheets_bill


class Command(BaseCommand):
    help = (
        "Create one draft invoice per client with FACTURABLE time in the month (lines per project or task, "
        "hours rounded by the TIMESHEET_ROUNDING_* rule × the client's rate or the default), sent to review; "
        "the entries are marked billed in the same transaction. Running it again bills nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--month", required=True, metavar="YYYY-MM", help="the month to bill, e.g. 2026-03"
        )
        parser.add_argument("--dry-run", action="store_true", help="show what would be billed, write nothing")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")

    def handle(self, *args, month, dry_run, as_json, **options):
        m = re.fullmatch(r"(\d{4})-(\d{1,2})", month.strip())
        if not m or not 1 <= int(m[2]) <= 12:
            raise CommandError(f"--month {month!r}: expected YYYY-MM, e.g. 2026-03")
        month = dt.date(int(m[1]), int(m[2]), 1)
        if add_months(month, 1) > today():
            self.stderr.write(
                self.style.WARNING(
                    f"{month:%Y-%m} is not over: time entered later in the month will go on another invoice"
                )
            )
        try:
            report = timesheets_bill(month=month, dry_run=dry_run)
        except (BusinessError, ImproperlyConfigured) as exc:
            raise CommandError(f"{exc}; nothing was billed") from exc
        if as_json:
            self.stdout.write(json_dumps(report.as_dict()))
            return
        for bill in report.bills:
            self.stdout.write(
                f"  {bill.client_name}: {bill.hours.normalize():f} h × {format_eur(bill.rate)} = "
                f"{format_eur(bill.total_ht)} HT ({len(bill.lines)} line(s), {bill.entries} entries)"
            )
        for name, seconds in sorted(report.unknown_clients.items()):
            self.stdout.write(
                self.style.WARNING(
                    f"  not billed: {format_hours(seconds)} FACTURABLE for {name!r}, not a client of the "
                    "back-office (create it or give it that other name)"
                )
            )
        for name in report.below_unit:
            self.stdout.write(self.style.WARNING(f"  not billed: {name}, time below the rounding unit"))
        verb = "would create" if dry_run else "created"
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.month:%Y-%m}: {verb} {len(report.bills)} invoice(s) in review, "
                f"{format_eur(report.total_ht)} HT ({report.rule.statement()})."
            )
        )
