from django.core.management.base import BaseCommand, CommandError

from syaga.core.errors import InputError
from syaga.core.output import json_dumps
from timetracking.services.csv_import import DATE_FORMATS, clockify_csv_import


class Command(BaseCommand):
    help = (
        "Importe les exports CSV « Rapport détaillé » de Clockify (en-têtes en français ou en anglais, "
        "formats de date et d'heure de la personne qui exporte). Tout ou rien : le premier problème arrête "
        "l'import avec « FICHIER, ligne N : raison » et le code de sortie 1. Les saisies déjà enregistrées "
        "sont reconnues (identifiant Clockify, sinon utilisateur + début + projet) : relancer l'import ne "
        "crée rien."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FICHIER", help="export(s) CSV de Clockify")
        parser.add_argument(
            "--date-format",
            choices=DATE_FORMATS,
            default="auto",
            help="ordre des dates avec barres obliques : mdy (celui de Clockify par défaut) ou dmy ; auto le "
            "déduit du fichier",
        )
        parser.add_argument(
            "--timezone", help="fuseau horaire des heures exportées (par défaut celui du cabinet, TIME_ZONE)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="vérifier et rendre compte, sans rien écrire"
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="afficher le compte rendu en JSON"
        )

    def handle(self, *args, files, date_format, timezone, dry_run, as_json, **options):
        out = self.stderr if as_json else self.stdout
        try:
            report = clockify_csv_import(
                paths=files, date_format=date_format, time_zone=timezone, dry_run=dry_run, progress=out.write
            )
        except InputError as exc:
            raise CommandError(f"{exc} ; rien n'a été enregistré") from exc
        if as_json:
            self.stdout.write(json_dumps(report.as_dict()))
            return
        prefix = "Essai à blanc, rien n'a été enregistré : " if dry_run else ""
        self.stdout.write(self.style.SUCCESS(prefix + report.summary()))
