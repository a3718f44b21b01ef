"""``reconcile [--oxygen FILE] [--pdf-dir DIR] [--json]``: the database, the accounting export, the PDFs."""

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter

from reconciliation.models import DiscrepancyKind
from reconciliation.selectors import report_as_dict
from reconciliation.services import reconcile
from syaga.core.errors import InputError
from syaga.core.output import json_dumps

JSON_SHAPE = """
JSON (--json), every key always present:
  {"report": id of the stored report, "at": "2026-03-02T07:00:00+01:00",
   "sides": ["database", "oxygen", "pdf"] (those compared), "left_out": [why a side was not, in French],
   "sources": {"database": {"documents": N},
               "oxygen": {"checked": bool, "file": path|null, "documents": N|null, "lines": N|null,
                          "ignored_lines": N|null, "period": {"from": "AAAA-MM-JJ", "to": "AAAA-MM-JJ"}|null},
               "pdf": {"checked": bool, "dir": path, "files": N}},
   "documents": N, "consistent": N, "score": "98.50" (percent) | null, "summary": "...",
   "counts": {"missing": N, "unknown": N, "amount": N, "date": N, "duplicate": N, "other_pdf": N,
              "unreadable": N, "gap": N},
   "discrepancies": [{"kind": one of counts' keys, "number": "F20260001", "side": "oxygen"|"pdf"|"database",
                      "item": "document"|"total_ht"|"total_vat"|"total_ttc"|"issue_date"|"number"|
                              "occurrences"|"numbering",
                      "expected": the database's value, "found": the other side's value (amounts "1000.00",
                      dates "AAAA-MM-JJ", "" when absent), "reason": "in French"}]}
"""


class _KeepLayout(DjangoHelpFormatter):
    """The help is reflowed, the JSON shape (several lines) is printed as written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Command(BaseCommand):
    help = (
        "Compares the issued invoices and credit notes of the database with the accounting export "
        "(--oxygen: an Oxygène CSV of sales entries, e.g. export_oxygen's read back) and with the PDFs on "
        "disk (--pdf-dir, default INVOICE_PDF_DIR: <year>/<number>.pdf, number, date and totals read with "
        "pypdf), to the cent: documents missing on either side, amounts and dates that differ, duplicated "
        "numbers, PDFs of another document, gaps in the numbering. Stores the report (admin "
        "« Rapprochement »), prints each discrepancy and the score (share of the database's documents "
        "consistent on every side compared); without --oxygen, or without any PDF, that side is left out "
        "and the score says so. Exit code 1 when there is any discrepancy, or when the export cannot be "
        "read (« line N: reason », nothing stored)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", _KeepLayout)
        kwargs.setdefault("epilog", JSON_SHAPE)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument(
            "--oxygen", metavar="FILE", help="the accounting export (Oxygène CSV of sales entries)"
        )
        parser.add_argument("--pdf-dir", metavar="DIR", help="the PDFs' directory (default: INVOICE_PDF_DIR)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")

    def handle(self, *args, oxygen=None, pdf_dir=None, as_json=False, **options):
        try:
            report = reconcile(oxygen_path=oxygen, pdf_dir=pdf_dir)
        except InputError as exc:
            raise CommandError(f"{exc} ; rien n'a été enregistré") from exc
        if as_json:
            self.stdout.write(json_dumps(report_as_dict(report)))
        else:
            for discrepancy in report.discrepancies.order_by("pk"):
                label = DiscrepancyKind(discrepancy.kind).label
                self.stdout.write(f"{discrepancy.number:<14} {label:<24} {discrepancy.reason}")
        if report.discrepancy_count:
            raise CommandError(report.summary())
        if not as_json:
            self.stdout.write(self.style.SUCCESS(report.summary()))
