"""``verify_integrity [--chain-unchained] [--json]``: recompute the hash chains and the PDFs' hashes."""

from django.core.management.base import BaseCommand, CommandError

from invoicing.services.integrity import documents_chain_unchained, integrity_verify
from syaga.core.output import json_dumps


class Command(BaseCommand):
    help = (
        "Recomputes every series' hash chain over the issued documents' legal content and the SHA-256 of "
        "their stored PDFs; prints « les N documents sont intacts » or every broken link (number, what "
        "differs) and exits with code 1 when anything is broken."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--chain-unchained",
            action="store_true",
            help="first chain the issued documents that have no link (issued before this archive existed)",
        )
        parser.add_argument("--json", action="store_true", help='print {"documents", "pdfs", "findings"}')

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
