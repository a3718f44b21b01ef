"""Cells of the CSV files a person opens in a spreadsheet.

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel or
LibreOffice as a formula (``=HYPERLINK(...)`` in a client's name or an audit reason runs when the export is
opened): such text gets a leading apostrophe, which spreadsheets show as nothing and read as "this is text".
Numbers stay numbers: ``Decimal("-12.50")``, an int, or a text that is only a number (``"-12.50"``, as the
audit trail stores totals) are written unchanged, so that credit notes keep their sign and sums still work.
"""

import csv
import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

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


# --- French Excel -----------------------------------------------------------------------------------------
# Excel in French opens a ``.csv`` by double-click as: ``;`` between cells, a decimal comma, dates as
# dd/mm/yyyy, and UTF-8 only when the file starts with a byte order mark (otherwise accents break).

EXCEL_DELIMITER = ";"
UTF8_BOM = "\ufeff"


def french_excel_cell(value: Any) -> Any:
    """One cell as French Excel reads it: ``1234,56`` for an amount (a number, no thousands separator, so
    sums work), ``dd/mm/yyyy`` for a date, ``dd/mm/yyyy hh:mm`` for an instant (local time), text made safe
    by :func:`csv_safe`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, Decimal):
        return f"{value:f}".replace(".", ",")
    if isinstance(value, dt.datetime):
        return (
            timezone.localtime(value).strftime("%d/%m/%Y %H:%M")
            if timezone.is_aware(value)
            else (value.strftime("%d/%m/%Y %H:%M"))
        )
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return csv_safe(value)


class _Echo:
    def write(self, value):
        return value


def french_excel_response(rows, *, filename: str) -> StreamingHttpResponse:
    """Stream ``rows`` (a header then lists of values) as a CSV that French Excel opens cleanly."""
    writer = csv.writer(_Echo(), delimiter=EXCEL_DELIMITER)

    def lines():
        yield UTF8_BOM
        for row in rows:
            yield writer.writerow([french_excel_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
