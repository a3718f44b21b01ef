"""Gapless invoice numbers: one counter row per (series, year), locked in the issuing transaction."""

import re

from django.db import IntegrityError, transaction

from invoicing.models import InvoiceSequence

SERIES_INVOICE = "F"
SERIES_CREDIT_NOTE = "A"
MIN_DIGITS = 4
NUMBER_RE = re.compile(r"^(?P<series>[A-Z])(?P<year>\d{4})(?P<seq>\d{4,})$")


def format_number(series: str, year: int, sequence: int) -> str:
    """``F`` + year + at least four digits: F20250001, as the firm's existing invoices."""
    return f"{series}{year}{sequence:0{MIN_DIGITS}d}"


def parse_number(number: str) -> tuple[str, int, int] | None:
    """(series, year, sequence) of a number in our format, or None for anything else."""
    m = NUMBER_RE.match(number or "")
    if not m:
        return None
    return m["series"], int(m["year"]), int(m["seq"])


def _lock_sequence(series: str, year: int) -> InvoiceSequence:
    try:
        return InvoiceSequence.objects.select_for_update().get(series=series, year=year)
    except InvoiceSequence.DoesNotExist:
        pass
    try:
        # Two workers may both find no row for a new year: one insert wins, the other re-reads it locked.
        with transaction.atomic():
            InvoiceSequence.objects.create(series=series, year=year, last_number=0)
    except IntegrityError:
        pass
    return InvoiceSequence.objects.select_for_update().get(series=series, year=year)


def number_take(*, series: str, year: int) -> str:
    """The next number of a series. Must run inside the transaction that issues the document.

    The counter row stays locked (``SELECT … FOR UPDATE``) until that transaction ends, so a second
    worker waits instead of reading the same value; if the issuing transaction rolls back, the number
    is given back with it, so no gap is ever left.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_take() must run inside the issuing transaction")
    sequence = _lock_sequence(series, year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return format_number(series, year, sequence.last_number)


def sequences_continue_after(numbers) -> int:
    """Move counters past the highest of these numbers (after a history import). Returns rows touched."""
    highest: dict[tuple[str, int], int] = {}
    for number in numbers:
        parsed = parse_number(number)
        if parsed:
            series, year, seq = parsed
            highest[(series, year)] = max(highest.get((series, year), 0), seq)
    touched = 0
    with transaction.atomic():
        for (series, year), seq in sorted(highest.items()):
            sequence = _lock_sequence(series, year)
            if sequence.last_number < seq:
                sequence.last_number = seq
                sequence.save(update_fields=["last_number"])
                touched += 1
    return touched
