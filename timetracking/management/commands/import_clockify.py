from django.core.management.base import BaseCommand, CommandError

from syaga.core.errors import InputError
from syaga.core.output import json_dumps
from timetracking.services.csv_import import DATE_FORMATS, clockify_csv_import


class Command(BaseCommand):
    help = (
        "Import Clockify 'Detailed report' CSV exports (English or French headers, the exporting user's date "
        "and time formats). All or nothing: the first problem stops it with 'FILE line N: reason' and exit "
        "code 1. Entries already stored are recognised (Clockify id, else user + start + project): running "
        "it again creates nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="Clockify CSV export(s)")
        parser.add_argument(
            "--date-format",
            choices=DATE_FORMATS,
            default="auto",
            help="order of slashed dates: mdy (Clockify's default) or dmy; auto finds it from the file",
        )
        parser.add_argument(
            "--timezone", help="time zone of the exported times (default: the firm's, TIME_ZONE)"
        )
        parser.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")

    def handle(self, *args, files, date_format, timezone, dry_run, as_json, **options):
        out = self.stderr if as_json else self.stdout
        try:
            report = clockify_csv_import(
                paths=files, date_format=date_format, time_zone=timezone, dry_run=dry_run, progress=out.write
            )
        except InputError as exc:
            raise CommandError(f"{exc}; nothing was written") from exc
        if as_json:
            self.stdout.write(json_dumps(report.as_dict()))
            return
        prefix = "Dry run, nothing written: " if dry_run else ""
        self.stdout.write(self.style.SUCCESS(prefix + report.summary()))
