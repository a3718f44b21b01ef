"""``export_fec --year YYYY [--output DIR]``: the legal FEC of a fiscal year, checked before it is written."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from reconciliation.exports.fec import fec_export
from syaga.core.errors import BusinessError
from syaga.core.money import format_count


class Command(BaseCommand):
    help = (
        "Écrit le FEC de l'exercice, <SIREN>FEC<AAAAMMJJ>.txt (journal des ventes VE, encaissements BQ, "
        "lettrés), après les contrôles de l'outil de test de l'administration ; refuse d'écrire un fichier "
        "qui ne les passe pas."
    )

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, required=True, help="l'exercice (AAAA)")
        parser.add_argument("--output", default=".", help="le dossier (par défaut : le dossier courant)")

    def handle(self, *args, year, output, **options):
        if not 2000 <= year <= 2099:
            raise CommandError(f"--year {year} : attendu une année de 2000 à 2099")
        try:
            path, lines = fec_export(year=year, directory=Path(output))
        except BusinessError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"{path} : {format_count(lines)} lignes d'écriture, contrôle réussi.")
        )
