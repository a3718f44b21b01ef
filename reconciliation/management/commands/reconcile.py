"""``reconcile [--oxygen FILE] [--pdf-dir DIR] [--json]``: the database, the accounting export, the PDFs."""

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter

from reconciliation.models import DiscrepancyKind
from reconciliation.selectors import report_as_dict
from reconciliation.services import reconcile
from syaga.core.errors import InputError
from syaga.core.output import json_dumps

JSON_SHAPE = """
JSON (--json), chaque clé toujours présente :
  {"report": id du rapport enregistré, "at": "2026-03-02T07:00:00+01:00",
   "sides": ["database", "oxygen", "pdf"] (les côtés comparés), "left_out": [pourquoi un côté ne l'est pas],
   "sources": {"database": {"documents": N},
               "oxygen": {"checked": bool, "file": chemin|null, "documents": N|null, "lines": N|null,
                          "ignored_lines": N|null, "period": {"from": "AAAA-MM-JJ", "to": "AAAA-MM-JJ"}|null},
               "pdf": {"checked": bool, "dir": chemin, "files": N}},
   "documents": N, "consistent": N, "score": "98.50" (pour cent) | null, "summary": "...",
   "counts": {"missing": N, "unknown": N, "amount": N, "date": N, "duplicate": N, "other_pdf": N,
              "unreadable": N, "gap": N},
   "discrepancies": [{"kind": une clé de counts, "number": "F20260001", "side": "oxygen"|"pdf"|"database",
                      "item": "document"|"total_ht"|"total_vat"|"total_ttc"|"issue_date"|"number"|
                              "occurrences"|"numbering",
                      "expected": la valeur de la base, "found": celle de l'autre côté (montants "1000.00",
                      dates "AAAA-MM-JJ", "" si absente), "reason": "en français"}]}
"""


class _KeepLayout(DjangoHelpFormatter):
    """The help is reflowed, the JSON shape (several lines) is printed as written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class Command(BaseCommand):
    help = (
        "Compare au centime les factures et avoirs émis de la base avec l'export comptable (--oxygen : un "
        "CSV d'écritures de ventes Oxygène, par exemple celui d'export_oxygen relu) et avec les PDF sur le "
        "disque (--pdf-dir, par défaut INVOICE_PDF_DIR : <année>/<numéro>.pdf, numéro, date et totaux lus "
        "avec pypdf) : documents absents d'un côté, montants et dates qui diffèrent, numéros en double, PDF "
        "d'un autre document, trous dans la numérotation. Enregistre le rapport (admin « Rapprochement »), "
        "affiche chaque écart et le score (part des documents de la base cohérents sur tous les côtés "
        "comparés) ; sans --oxygen, ou sans aucun PDF, ce côté est laissé de côté et le score le dit. Code "
        "de sortie 1 quand il y a un écart, ou quand l'export est illisible (« ligne N : raison », rien "
        "n'est enregistré)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs.setdefault("formatter_class", _KeepLayout)
        kwargs.setdefault("epilog", JSON_SHAPE)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument(
            "--oxygen", metavar="FICHIER", help="l'export comptable (CSV d'écritures de ventes Oxygène)"
        )
        parser.add_argument(
            "--pdf-dir", metavar="DOSSIER", help="le dossier des PDF (par défaut : INVOICE_PDF_DIR)"
        )
        parser.add_argument("--json", action="store_true", dest="as_json", help="affiche le rapport en JSON")

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
