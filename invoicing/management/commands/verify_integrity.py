"""``verify_integrity [--chain-unchained] [--json]``: recompute the hash chains and the PDFs' hashes."""

from django.core.management.base import BaseCommand, CommandError

from invoicing.services.integrity import documents_chain_unchained, integrity_verify
from syaga.core.output import json_dumps


class Command(BaseCommand):
    help = (
        "Recalcule la chaîne d'empreintes de chaque série sur le contenu légal des documents émis, et le "
        "SHA-256 de leurs PDF enregistrés ; affiche « les N documents sont intacts » ou chaque maillon rompu "
        "(numéro, ce qui diffère) et sort avec le code 1 si quelque chose est rompu."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--chain-unchained",
            action="store_true",
            help="d'abord chaîner les documents émis sans maillon (émis avant que cette archive existe)",
        )
        parser.add_argument(
            "--json", action="store_true", help='afficher {"documents", "pdfs", "findings"} en JSON'
        )

    def handle(self, *args, chain_unchained=False, json=False, **options):
        if chain_unchained:
            chained = documents_chain_unchained(imported=True)
            self.stdout.write(f"{len(chained)} document(s) ajouté(s) à la chaîne.")
        report = integrity_verify()
        if json:
            self.stdout.write(
                json_dumps(
                    {
                        "documents": report.documents,
                        "pdfs": report.pdfs,
                        "findings": [{"number": f.number, "problem": f.problem} for f in report.findings],
                    }
                )
            )
        else:
            for finding in report.findings:
                self.stdout.write(self.style.ERROR(str(finding)))
        if not report.intact:
            raise CommandError(report.summary())
        if not json:
            self.stdout.write(self.style.SUCCESS(report.summary()))
