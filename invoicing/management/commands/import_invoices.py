from django.core.management.base import BaseCommand, CommandError

from invoicing.services.history_import import invoices_import_csv
from syaga.core.errors import InputError
from syaga.core.money import format_count
from syaga.core.output import json_dumps


class Command(BaseCommand):
    help = (
        "Importe l'historique des factures exporté en CSV par l'ancien outil. Tout ou rien : le premier "
        "problème l'arrête avec « ligne N : motif » et le code de sortie 1. Les factures déjà enregistrées "
        "avec le même contenu sont sautées : le relancer est sans danger. Un compteur de numérotation ne "
        "saute jamais de numéros manquants sans --accept-gaps."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "file",
            help="l'export CSV (séparé par ; , ou tabulation ; UTF-8, UTF-16 ou Windows-1252)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="vérifier et rendre compte, sans rien écrire"
        )
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="afficher le compte rendu en JSON"
        )
        parser.add_argument("--encoding", help="imposer l'encodage (par défaut : déduit des octets)")
        parser.add_argument("--delimiter", help="imposer le séparateur (par défaut : déduit de l'en-tête)")
        parser.add_argument(
            "--accept-gaps",
            action="store_true",
            help="laisser les compteurs de numérotation sauter des numéros que ni le fichier ni la base ne "
            "portent (ils ne pourraient plus jamais servir) ; le compte rendu les liste",
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
                progress=lambda rows: out.write(f"… {format_count(rows)} lignes lues"),
            )
        except InputError as exc:
            raise CommandError(f"{exc} ; rien n'a été écrit") from exc
        if as_json:
            self.stdout.write(json_dumps(report.as_dict()))
            return
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(f"attention : {warning}"))
        prefix = "Simulation, rien n'a été écrit : " if dry_run else ""
        self.stdout.write(self.style.SUCCESS(prefix + report.summary()))
