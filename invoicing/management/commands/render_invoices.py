"""``render_invoices [--number N] [--year Y] [--workers N]``: write the PDFs that are missing."""

import sys

from django.core.management.base import BaseCommand, CommandError

from invoicing.documents.pdf import invoices_missing_pdf, invoices_pdf_render_pool
from invoicing.models import Invoice


class Command(BaseCommand):
    help = (
        "Écrit le PDF (Factur-X) de chaque facture et avoir émis qui n'en a pas encore, un processus par "
        "cœur. Un PDF enregistré n'est jamais réécrit ; un PDF enregistré mais disparu est signalé "
        "(restaurez-le depuis la sauvegarde)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--number", help="seulement ce document (F20260012)")
        parser.add_argument("--year", type=int, help="seulement les documents émis cette année")
        parser.add_argument(
            "--workers", type=int, default=None, help="nombre de processus (par défaut : un par cœur)"
        )

    def handle(self, *args, number=None, year=None, workers=None, **options):
        if number and not Invoice.objects.filter(number=number).exists():
            raise CommandError(f"--number {number} : aucun document émis ne porte ce numéro")
        ids = invoices_missing_pdf(number=number, year=year)
        if not ids:
            self.stdout.write(self.style.SUCCESS("Aucun PDF manquant."))
            return
        self.stdout.write(f"{len(ids)} PDF à écrire…")
        report = invoices_pdf_render_pool(invoice_ids=ids, workers=workers, progress=self._progress)
        self.stdout.write("")
        for invoice_id, reason in report.failed:
            self.stderr.write(f"#{invoice_id} : {reason}")
        if report.failed:
            raise CommandError(f"{report.written} PDF écrits, {len(report.failed)} en échec (voir ci-dessus)")
        self.stdout.write(self.style.SUCCESS(f"{report.written} PDF écrits."))

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total
        bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        if getattr(self.stdout, "isatty", lambda: False)() or sys.stdout.isatty():
            self.stdout.write(f"\r{bar}", ending="")
        elif done == total or done % max(1, total // 10) == 0:
            self.stdout.write(bar)
