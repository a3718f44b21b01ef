"""The cycles on django-q2's clock: daily at 07:00 (Paris), the weekly additions on Monday, the month-end
billing in the evening of the last working day. Thin: each runs one cycle for today."""

import datetime as dt

from django_q.models import Schedule

from syaga.core.dates import last_working_day, today
from syaga.core.schedules import ScheduleSpec
from syaga.ops.cycles import cycle_run, is_last_working_day
from syaga.ops.models import CycleKind

SCHEDULES = [
    ScheduleSpec(
        name="syaga:cycle-daily",
        func="syaga.ops.tasks.cycle_daily",
        schedule_type=Schedule.DAILY,
        at=dt.time(7, 0),
    ),
    ScheduleSpec(
        name="syaga:cycle-weekly",
        func="syaga.ops.tasks.cycle_weekly",
        schedule_type=Schedule.WEEKLY,
        weekday=0,
        at=dt.time(7, 30),
    ),
    # Every evening of the month's last week; the task runs only on the last working day.
    ScheduleSpec(
        name="syaga:cycle-month-end",
        func="syaga.ops.tasks.cycle_month_end",
        schedule_type=Schedule.CRON,
        cron="0 19 22-31 * *",
    ),
]


def _summary(run) -> str:
    return f"{run} : {run.get_status_display()}"


def cycle_daily() -> str:
    return _summary(cycle_run(kind=CycleKind.DAILY, day=today()))


def cycle_weekly() -> str:
    return _summary(cycle_run(kind=CycleKind.WEEKLY, day=today()))


def cycle_month_end() -> str:
    day = today()
    if not is_last_working_day(day):
        last = last_working_day(day.year, day.month)
        return (
            f"{day:%d/%m/%Y} n'est pas le dernier jour ouvré du mois (c'est le {last:%d/%m/%Y}) : "
            "rien à faire"
        )
    return _summary(cycle_run(kind=CycleKind.MONTH_END, day=day))
