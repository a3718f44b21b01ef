"""Reads: the database side of a reconciliation, and the stored reports."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, QuerySet
from django.utils import timezone

from invoicing.models import Invoice, InvoiceSequence
from invoicing.models.invoice import FROZEN_STATUSES, Kind, Origin
from invoicing.services.numbering import missing_ranges, parse_number
from reconciliation.models import Discrepancy, DiscrepancyKind, ReconciliationReport


@dataclass(frozen=True)
class BookedDocument:
    """An issued invoice or credit note as the database holds it (amounts positive, as printed)."""

    number: str
    is_credit_note: bool
    issue_date: dt.date
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal
    imported: bool

    @property
    def label(self) -> str:
        return "avoir" if self.is_credit_note else "facture"


def booked_documents() -> list[BookedDocument]:
    """Every issued document (issued and after: sent, paid, cancelled…), in series and number order."""
    rows = (
        Invoice.objects.filter(status__in=FROZEN_STATUSES)
        .order_by("series", "number")
        .values_list("number", "kind", "issue_date", "total_ht", "total_vat", "total_ttc", "origin")
    )
    return [
        BookedDocument(
            number=number,
            is_credit_note=kind == Kind.CREDIT_NOTE,
            issue_date=issue_date,
            total_ht=ht,
            total_vat=vat,
            total_ttc=ttc,
            imported=origin == Origin.IMPORTED,
        )
        for number, kind, issue_date, ht, vat, ttc, origin in rows.iterator(chunk_size=5000)
    ]


@dataclass(frozen=True)
class NumberingGap:
    series: str
    year: int
    first: int
    last: int

    def number(self, sequence: int) -> str:
        return f"{self.series}{self.year}{sequence:04d}"

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def numbering_gaps(documents: list[BookedDocument]) -> list[NumberingGap]:
    """Runs of numbers of a series and year that no issued document carries, up to the highest number
    issued or handed out by the counter. A series-year whose lowest number is imported history starts
    there (the old tool's earlier numbers were never brought in); otherwise it starts at 1."""
    present: dict[tuple[str, int], set[int]] = {}
    lowest: dict[tuple[str, int], tuple[int, bool]] = {}  # (lowest sequence, is it imported history)
    for document in documents:
        parsed = parse_number(document.number)
        if not parsed:
            continue
        series, year, sequence = parsed
        present.setdefault((series, year), set()).add(sequence)
        if (series, year) not in lowest or sequence < lowest[(series, year)][0]:
            lowest[(series, year)] = (sequence, document.imported)
    counters = {
        (series, year): last
        for series, year, last in InvoiceSequence.objects.values_list("series", "year", "last_number")
    }
    gaps = []
    for key in sorted(set(present) | {k for k, last in counters.items() if last}):
        numbers = present.get(key, set())
        end = max([counters.get(key, 0), *numbers])
        first_number, imported = lowest.get(key, (1, False))
        start = first_number if imported else 1
        series, year = key
        gaps += [
            NumberingGap(series, year, first, last)
            for first, last in missing_ranges(numbers, start=start, end=end)
        ]
    return gaps


def reports() -> QuerySet[ReconciliationReport]:
    return ReconciliationReport.objects.all()


def discrepancy_counts(report: ReconciliationReport) -> dict[str, int]:
    """``{kind: count}`` of a report's discrepancies."""
    rows = Discrepancy.objects.filter(report=report).values_list("kind").annotate(n=Count("pk"))
    return dict(rows)


def report_as_dict(report: ReconciliationReport) -> dict:
    """The stable JSON shape of a report (documented in the ``reconcile`` command's help and the README):
    every key is always present, amounts and the score are strings with two decimals, dates ISO."""
    counts = dict.fromkeys(DiscrepancyKind.values, 0)
    counts.update(discrepancy_counts(report))
    period = None
    if report.oxygen_period_start:
        period = {"from": report.oxygen_period_start.isoformat(), "to": report.oxygen_period_end.isoformat()}
    return {
        "report": report.pk,
        "at": timezone.localtime(report.created_at).isoformat(timespec="seconds"),
        "sides": report.sides,
        "left_out": report.left_out(),
        "sources": {
            "database": {"documents": report.documents},
            "oxygen": {
                "checked": report.oxygen_checked,
                "file": report.oxygen_file or None,
                "documents": report.oxygen_documents,
                "lines": report.oxygen_lines,
                "ignored_lines": report.oxygen_ignored_lines,
                "period": period,
            },
            "pdf": {"checked": report.pdf_checked, "dir": report.pdf_dir, "files": report.pdf_files or 0},
        },
        "documents": report.documents,
        "consistent": report.consistent,
        "score": f"{report.score:.2f}" if report.score is not None else None,
        "summary": report.summary(),
        "counts": counts,
        "discrepancies": [d.as_dict() for d in report.discrepancies.order_by("pk")],
    }
