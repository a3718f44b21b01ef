from django.core.management.base import BaseCommand, CommandError

from banking.services.qonto_sync import transactions_import_files
from syaga.core.errors import InputError


class Command(BaseCommand):
    help = (
        'Load saved Qonto /v2/transactions responses ({"transactions": [...], "meta": {...}}) for '
        "back-filling. Idempotent; a malformed file, a transaction met twice or an amount that is not a "
        "finite number stops the import before anything is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE.json")

    def handle(self, *args, files, **options):
        try:
            counts = transactions_import_files(paths=files)
        except InputError as exc:
            raise CommandError(f"{exc}; nothing imported") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(files)} file(s): {counts.created} created, {counts.updated} updated, "
                f"{counts.unchanged} unchanged"
            )
        )
