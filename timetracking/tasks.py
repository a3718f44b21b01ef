"""django-q2 entry points of the time-tracking app: thin, they take ids or nothing and call one service."""

import datetime as dt

from django.utils import timezone
from django_q.models import Schedule

from syaga.core.dates import add_months, french_month_label, today
from syaga.core.money import format_eur
from syaga.core.schedules import ScheduleSpec
from timetracking.clients.clockify import ClockifyConfigError
from timetracking.conf import working_time
from timetracking.services.billing import timesheets_bill
from timetracking.services.clockify_sync import clockify_sync
from timetracking.services.coaching import (
    coaching_daily_report,
    coaching_hourly,
    coaching_now,
    reminders_deliver,
)

SCHEDULES = [
    # Every 15 minutes in working hours (the task checks them): bring Clockify in, then the coaching checks.
    ScheduleSpec(
        name="syaga:clockify-sync",
        func="timetracking.tasks.clockify_sync_and_coach",
        schedule_type=Schedule.MINUTES,
        minutes=15,
    ),
    # Every hour in working hours: the day so far, for each consultant.
    ScheduleSpec(
        name="syaga:coaching-hourly",
        func="timetracking.tasks.coaching_hourly_point",
        schedule_type=Schedule.MINUTES,
        minutes=60,
    ),
    # Every evening after the working day: a last sync, then each consultant's report.
    ScheduleSpec(
        name="syaga:coaching-daily-report",
        func="timetracking.tasks.coaching_daily",
        schedule_type=Schedule.DAILY,
        at=dt.time(18, 45),
    ),
]


def _in_working_hours(now: dt.datetime) -> bool:
    local = timezone.localtime(now)
    working = working_time()
    return working.is_working_day(local.date()) and working.day_start <= local.time() <= working.day_end


def _sync() -> str:
    try:
        return str(clockify_sync())
    except ClockifyConfigError as exc:
        return f"Synchronisation Clockify sautée : {exc}"


def clockify_sync_and_coach() -> str:
    if not _in_working_hours(timezone.now()):
        return "hors des heures de travail : rien à faire"
    report = _sync()
    reminders = coaching_now()
    delivered = reminders_deliver()
    return f"{report} ; {len(reminders)} rappel(s), {delivered} envoyé(s)"


def coaching_hourly_point() -> str:
    reminders = coaching_hourly()
    delivered = reminders_deliver()
    return f"{len(reminders)} point(s) horaire(s), {delivered} envoyé(s)"


def coaching_daily() -> str:
    report = _sync()
    reminders = coaching_daily_report(day=today())
    delivered = reminders_deliver()
    return f"{report} ; {len(reminders)} rapport(s) du jour, {delivered} envoyé(s)"


def bill_previous_month() -> str:
    """For the month-end cycle: bill last month's FACTURABLE time (nothing twice if run again)."""
    report = timesheets_bill(month=add_months(today().replace(day=1), -1))
    return (
        f"{french_month_label(report.month)} : {len(report.bills)} facture(s) de temps, "
        f"{format_eur(report.total_ht)} HT"
    )
