"""The schedules declared in code reach django-q2, and the tasks they name run."""

import datetime as dt
import importlib
import re

import pytest
from django.utils import timezone
from django_q.models import Schedule

from syaga.core.schedules import collect_specs, schedules_sync

pytestmark = pytest.mark.django_db


def test_every_declared_schedule_is_written_once_and_points_at_a_real_function():
    # when
    schedules_sync()
    schedules_sync()
    # then
    names = list(Schedule.objects.values_list("name", flat=True))
    assert sorted(names) == sorted({s.name for s in collect_specs()})
    assert {
        "syaga:cycle-daily",
        "syaga:cycle-weekly",
        "syaga:cycle-month-end",
        "syaga:qonto-sync",
        "syaga:balance-snapshot",
    } <= set(names)
    for schedule in Schedule.objects.all():
        module, _, func = schedule.func.rpartition(".")
        assert callable(getattr(importlib.import_module(module), func)), schedule.func
        # nothing fires at the cluster's first start: every job waits for its slot
        assert schedule.next_run > timezone.now()


def test_cycles_run_at_their_local_hour():
    # given: Tuesday 10 March 2026, 07:00 in Paris
    schedules_sync(now=timezone.make_aware(dt.datetime(2026, 3, 10, 7, 0)))
    # then: the daily cycle tomorrow at 07:00, the weekly one next Monday, the month-end one in the evening
    # of the month's last week (Paris time, whatever the server's clock)
    expected = {
        "syaga:cycle-daily": (dt.date(2026, 3, 11), 7, 0),
        "syaga:cycle-weekly": (dt.date(2026, 3, 16), 7, 30),
    }
    for name, when in expected.items():
        local = timezone.localtime(Schedule.objects.get(name=name).next_run)
        assert (local.date(), local.hour, local.minute) == when, name
    month_end = Schedule.objects.get(name="syaga:cycle-month-end")
    assert month_end.cron == "0 19 22-31 * *"
    local = timezone.localtime(month_end.next_run)  # django-q2 computes a CRON job's next run itself
    assert (local.day >= 22, local.hour, local.minute) == (True, 19, 0)
    sync = Schedule.objects.get(name="syaga:qonto-sync")
    assert sync.schedule_type == Schedule.MINUTES
    assert sync.minutes == 15


def test_daily_tasks_run_end_to_end(seller):
    from banking.tasks import balance_snapshot
    from invoicing.models import Invoice
    from syaga.ops.tasks import cycle_daily, cycle_month_end
    from tests.factories import ContractFactory

    contract = ContractFactory(start_date=timezone.localdate().replace(day=1))
    assert "Cycle quotidien" in cycle_daily()
    cycle_daily()
    assert Invoice.objects.filter(contract=contract).count() == 1
    assert cycle_month_end()
    assert "solde(s) du jour enregistré(s)" in balance_snapshot()


@pytest.mark.parametrize(
    ("day", "last"),
    [
        (dt.date(2026, 3, 31), True),  # a Tuesday
        (dt.date(2026, 3, 30), False),
        (dt.date(2026, 5, 29), True),  # Friday; 30 and 31 May are a weekend
        (dt.date(2026, 5, 31), False),
        (dt.date(2026, 12, 31), True),  # a Thursday
        (dt.date(2004, 5, 31), False),  # Whit Monday
        (dt.date(2004, 5, 28), True),
    ],
)
def test_the_last_working_day_of_the_month(settings, day, last):
    from syaga.ops.cycles import is_last_working_day

    settings.PUBLIC_HOLIDAYS_SUBDIVISION = ""

    assert is_last_working_day(day) is last


def test_setup_schedules_lists_each_schedule_with_its_next_run_in_french():
    from io import StringIO

    from django.core.management import call_command

    # when: written once, then again
    first, again = StringIO(), StringIO()
    call_command("setup_schedules", stdout=first)
    call_command("setup_schedules", stdout=again)

    # then: each line names the schedule, whether it was created, and its next run dd/mm/yyyy HH:MM (Paris)
    daily = Schedule.objects.get(name="syaga:cycle-daily")
    expected = f"prochaine exécution le {timezone.localtime(daily.next_run):%d/%m/%Y %H:%M}"
    assert f"syaga:cycle-daily (créée) : {expected}" in first.getvalue().splitlines()
    assert f"syaga:cycle-daily (à jour) : {expected}" in again.getvalue().splitlines()
    assert expected.endswith(" 07:00")
    for line in again.getvalue().splitlines():
        assert re.fullmatch(
            r"syaga:[\w-]+ \(à jour\) : prochaine exécution le \d\d/\d\d/\d{4} \d\d:\d\d", line
        )
