"""Dates a reply mentions, in French or English, absolute ("le 25 avril", "30/04", "fin juillet") or
relative to the day it was received ("demain", "sous 48h", "vendredi", "fin du mois prochain", "15 jours
de plus").

Used for a payment promise (when the money should arrive) and a delay request (until when).
"""

import calendar
import datetime as dt
import re

MONTHS = {
    "janvier": 1,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "decembre": 12,
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
}
WEEKDAYS = {
    "lundi": 0,
    "mardi": 1,
    "mercredi": 2,
    "jeudi": 3,
    "vendredi": 4,
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
}
NUMBERS = {
    "huit": 8,
    "dix": 10,
    "quinze": 15,
    "trente": 30,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "two": 2,
    "three": 3,
}
_MONTH = "|".join(MONTHS)
_NUM = r"(\d{1,3}|huit|dix|quinze|trente|deux|trois|quatre|two|three)"

PATTERNS = [
    ("iso", re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")),
    ("dmy", re.compile(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b")),
    ("day_month", re.compile(rf"\b(\d{{1,2}})(?:er|st|nd|rd|th)? ({_MONTH})(?: (\d{{4}}))?\b")),
    ("month_day", re.compile(rf"\b({_MONTH}) (\d{{1,2}})(?:st|nd|rd|th)?\b")),
    ("end_next_month", re.compile(r"\b(?:fin (?:du|de) mois prochain|end of next month)\b")),
    ("end_month", re.compile(r"\b(?:fin (?:du |de )?mois|end of (?:the |this )?month)\b")),
    ("end_of_named", re.compile(rf"\b(?:fin|end of|mi|mid)[- ]({_MONTH})\b")),
    ("in_month", re.compile(rf"\b(?:en|in|au mois d'?|courant) ({_MONTH})\b")),
    ("tomorrow", re.compile(r"\b(?:demain|tomorrow)\b")),
    ("today", re.compile(r"\b(?:aujourd'hui|ce jour|ce matin|ce midi|ce soir|today|this morning|tonight)\b")),
    ("yesterday", re.compile(r"\b(?:hier|yesterday)\b")),
    (
        "in_days",
        re.compile(rf"\b(?:sous|d'ici|dans|in|within|under) {_NUM} (?:jours?|days?|business days)\b"),
    ),
    ("in_hours", re.compile(r"\b(?:sous|d'ici|dans|in|within) (\d{2,3}) ?(?:h|heures|hours)\b")),
    ("more_days", re.compile(rf"\b{_NUM} (?:jours?|days?) (?:de plus|more|supplementaires|extra)\b")),
    ("weeks", re.compile(rf"\b{_NUM} (?:semaines?|weeks?)\b")),
    ("next_week", re.compile(r"\b(?:la semaine prochaine|next week|debut de semaine prochaine)\b")),
    ("end_week", re.compile(r"\b(?:fin de (?:la )?semaine|end of (?:the|this) week)\b")),
    ("weekday", re.compile(rf"\b({'|'.join(WEEKDAYS)})\b")),
]


def _number(text: str) -> int:
    return int(text) if text.isdigit() else NUMBERS.get(text, 0)


def _end_of_month(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _future(year: int | None, month: int, day: int, today: dt.date) -> dt.date | None:
    """A day without a year is this year's, or next year's when that is more than two months past."""
    try:
        if year is not None:
            return dt.date(year + 2000 if year < 100 else year, month, day)
        candidate = dt.date(today.year, month, day)
    except ValueError:
        return None
    if candidate < today - dt.timedelta(days=60):
        candidate = candidate.replace(year=today.year + 1)
    return candidate


def mentioned_dates(folded: str, *, today: dt.date) -> list[dt.date]:
    """Every date the (folded) text mentions, in the order it mentions them."""
    found: list[tuple[int, dt.date]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(folded):
            if any(start < match.end() and match.start() < end for start, end in taken):
                continue
            day = _resolve(kind, match, today)
            if day is not None:
                found.append((match.start(), day))
                taken.append((match.start(), match.end()))
    return [day for _, day in sorted(found, key=lambda item: item[0])]


def _resolve(kind: str, m: re.Match, today: dt.date) -> dt.date | None:
    if kind == "iso":
        return _future(int(m[1]), int(m[2]), int(m[3]), today)
    if kind == "dmy":
        day, month = int(m[1]), int(m[2])
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return None
        return _future(int(m[3]) if m[3] else None, month, day, today)
    if kind == "day_month":
        return _future(int(m[3]) if m[3] else None, MONTHS[m[2]], int(m[1]), today)
    if kind == "month_day":
        return _future(None, MONTHS[m[1]], int(m[2]), today)
    if kind == "end_month":
        return _end_of_month(today.year, today.month)
    if kind == "end_next_month":
        year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        return _end_of_month(year, month)
    if kind in ("end_of_named", "in_month"):
        month = MONTHS[m[1]]
        year = today.year + 1 if month < today.month - 2 else today.year
        if m[0].startswith(("mi", "mid")):
            return dt.date(year, month, 15)
        return _end_of_month(year, month)
    if kind == "tomorrow":
        return today + dt.timedelta(days=1)
    if kind == "today":
        return today
    if kind == "yesterday":
        return today - dt.timedelta(days=1)
    if kind in ("in_days", "more_days"):
        return today + dt.timedelta(days=_number(m[1]))
    if kind == "in_hours":
        return today + dt.timedelta(days=max(1, int(m[1]) // 24))
    if kind == "weeks":
        return today + dt.timedelta(weeks=_number(m[1]))
    if kind == "next_week":
        return today + dt.timedelta(days=7)
    if kind == "end_week":
        return today + dt.timedelta(days=(4 - today.weekday()) % 7)
    if kind == "weekday":
        ahead = (WEEKDAYS[m[1]] - today.weekday()) % 7 or 7
        return today + dt.timedelta(days=ahead)
    return None


def promised_date(folded: str, *, today: dt.date, default_days: int) -> dt.date:
    """When an announced payment should arrive: the first date mentioned from today on (a payment said to be
    made on a past day is expected now), else ``default_days`` from today."""
    for day in mentioned_dates(folded, today=today):
        return max(day, today)
    return today + dt.timedelta(days=default_days)


def requested_date(folded: str, *, today: dt.date) -> dt.date | None:
    """Until when a client asks to wait: the latest future date mentioned, None when none is."""
    future = [day for day in mentioned_dates(folded, today=today) if day > today]
    return max(future) if future else None
