"""Gapless invoice numbers: one counter row per (series, year), locked in the issuing transaction."""

import re

from django.db import IntegrityError, transaction

from invoicing.models import InvoiceSequence
from syaga.core.errors import BusinessError

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


class SequenceGapError(BusinessError):
    """Moving a counter would jump over numbers that no document carries: a gap that can never be filled."""

    def __init__(self, *, series: str, year: int, last_number: int, number: str, missing: tuple[int, int]):
        self.series, self.year, self.last_number = series, year, last_number
        self.number, self.missing = number, missing
        first, last = missing
        numbers = f"number {first}" if first == last else f"numbers {first}–{last}"
        super().__init__(
            f"{number} would move the counter {series}{year} from {last_number} across missing {numbers}"
        )


def missing_ranges(present, *, start: int, end: int) -> list[tuple[int, int]]:
    """The runs of sequence numbers from ``start`` to ``end`` (inclusive) that are not in ``present``."""
    runs = []
    expected = start
    for seq in sorted(s for s in set(present) if start <= s <= end):
        if seq > expected:
            runs.append((expected, seq - 1))
        expected = seq + 1
    if expected <= end:
        runs.append((expected, end))
    return runs


def sequences_continue_after(numbers, *, accept_gaps: bool = True) -> int:
    """Move counters past the highest of these numbers (after a history import). Returns rows touched.

    With ``accept_gaps=False`` a counter moves only if these numbers fill every value between it and its
    new position, checked under the counter's lock; otherwise :class:`SequenceGapError` is raised (and the
    caller's transaction should roll back). A counter still at 0 starts where the lowest of these numbers
    starts (a history need not begin at 1). Nothing but an import ever stores a number above a counter,
    so the numbers given are all that can fill the way.
    """
    given: dict[tuple[str, int], dict[int, str]] = {}
    for number in numbers:
        parsed = parse_number(number)
        if parsed:
            series, year, seq = parsed
            given.setdefault((series, year), {})[seq] = number
    touched = 0
    with transaction.atomic():
        for (series, year), by_seq in sorted(given.items()):
            highest = max(by_seq)
            sequence = _lock_sequence(series, year)
            if sequence.last_number >= highest:
                continue
            if not accept_gaps:
                start = sequence.last_number + 1 if sequence.last_number else min(by_seq)
                gaps = missing_ranges(by_seq, start=start, end=highest)
                if gaps:
                    first, last = gaps[0]
                    raise SequenceGapError(
                        series=series,
                        year=year,
                        last_number=sequence.last_number,
                        number=by_seq[last + 1],
                        missing=(first, last),
                    )
            sequence.last_number = highest
            sequence.save(update_fields=["last_number"])
            touched += 1
    return touched
