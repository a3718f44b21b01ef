"""``export_fec --year YYYY [--output DIR]``: the legal FEC of a fiscal year, checked before it is written."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reconciliation.exports.fec import fec_export
from syaga.core.errors import BusinessError


class Command(BaseCommand):
    help = (
        "Writes <SIREN>FEC<AAAAMMJJ>.txt for the year (sales journal VE, bank receipts BQ, lettered), after "
        "the checks of the administration's test tool; refuses to write a file that fails them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--output", default=".", help="directory (default: the current one)")

    def handle(self, *args, year, output, **options):
        if not 2000 <= year <= 2099:
            raise CommandError(f"--year {year} : une année de 2000 à 2099")
        try:
            path, lines = fec_export(year=year, directory=Path(output))
        except BusinessError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"{path} : {lines} lignes d'écriture, contrôle réussi."))
