"""The django-q2 schedules, declared in code.

Each app's ``tasks.py`` may define ``SCHEDULES``: a list of :class:`ScheduleSpec`. ``manage.py
setup_schedules`` (run by ``make run``) writes them with ``update_or_create(name=…)``, so the schedule table
always says what the code says. Missed slots are not replayed (``catch_up=False`` in Q_CLUSTER): a job that
sends mail must not run ten times after a night off.
"""

import datetime as dt
import importlib
from dataclasses import dataclass, field

from croniter import croniter
from django.apps import apps
from django.utils import timezone
from django_q.models import Schedule


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    schedule_type: str  # Schedule.MINUTES, Schedule.DAILY, Schedule.WEEKLY, Schedule.CRON
    minutes: int | None = None
    at: dt.time | None = None  # local time of day for daily and weekly jobs
    weekday: int | None = None  # 0 = Monday, for weekly jobs
    cron: str = ""  # for CRON jobs, in local time: "*/15 8-18 * * 1-5" = every 15 min in working hours
    kwargs: dict = field(default_factory=dict)


def collect_specs() -> list[ScheduleSpec]:
    specs = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.tasks")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.tasks":
                raise
            continue
        specs.extend(getattr(module, "SCHEDULES", []))
    return specs


def first_run(spec: ScheduleSpec, now: dt.datetime) -> dt.datetime:
    """The next slot after ``now``: a daily job at its hour, a weekly one on its day, minutes from now."""
    local = timezone.localtime(now)
    if spec.schedule_type == Schedule.CRON:
        return croniter(spec.cron, local).get_next(dt.datetime)
    if spec.schedule_type == Schedule.MINUTES:
        return now + dt.timedelta(minutes=spec.minutes or 15)
    at = spec.at or dt.time(6, 0)
    candidate = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if spec.schedule_type == Schedule.WEEKLY and spec.weekday is not None:
        candidate += dt.timedelta(days=(spec.weekday - candidate.weekday()) % 7)
    while candidate <= local:
        candidate += dt.timedelta(days=7 if spec.schedule_type == Schedule.WEEKLY else 1)
    return candidate


def schedules_sync(*, now: dt.datetime | None = None) -> list[tuple[str, bool]]:
    """Create or update every declared schedule; remove the ones the code no longer declares."""
    now = now or timezone.now()
    specs = collect_specs()
    results = []
    for spec in specs:
        existing = Schedule.objects.filter(name=spec.name).first()
        next_run = (
            existing.next_run
            if existing and existing.next_run and existing.next_run > now
            else first_run(spec, now)
        )
        _, created = Schedule.objects.update_or_create(
            name=spec.name,
            defaults={
                "func": spec.func,
                "schedule_type": spec.schedule_type,
                "minutes": spec.minutes,
                "cron": spec.cron or None,
                "repeats": -1,
                "next_run": next_run,
                "kwargs": spec.kwargs or {},
                "intended_date_kwarg": None,
            },
        )
        results.append((spec.name, created))
    managed = {s.name for s in specs}
    Schedule.objects.filter(name__startswith="syaga:").exclude(name__in=managed).delete()
    return results
