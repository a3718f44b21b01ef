"""Cells of the CSV files a person opens in a spreadsheet.

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel or
LibreOffice as a formula (``=HYPERLINK(...)`` in a client's name or an audit reason runs when the export is
opened): such text gets a leading apostrophe, which spreadsheets show as nothing and read as "this is text".
Numbers stay numbers: ``Decimal("-12.50")``, an int, or a text that is only a number (``"-12.50"``, as the
audit trail stores totals) are written unchanged, so that credit notes keep their sign and sums still work.
"""

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def csv_safe(value: Any) -> Any:
    """The value to give ``csv.writer`` for one cell: formula-like text neutralised, numbers unchanged."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_safe_row(values) -> list:
    """:func:`csv_safe` applied to every cell of a row."""
    return [csv_safe(value) for value in values]
