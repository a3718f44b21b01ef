import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from banking.services.qonto_sync import transactions_import
from syaga.core.errors import InputError


class Command(BaseCommand):
    help = (
        'Load saved Qonto /v2/transactions responses ({"transactions": [...], "meta": {...}}) for '
        "back-filling. Idempotent; a malformed file stops the import before anything is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE.json")

    def handle(self, *args, files, **options):
        payloads = []
        for name in files:
            try:
                text = Path(name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"{name}: cannot be read ({exc}); nothing imported") from exc
            try:
                payloads.append((name, json.loads(text)))
            except ValueError as exc:
                raise CommandError(f"{name}: not valid JSON ({exc}); nothing imported") from exc
        try:
            counts = transactions_import(payloads=payloads)
        except InputError as exc:
            raise CommandError(f"{exc}; nothing imported") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(files)} file(s): {counts.created} created, {counts.updated} updated, "
                f"{counts.unchanged} unchanged"
            )
        )
