"""Business dates: ``timezone.localdate()`` for today, calendar arithmetic, working days.

Working days are Monday to Friday minus the French public holidays, read from the maintained ``holidays``
library (Easter, Ascension and Whit Monday move every year). ``PUBLIC_HOLIDAYS_SUBDIVISION`` adds a
territory's own days: "57", "67", "68" or "6AE" (Alsace-Moselle: Good Friday, 26 December), "971"… Empty:
the national days only.
"""

import calendar
import datetime as dt
import functools
import re

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone

from syaga.core.lazy import lazy_module

# 50 ms of country data: paid by the first working-day question, not by every process's start.
holidays = lazy_module("holidays")

FRENCH_MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


def today() -> dt.date:
    return timezone.localdate()


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day ``months`` later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def month_index(day: dt.date) -> int:
    """Months since year 0: the distance between two dates in whole calendar months is a subtraction."""
    return day.year * 12 + day.month - 1


def end_of_month(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


class DateError(ValueError):
    """Text that is not a date."""


def parse_date(text) -> dt.date:
    """Read ``dd/mm/yyyy``, ``dd/mm/yy``, ``dd-mm-yyyy``, ``dd.mm.yyyy`` or ISO ``yyyy-mm-dd``.

    Two-digit years are 20yy (the history starts in 2010). A time part after the date is ignored.
    """
    if isinstance(text, dt.datetime):
        # An instant becomes the business date it falls on in Paris, not its UTC date.
        return timezone.localtime(text).date() if timezone.is_aware(text) else text.date()
    if isinstance(text, dt.date):
        return text
    raw = str(text)
    s = raw.strip().split(" ")[0].split("T")[0]
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", s)
    try:
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        m = re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{2}|\d{4})", s)
        if m:
            year = int(m[3])
            if year < 100:
                year += 2000
            return dt.date(year, int(m[2]), int(m[1]))
    except ValueError as exc:
        raise DateError(f"date « {raw} » : ce jour n'existe pas") from exc
    raise DateError(f"date « {raw} » illisible (attendu jj/mm/aaaa, jj/mm/aa ou aaaa-mm-jj)")


def date_option(option: str, text: str | None, *, default: dt.date | None = None) -> dt.date | None:
    """A command's date option (``--date``, ``--since``…) read by :func:`parse_date`; ``default`` when not
    given. A bad one stops the command naming the option and what was typed."""
    if not text:
        return default
    try:
        return parse_date(text)
    except DateError as exc:
        raise CommandError(
            f"{option} : « {text} » n'est pas une date valide (jj/mm/aaaa ou aaaa-mm-jj)"
        ) from exc


def french_month_label(day: dt.date) -> str:
    return f"{FRENCH_MONTHS[day.month - 1]} {day.year}"


def public_holidays_subdivision() -> str:
    return settings.PUBLIC_HOLIDAYS_SUBDIVISION.strip()


@functools.cache
def _public_holidays(year: int, subdivision: str) -> frozenset[dt.date]:
    try:
        days = holidays.country_holidays("FR", subdiv=subdivision or None, years=year)
    except NotImplementedError as exc:
        known = ", ".join(holidays.country_holidays("FR").subdivisions)
        raise ValueError(
            f"PUBLIC_HOLIDAYS_SUBDIVISION={subdivision!r} n'est pas une subdivision française connue "
            f"({known})"
        ) from exc
    return frozenset(days)


def is_public_holiday(day: dt.date) -> bool:
    return day in _public_holidays(day.year, public_holidays_subdivision())


def is_working_day(day: dt.date) -> bool:
    """Monday to Friday and not a French public holiday (of the configured subdivision too)."""
    return day.weekday() < 5 and not is_public_holiday(day)


def last_working_day(year: int, month: int) -> dt.date:
    """The month's last working day: 31/12/2026 (a Thursday), 28/05/2004 (Whit Monday was the 31st)."""
    day = dt.date(year, month, calendar.monthrange(year, month)[1])
    while not is_working_day(day):
        day -= dt.timedelta(days=1)
    return day
