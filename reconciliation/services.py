"""The three-way reconciliation: the database, the accounting export (Oxygène) and the PDFs on disk.

:func:`reconcile` reads the three sides, compares them to the cent and stores a
:class:`~reconciliation.models.ReconciliationReport` with every
:class:`~reconciliation.models.Discrepancy`, in one transaction; a malformed export stops it before anything
is stored. The database is the reference: every discrepancy says which other side differs from it.

- **Accounting side** (``oxygen_path``; left out without one): every issued document of the months the
  export covers must be in it once, with the same date, HT, VAT and TTC (a credit note booked negative);
  every document of the export must be in the database.
- **PDF side** (``pdf_dir``, default ``settings.INVOICE_PDF_DIR``; left out when it holds no PDF at all):
  every issued document has ``<year>/<number>.pdf``, which prints its number, date and totals; every PDF
  there belongs to an issued document, once.
- **Numbering**: no gap in a series and year, up to the highest number issued or handed out.

The score is the share of the database's documents with no discrepancy on any side compared.
"""

import time
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from reconciliation.models import (
    Discrepancy,
    DiscrepancyKind,
    Item,
    ReconciliationReport,
    Side,
)
from reconciliation.selectors import BookedDocument, booked_documents, numbering_gaps
from reconciliation.sources.oxygen import ExportEntry, OxygenExport, oxygen_read
from reconciliation.sources.pdfs import PrintedDocument, pdf_files, read_pdfs
from syaga.core.errors import InputError
from syaga.core.money import format_eur, quantize

AMOUNT_NAMES = {Item.TOTAL_HT: "total HT", Item.TOTAL_VAT: "total TVA", Item.TOTAL_TTC: "total TTC"}
# Discrepancies that are not about one of the database's documents (they do not lower the score).
NOT_A_DOCUMENT = frozenset({DiscrepancyKind.GAP, DiscrepancyKind.UNKNOWN})


def reconcile(
    *, oxygen_path: str | Path | None = None, pdf_dir: str | Path | None = None, workers: int | None = None
) -> ReconciliationReport:
    """Compare the three sides and store the report (see the module). ``workers``: processes reading the
    PDFs (default: one per core). Raises InputError for an unreadable export or a ``pdf_dir`` that is not
    a directory; nothing is stored then."""
    started = time.perf_counter()
    at = timezone.now()
    export = oxygen_read(oxygen_path) if oxygen_path else None
    root = Path(pdf_dir) if pdf_dir else Path(settings.INVOICE_PDF_DIR)
    if pdf_dir and not root.is_dir():
        raise InputError("n'est pas un dossier", where=str(root))
    documents = booked_documents()
    findings: list[Discrepancy] = []
    if export is not None:
        findings += _compare_export(documents, export)
    files = pdf_files(root)
    if files:
        findings += _compare_pdfs(documents, files, root, workers=workers)
    findings += _gaps(documents)
    touched = {f.number for f in findings if f.kind not in NOT_A_DOCUMENT}
    consistent = sum(1 for document in documents if document.number not in touched)
    score = quantize(Decimal(consistent) * 100 / len(documents)) if documents else None
    with transaction.atomic():
        report = ReconciliationReport.objects.create(
            created_at=at,
            oxygen_file=str(oxygen_path or ""),
            oxygen_checked=export is not None,
            oxygen_period_start=export.period_start if export else None,
            oxygen_period_end=export.period_end if export else None,
            pdf_dir=str(root),
            pdf_checked=bool(files),
            documents=len(documents),
            oxygen_documents=export.documents if export else None,
            oxygen_lines=export.lines if export else None,
            oxygen_ignored_lines=export.ignored_lines if export else None,
            pdf_files=sum(len(paths) for paths in files.values()),
            consistent=consistent,
            discrepancy_count=len(findings),
            score=score,
            duration_ms=0,
        )
        for finding in findings:
            finding.report = report
        Discrepancy.objects.bulk_create(findings, batch_size=2000)
        report.duration_ms = int((time.perf_counter() - started) * 1000)
        report.save(update_fields=["duration_ms"])
    return report


# --- accounting side ---------------------------------------------------------------------------------------


def _compare_export(documents: list[BookedDocument], export: OxygenExport) -> list[Discrepancy]:
    out = []
    known = set()
    for document in documents:
        key = document.number.upper()
        known.add(key)
        entries = export.entries.get(key)
        if not entries:
            if export.period_start <= document.issue_date <= export.period_end:
                out.append(
                    _finding(
                        DiscrepancyKind.MISSING,
                        document.number,
                        Side.OXYGEN,
                        expected=document.number,
                        reason=f"{document.number} ({document.label} du {document.issue_date:%d/%m/%Y}, "
                        f"{format_eur(document.total_ttc)} TTC) est dans la base mais absent de l'export "
                        "Oxygène",
                    )
                )
            continue
        if len(entries) > 1:
            lines = ", ".join(str(entry.line_no) for entry in entries)
            out.append(
                _finding(
                    DiscrepancyKind.DUPLICATE,
                    document.number,
                    Side.OXYGEN,
                    item=Item.OCCURRENCES,
                    expected="1",
                    found=str(len(entries)),
                    reason=f"{document.number} figure {len(entries)} fois dans l'export Oxygène "
                    f"(écritures lignes {lines})",
                )
            )
        out += _compare_entry(document, entries[0])
    for number, entries in export.entries.items():
        if number in known:
            continue
        entry = entries[0]
        times = f" ({len(entries)} écritures)" if len(entries) > 1 else ""
        out.append(
            _finding(
                DiscrepancyKind.UNKNOWN,
                number,
                Side.OXYGEN,
                found=number,
                reason=f"{number} figure dans l'export Oxygène (ligne {entry.line_no}, "
                f"{format_eur(abs(entry.total_ttc))} TTC du {entry.issue_date:%d/%m/%Y}){times} mais aucun "
                "document émis de la base ne porte ce numéro",
            )
        )
    return out


def _compare_entry(document: BookedDocument, entry: ExportEntry) -> list[Discrepancy]:
    out = []
    where = f"dans l'export Oxygène (ligne {entry.line_no})"
    if entry.issue_date != document.issue_date:
        out.append(
            _finding(
                DiscrepancyKind.DATE,
                document.number,
                Side.OXYGEN,
                item=Item.ISSUE_DATE,
                expected=document.issue_date.isoformat(),
                found=entry.issue_date.isoformat(),
                reason=f"{document.number} : daté du {entry.issue_date:%d/%m/%Y} {where}, du "
                f"{document.issue_date:%d/%m/%Y} dans la base",
            )
        )
    # The export books a credit note negative: turned back to the document's own (positive) amounts.
    sign = -1 if document.is_credit_note else 1
    found = {
        Item.TOTAL_HT: sign * entry.total_ht,
        Item.TOTAL_VAT: sign * entry.total_vat,
        Item.TOTAL_TTC: sign * entry.total_ttc,
    }
    for item, expected in _amounts(document).items():
        if found[item] != expected:
            out.append(_amount_finding(document, Side.OXYGEN, item, expected, found[item], where))
    return out


# --- PDF side ----------------------------------------------------------------------------------------------


def _expected_pdf(document: BookedDocument) -> str:
    return f"{document.issue_date.year}/{document.number}.pdf"


def _compare_pdfs(
    documents: list[BookedDocument], files: dict[str, list[str]], root: Path, *, workers: int | None
) -> list[Discrepancy]:
    out = []
    by_number = {document.number: document for document in documents}
    to_read: list[BookedDocument] = []
    for document in documents:
        relative = _expected_pdf(document)
        paths = files.get(document.number, [])
        if relative in paths:
            to_read.append(document)
        else:
            elsewhere = f" (trouvé ailleurs : {', '.join(paths)})" if paths else ""
            out.append(
                _finding(
                    DiscrepancyKind.MISSING,
                    document.number,
                    Side.PDF,
                    expected=relative,
                    reason=f"{document.number} : pas de PDF, {relative} est absent de {root}{elsewhere}",
                )
            )
        if len(paths) > 1:
            out.append(
                _finding(
                    DiscrepancyKind.DUPLICATE,
                    document.number,
                    Side.PDF,
                    item=Item.OCCURRENCES,
                    expected="1",
                    found=str(len(paths)),
                    reason=f"{document.number} a {len(paths)} PDF : {', '.join(paths)}",
                )
            )
    for number, paths in files.items():
        document = by_number.get(number)
        if document is not None:
            continue
        for relative in paths:
            out.append(
                _finding(
                    DiscrepancyKind.UNKNOWN,
                    number,
                    Side.PDF,
                    found=relative,
                    reason=f"{relative} : aucun document émis de la base ne porte le numéro {number}",
                )
            )
    printed = read_pdfs(root, [_expected_pdf(document) for document in to_read], workers=workers)
    for document, pdf in zip(to_read, printed, strict=True):
        out += _compare_printed(document, pdf)
    return out


def _compare_printed(document: BookedDocument, pdf: PrintedDocument) -> list[Discrepancy]:
    if pdf.error:
        return [_unreadable(document, pdf, f"illisible ({pdf.error})")]
    if pdf.number and pdf.number != document.number:
        return [
            _finding(
                DiscrepancyKind.OTHER_PDF,
                document.number,
                Side.PDF,
                item=Item.NUMBER,
                expected=document.number,
                found=pdf.number,
                reason=f"{pdf.path} imprime le numéro {pdf.number} : c'est le PDF d'un autre document, pas "
                f"celui de {document.number}",
            )
        ]
    if pdf.missing_items:
        return [_unreadable(document, pdf, f"{', '.join(pdf.missing_items)} introuvable(s) dans le texte")]
    out = []
    if pdf.issue_date != document.issue_date:
        out.append(
            _finding(
                DiscrepancyKind.DATE,
                document.number,
                Side.PDF,
                item=Item.ISSUE_DATE,
                expected=document.issue_date.isoformat(),
                found=pdf.issue_date.isoformat(),
                reason=f"{document.number} : le PDF est daté du {pdf.issue_date:%d/%m/%Y}, la base du "
                f"{document.issue_date:%d/%m/%Y}",
            )
        )
    found = {Item.TOTAL_HT: pdf.total_ht, Item.TOTAL_VAT: pdf.total_vat, Item.TOTAL_TTC: pdf.total_ttc}
    for item, expected in _amounts(document).items():
        if found[item] != expected:
            out.append(_amount_finding(document, Side.PDF, item, expected, found[item], f"dans {pdf.path}"))
    return out


def _unreadable(document: BookedDocument, pdf: PrintedDocument, what: str) -> Discrepancy:
    return _finding(
        DiscrepancyKind.UNREADABLE,
        document.number,
        Side.PDF,
        expected=pdf.path,
        reason=f"{document.number} : {pdf.path} {what}",
    )


# --- numbering ---------------------------------------------------------------------------------------------


def _gaps(documents: list[BookedDocument]) -> list[Discrepancy]:
    out = []
    for gap in numbering_gaps(documents):
        first, last = gap.number(gap.first), gap.number(gap.last)
        if gap.size == 1:
            missing, text = first, f"{first} n'est porté par aucun document émis"
        else:
            missing = f"{first} à {last}"
            text = f"{missing} ({gap.size} numéros) ne sont portés par aucun document émis"
        out.append(
            _finding(
                DiscrepancyKind.GAP,
                first,
                Side.DATABASE,
                item=Item.NUMBERING,
                expected=missing,
                reason=f"trou dans la numérotation {gap.series} {gap.year} : {text}",
            )
        )
    return out


# --- helpers -----------------------------------------------------------------------------------------------


def _amounts(document: BookedDocument) -> dict[str, Decimal]:
    return {
        Item.TOTAL_HT: document.total_ht,
        Item.TOTAL_VAT: document.total_vat,
        Item.TOTAL_TTC: document.total_ttc,
    }


def _amount_finding(
    document: BookedDocument, side: str, item: str, expected: Decimal, found: Decimal, where: str
) -> Discrepancy:
    name = AMOUNT_NAMES[item]
    if found == -expected:
        gap = " : le signe est inversé (avoir passé comme une facture, ou l'inverse)"
    else:
        gap = f" (écart {format_eur(found - expected)})"
    return _finding(
        DiscrepancyKind.AMOUNT,
        document.number,
        side,
        item=item,
        expected_amount=expected,
        found_amount=found,
        reason=f"{document.number} : {name} de {format_eur(found)} {where}, {format_eur(expected)} dans la "
        f"base{gap}",
    )


def _finding(
    kind: str,
    number: str,
    side: str,
    *,
    item: str = Item.DOCUMENT,
    reason: str,
    expected: str = "",
    found: str = "",
    **amounts,
) -> Discrepancy:
    # What another side calls a number can be any text: cut to the columns' size (the reason keeps it whole).
    return Discrepancy(
        kind=kind,
        number=number[:60],
        side=side,
        item=item,
        expected=expected[:200],
        found=found[:200],
        reason=reason,
        **amounts,
    )
