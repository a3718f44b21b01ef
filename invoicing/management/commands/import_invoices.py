from django.core.management.base import BaseCommand, CommandError

from invoicing.services.history_import import invoices_import_csv
from syaga.core.errors import InputError
from syaga.core.output import json_dumps


class Command(BaseCommand):
    help = (
        "Import the invoice history exported as CSV by the previous tool. All or nothing: the first problem "
        "stops it with 'line N: reason' and exit code 1. Invoices already stored with the same content are "
        "skipped, so running it twice is harmless; a numbering counter is never moved across missing "
        "numbers unless --accept-gaps is given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file", help="the CSV export (; , or tab separated; UTF-8, UTF-16 or Windows-1252)"
        )
        parser.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")
        parser.add_argument("--encoding", help="force the encoding (default: found from the bytes)")
        parser.add_argument("--delimiter", help="force the delimiter (default: found from the header)")
        parser.add_argument(
            "--accept-gaps",
            action="store_true",
            help="let the numbering counters move across numbers that neither the file nor the database "
            "holds (they could never be used again); the report lists them",
        )

    def handle(self, *args, file, dry_run, as_json, encoding, delimiter, accept_gaps, **options):
        out = self.stderr if as_json else self.stdout
        try:
            report = invoices_import_csv(
                path=file,
                dry_run=dry_run,
                encoding=encoding,
                delimiter={"tab": "\t", "\\t": "\t"}.get(delimiter, delimiter),
                accept_gaps=accept_gaps,
                progress=lambda rows: out.write(f"… {rows} rows read"),
            )
        except InputError as exc:
            raise CommandError(f"{exc}; nothing was written") from exc
        if as_json:
            self.stdout.write(json_dumps(report.as_dict()))
            return
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
        prefix = "Dry run, nothing written: " if dry_run else ""
        self.stdout.write(self.style.SUCCESS(prefix + report.summary()))
