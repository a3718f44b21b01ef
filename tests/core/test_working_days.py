"""The month's last working day skips weekends and French public holidays (syaga.core.dates)."""

import datetime as dt

import pytest

from syaga.core.dates import is_working_day, last_working_day


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2026, 12, dt.date(2026, 12, 31)),  # a Thursday; Christmas (Friday 25) is earlier
        (2026, 5, dt.date(2026, 5, 29)),  # Sunday 31 May: Friday 29
        (2026, 1, dt.date(2026, 1, 30)),  # Saturday 31 January: Friday 30
        (2004, 5, dt.date(2004, 5, 28)),  # Monday 31 May 2004 was Whit Monday: Friday 28
        (2057, 5, dt.date(2057, 5, 30)),  # Thursday 31 May 2057 is Ascension: Wednesday 30
        (2059, 3, dt.date(2059, 3, 28)),  # Monday 31 March 2059 is Easter Monday: Friday 28
    ],
)
def test_the_last_working_day_of_a_month(settings, year, month, expected):
    # given the national holidays only
    settings.PUBLIC_HOLIDAYS_SUBDIVISION = ""

    # when / then
    assert last_working_day(year, month) == expected


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (dt.date(2026, 12, 25), False),  # Noël, a Friday
        (dt.date(2026, 5, 1), False),  # fête du Travail, a Friday
        (dt.date(2026, 5, 14), False),  # Ascension
        (dt.date(2026, 5, 25), False),  # lundi de Pentecôte
        (dt.date(2026, 7, 14), False),
        (dt.date(2026, 5, 15), True),  # the Friday after Ascension is a working day
        (dt.date(2026, 12, 26), False),  # a Saturday
        (dt.date(2026, 12, 28), True),
    ],
)
def test_public_holidays_are_not_working_days(settings, day, working):
    settings.PUBLIC_HOLIDAYS_SUBDIVISION = ""

    assert is_working_day(day) is working


def test_alsace_moselle_has_good_friday_and_saint_stephen(settings):
    # given Moselle (57): Good Friday and 26 December are public holidays there, not elsewhere
    settings.PUBLIC_HOLIDAYS_SUBDIVISION = ""
    national = last_working_day(2029, 3)
    settings.PUBLIC_HOLIDAYS_SUBDIVISION = "57"

    # when
    moselle = last_working_day(2029, 3)

    # then: Friday 30 March 2029 is Good Friday in Moselle
    assert national == dt.date(2029, 3, 30)
    assert moselle == dt.date(2029, 3, 29)
    assert not is_working_day(dt.date(2025, 12, 26))


def test_an_unknown_subdivision_is_refused_in_french(settings):
    settings.PUBLIC_HOLIDAYS_SUBDIVISION = "99"

    with pytest.raises(ValueError, match="PUBLIC_HOLIDAYS_SUBDIVISION='99'"):
        last_working_day(2026, 12)


def test_the_month_end_task_waits_for_the_last_working_day(settings, monkeypatch):
    from syaga.ops import tasks

    # given Sunday 31 May 2026: the last working day was Friday 29
    settings.PUBLIC_HOLIDAYS_SUBDIVISION = ""
    monkeypatch.setattr(tasks, "today", lambda: dt.date(2026, 5, 31))

    # when
    said = tasks.cycle_month_end()

    # then nothing runs, and the message names the right day
    assert said == "31/05/2026 n'est pas le dernier jour ouvré du mois (c'est le 29/05/2026) : rien à faire"
