"""The time-tracking settings, read once and checked: a wrong value is named with what it should be.

Settings (``syaga/settings.py``, documented in ``.env.example``): the default hourly rate, the rounding rule
of billed hours, how lines are grouped, the coaching thresholds, working hours and daily target.
"""

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from syaga.core.dates import is_public_holiday

ROUNDING_UNITS = {"minute": 60, "quarter": 15 * 60, "half": 30 * 60}
STATEMENTS = {
    ("minute", "nearest"): "à la minute la plus proche",
    ("minute", "up"): "à la minute supérieure",
    ("quarter", "nearest"): "au quart d'heure le plus proche",
    ("quarter", "up"): "au quart d'heure supérieur",
    ("half", "nearest"): "à la demi-heure la plus proche",
    ("half", "up"): "à la demi-heure supérieure",
}
SCOPE_LABELS = {"entry": "saisie par saisie", "line": "ligne par ligne"}
DIRECTIONS = ("nearest", "up")
LINE_GROUPINGS = ("project", "task")


@dataclass(frozen=True)
class RoundingRule:
    """How billed time is rounded: a unit (minute, quarter or half hour), per entry or per invoice line,
    to the nearest unit (a half unit rounds up) or always up. Integer seconds: no float, no Decimal."""

    unit: str = "quarter"
    scope: str = "line"
    direction: str = "nearest"

    @property
    def unit_seconds(self) -> int:
        return ROUNDING_UNITS[self.unit]

    def apply(self, seconds: int) -> int:
        step = self.unit_seconds
        if self.direction == "up":
            return -(-seconds // step) * step
        return (seconds + step // 2) // step * step

    def statement(self) -> str:
        """What the invoice says about it, in French: « temps arrondi au quart d'heure le plus proche, ligne
        par ligne »."""
        return f"temps arrondi {STATEMENTS[(self.unit, self.direction)]}, {SCOPE_LABELS[self.scope]}"


def _choice(name: str, value: str, allowed) -> str:
    value = (value or "").strip().lower()
    if value not in allowed:
        raise ImproperlyConfigured(f"{name}={value!r} : valeurs possibles {', '.join(allowed)}")
    return value


def rounding_rule() -> RoundingRule:
    return RoundingRule(
        unit=_choice("TIMESHEET_ROUNDING_UNIT", settings.TIMESHEET_ROUNDING_UNIT, tuple(ROUNDING_UNITS)),
        scope=_choice("TIMESHEET_ROUNDING_SCOPE", settings.TIMESHEET_ROUNDING_SCOPE, tuple(SCOPE_LABELS)),
        direction=_choice("TIMESHEET_ROUNDING_DIRECTION", settings.TIMESHEET_ROUNDING_DIRECTION, DIRECTIONS),
    )


def line_grouping() -> str:
    return _choice("TIMESHEET_LINE_GROUPING", settings.TIMESHEET_LINE_GROUPING, LINE_GROUPINGS)


def _decimal(name: str, value) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise ImproperlyConfigured(f"{name}={value!r} n'est pas un montant (par exemple 110.00)") from exc
    if amount < 0:
        raise ImproperlyConfigured(f"{name}={value!r} ne peut pas être négatif")
    return amount


def default_hourly_rate() -> Decimal:
    """The firm's rate (€ HT an hour) for a client without its own ``hourly_rate``."""
    return _decimal("TIMESHEET_DEFAULT_HOURLY_RATE", settings.TIMESHEET_DEFAULT_HOURLY_RATE)


def daily_target() -> Decimal:
    """Revenue equivalent (€ HT) one consultant is expected to produce on a working day."""
    return _decimal("COACHING_DAILY_TARGET", settings.COACHING_DAILY_TARGET)


@dataclass(frozen=True)
class WorkingTime:
    """Working days (0 = Monday) and the day's working ranges, local time."""

    days: frozenset[int]
    ranges: tuple[tuple[dt.time, dt.time], ...]

    def is_working_day(self, day: dt.date) -> bool:
        """One of the working weekdays and not a French public holiday (no reminder on 25/12 or 14/07)."""
        return day.weekday() in self.days and not is_public_holiday(day)

    def range_at(self, local: dt.datetime) -> tuple[dt.time, dt.time] | None:
        """The working range ``local`` falls in, on a working day; None outside working time."""
        if not self.is_working_day(local.date()):
            return None
        now = local.time()
        for start, end in self.ranges:
            if start <= now < end:
                return start, end
        return None

    @property
    def day_start(self) -> dt.time:
        return min(start for start, _ in self.ranges)

    @property
    def day_end(self) -> dt.time:
        return max(end for _, end in self.ranges)


_RANGE = re.compile(r"(\d{1,2})[:h](\d{2})\s*-\s*(\d{1,2})[:h](\d{2})")


def working_time() -> WorkingTime:
    raw_ranges = settings.COACHING_WORKING_HOURS
    ranges = []
    for part in str(raw_ranges).split(","):
        m = _RANGE.fullmatch(part.strip())
        try:
            start = dt.time(int(m[1]), int(m[2])) if m else None
            end = dt.time(int(m[3]), int(m[4])) if m else None
        except ValueError:
            start = end = None
        if start is None or end is None or end <= start:
            raise ImproperlyConfigured(
                f"COACHING_WORKING_HOURS={raw_ranges!r} : attendu des plages comme 09:00-12:30,13:30-18:00"
            )
        ranges.append((start, end))
    raw_days = settings.COACHING_WORKING_DAYS
    try:
        days = frozenset(int(d) for d in str(raw_days).split(",") if d.strip())
    except ValueError:
        days = frozenset({-1})
    if not days or not days <= set(range(7)):
        raise ImproperlyConfigured(
            f"COACHING_WORKING_DAYS={raw_days!r} : attendu des numéros de jour de 0 (lundi) à 6, "
            "par exemple 0,1,2,3,4"
        )
    return WorkingTime(days=days, ranges=tuple(sorted(ranges)))


def timer_max_seconds() -> int:
    return int(settings.COACHING_TIMER_MAX_HOURS) * 3600


def idle_seconds() -> int:
    return int(settings.COACHING_IDLE_MINUTES) * 60
