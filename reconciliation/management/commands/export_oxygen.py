"""``export_oxygen --from D --to D --format xml|csv|xlsx [--output FILE]``: the period's sales for Oxygène."""

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from invoicing.models import SellerProfile
from reconciliation.exports.oxygen import OxygenExportError, oxygen_csv, oxygen_xlsx, oxygen_xml
from reconciliation.exports.sales import sales_documents


def _day(text: str) -> dt.date:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
    raise CommandError(f"date « {text} » : attendu AAAA-MM-JJ ou JJ/MM/AAAA")


class Command(BaseCommand):
    help = (
        "Exporte les factures et avoirs émis sur la période pour le logiciel comptable Oxygène : XML (schéma "
        "reconciliation/schemas/oxygene-ventes-1.xsd), CSV d'écritures (ISO-8859-15, « ; ») ou XLSX à lire "
        "par une personne."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from",
            dest="date_from",
            required=True,
            help="première date d'émission (AAAA-MM-JJ ou JJ/MM/AAAA)",
        )
        parser.add_argument(
            "--to", dest="date_to", required=True, help="dernière date d'émission (AAAA-MM-JJ ou JJ/MM/AAAA)"
        )
        parser.add_argument(
            "--format", choices=["xml", "csv", "xlsx"], required=True, help="xml, csv ou xlsx"
        )
        parser.add_argument(
            "--output", help="le fichier (par défaut : la sortie standard ; obligatoire en xlsx)"
        )

    def handle(self, *args, date_from, date_to, format, output=None, **options):
        start, end = _day(date_from), _day(date_to)
        if start > end:
            raise CommandError(f"--from {start:%d/%m/%Y} est après --to {end:%d/%m/%Y}")
        if format == "xlsx" and not output:
            raise CommandError("--format xlsx : indiquez --output FICHIER.xlsx")
        documents = sales_documents(date_from=start, date_to=end)
        seller = SellerProfile.current()
        try:
            if format == "xml":
                content = oxygen_xml(
                    documents, date_from=start, date_to=end, siren=seller.siren if seller else ""
                )
            elif format == "csv":
                content = oxygen_csv(documents)
            else:
                content = oxygen_xlsx(documents, date_from=start, date_to=end)
        except OxygenExportError as exc:
            raise CommandError(str(exc)) from exc
        if output:
            Path(output).write_bytes(content)
            self.stderr.write(
                f"{output} : {len(documents)} document(s) du {start:%d/%m/%Y} au {end:%d/%m/%Y}"
            )
        else:
            self.stdout.write(content.decode("utf-8" if format == "xml" else "iso-8859-15"), ending="")
