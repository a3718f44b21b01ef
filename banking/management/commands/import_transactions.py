from django.core.management.base import BaseCommand, CommandError

from banking.services.qonto_sync import transactions_import_files
from syaga.core.errors import InputError


class Command(BaseCommand):
    help = (
        'Charge des réponses /v2/transactions de Qonto enregistrées ({"transactions": [...], "meta": {...}}) '
        "pour reprendre l'historique. Relançable sans risque ; un fichier mal formé, une transaction vue "
        "deux fois ou un montant qui n'est pas un nombre fini arrête l'import avant toute écriture."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FICHIER.json")

    def handle(self, *args, files, **options):
        try:
            counts = transactions_import_files(paths=files)
        except InputError as exc:
            raise CommandError(f"{exc} ; rien n'a été importé") from exc
        self.stdout.write(self.style.SUCCESS(f"{len(files)} fichier(s) : {counts.text()}"))
