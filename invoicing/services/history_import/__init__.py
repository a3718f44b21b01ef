"""Importing the invoice history exported by the firm's previous tool: :func:`invoices_import_csv`.

The export is a CSV whose dialect is not known in advance (``dialect``: encoding, delimiter, header
aliases, how an amount or a date reads). Each row becomes a named record, checked, and the rows of one
number become one historical invoice (``rows``). The invoices are compared with what the database holds:
a number already stored is skipped if the file says the same about it and refused otherwise, and the
numbering gaps are measured (``stored``). Only then, for a file without a single error, is everything
written in one transaction (``writer``). Every refusal is an :class:`InputError` naming the file line.
"""

import contextlib
import datetime as dt
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.db import IntegrityError
from django.utils import timezone

from invoicing.services.history_import.dialect import dialect_find, read_source
from invoicing.services.history_import.rows import DESCRIPTION_MAX_LENGTH, invoice_from_draft, rows_read
from invoicing.services.history_import.stored import (
    GAPS_SHOWN,
    NumberGap,
    clients_plan,
    gaps_refusal,
    invoices_already_stored,
    known_clients,
    numbering_gaps,
)
from invoicing.services.history_import.writer import history_write
from invoicing.services.numbering import SequenceGapError
from syaga.core.errors import InputError
from syaga.core.money import ZERO, format_count, format_eur

__all__ = ["ImportReport", "invoices_import_csv"]


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    encoding: str = ""
    delimiter: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    rows_read: int = 0
    rows_skipped: int = 0
    rows_ignored: int = 0
    invoices_created: int = 0
    credit_notes_created: int = 0
    lines_created: int = 0
    paid: int = 0
    clients_created: int = 0
    clients_reused: int = 0
    invoices_skipped: int = 0
    sequences_moved: int = 0
    total_ttc: Decimal = ZERO
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    gaps: list[NumberGap] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "columns": self.columns,
            "rows_read": self.rows_read,
            "rows_skipped": self.rows_skipped,
            "rows_ignored": self.rows_ignored,
            "invoices_created": self.invoices_created,
            "credit_notes_created": self.credit_notes_created,
            "lines_created": self.lines_created,
            "paid": self.paid,
            "clients_created": self.clients_created,
            "clients_reused": self.clients_reused,
            "invoices_skipped": self.invoices_skipped,
            "sequences_moved": self.sequences_moved,
            "total_ttc": str(self.total_ttc),
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "gaps": [gap.as_dict() for gap in self.gaps],
            "warnings": self.warnings,
        }

    def summary(self) -> str:
        verb = "à créer" if self.dry_run else "créé(s)"
        n = format_count
        text = (
            f"{n(self.rows_read)} ligne(s) lue(s) : {n(self.invoices_created)} facture(s) et "
            f"{n(self.credit_notes_created)} avoir(s) {verb} ({n(self.lines_created)} ligne(s), "
            f"{n(self.paid)} payée(s), {format_eur(self.total_ttc)} TTC), "
            f"{n(self.clients_created)} nouveau(x) client(s), {n(self.clients_reused)} client(s) "
            f"existant(s) repris ; {n(self.rows_skipped)} ligne(s) sautée(s), déjà importée(s)"
        )
        if self.rows_ignored:
            text += f" ; {format_count(self.rows_ignored)} ligne(s) sans numéro, date ni client ignorée(s)"
        return text + "."


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Python's cyclic garbage collector off for the duration, back as it was after.

    A 100,000-row import holds a few million small objects alive; each full collection walks them all,
    and the collections that allocation triggers cost a quarter of the import's time. The records the
    import makes hold no reference cycles, so nothing is left for the collector to find afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _lines_text(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:10]) + (" …" if len(lines) > 10 else "")
    return f"{'ligne' if len(lines) == 1 else 'lignes'} {shown}"


def invoices_import_csv(
    *,
    path: str | Path | None = None,
    stream=None,
    dry_run: bool = False,
    encoding: str | None = None,
    delimiter: str | None = None,
    accept_gaps: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import an invoice history CSV (a ``path``, or a binary or text ``stream``); all or nothing.

    Raises :class:`InputError` naming the file line and the reason at the first problem, before anything
    is written: a bad cell, an ambiguous amount, a row repeated, an invoice already stored with other
    content, or a numbering counter the import would move across missing numbers (unless
    ``accept_gaps``; the gaps are in the report either way). Invoices stored with the same content are
    skipped, so importing a file twice writes nothing the second time. With ``dry_run`` every check runs
    and nothing is written. Counters continue after the highest imported number of each series and year.
    """
    if (path is None) == (stream is None):
        raise TypeError("pass either path or stream")
    with _cyclic_gc_paused():
        return _import(
            path=path,
            stream=stream,
            dry_run=dry_run,
            encoding=encoding,
            delimiter=delimiter,
            accept_gaps=accept_gaps,
            progress=progress,
        )


def _import(*, path, stream, dry_run, encoding, delimiter, accept_gaps, progress) -> ImportReport:
    report = ImportReport(dry_run=dry_run)
    text, report.encoding = read_source(path, stream, encoding)
    dialect = dialect_find(text, encoding=report.encoding, delimiter=delimiter)
    report.delimiter, report.columns = dialect.delimiter, dialect.column_names()
    read = rows_read(text, dialect, today=timezone.localdate(), progress=progress)
    report.rows_read, report.rows_ignored = read.rows, len(read.ignored_lines)
    if read.ignored_lines:
        report.warnings.append(
            f"lignes sans numéro, date ni client ignorées (des totaux ?) : {_lines_text(read.ignored_lines)}"
        )
    if read.cut_label_lines:
        report.warnings.append(
            f"libellés de plus de {DESCRIPTION_MAX_LENGTH} caractères coupés : "
            f"{_lines_text(read.cut_label_lines)}"
        )
    invoices = {number: invoice_from_draft(draft) for number, draft in read.drafts.items()}

    known = known_clients()
    skipped = invoices_already_stored(invoices, known)
    report.invoices_skipped = len(skipped)
    report.rows_skipped = sum(len(invoices[number].lines) for number in skipped)
    report.gaps = numbering_gaps(invoices)
    if not accept_gaps and (refusal := gaps_refusal(report.gaps)):
        raise refusal
    for gap in report.gaps[:GAPS_SHOWN]:
        report.warnings.append(f"trou de numérotation {gap.text()}")
    if len(report.gaps) > GAPS_SHOWN:
        report.warnings.append(
            f"trous de numérotation : {len(report.gaps) - GAPS_SHOWN} de plus (voir --json)"
        )

    # In date order: the pks follow the history, and the date and number indexes grow at their end.
    new = sorted(
        (invoice for number, invoice in invoices.items() if number not in skipped),
        key=lambda invoice: (invoice.issue_date, invoice.number),
    )
    if new:
        report.first_date, report.last_date = new[0].issue_date, new[-1].issue_date
    clients = clients_plan(new, known)
    report.clients_created, report.clients_reused = len(clients.new), clients.reused
    for invoice in new:
        if invoice.is_credit_note:
            report.credit_notes_created += 1
            report.total_ttc -= invoice.total_ttc
        else:
            report.invoices_created += 1
            report.total_ttc += invoice.total_ttc
        report.lines_created += len(invoice.lines)
        report.paid += invoice.paid_date is not None
    if dry_run or not new:
        return report
    try:
        report.sequences_moved = history_write(invoices=new, clients=clients, accept_gaps=accept_gaps)
    except SequenceGapError as exc:
        first, last = exc.missing
        numbers = f"le numéro {first} manquant" if first == last else f"les numéros {first}–{last} manquants"
        raise InputError(
            f"{exc.number} ferait passer le compteur {exc.series}{exc.year} de {exc.last_number} en sautant "
            f"{numbers} : le compteur a bougé pendant la vérification du fichier ; relancez l'import",
            where=f"ligne {invoices[exc.number].line_no}",
        ) from exc
    except IntegrityError as exc:
        raise InputError(
            f"la base de données a refusé l'import, rien n'a été écrit ({exc}) ; un autre import ou une "
            "facture émise entre-temps a peut-être pris l'un de ces numéros : relancez l'import"
        ) from exc
    return report
