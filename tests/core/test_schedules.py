"""The schedules declared in code reach django-q2, and the tasks they name run."""

import datetime as dt
import importlib

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
        "syaga:generate-recurring",
        "syaga:validate-pending",
        "syaga:qonto-sync",
        "syaga:overdue-alerts",
        "syaga:balance-snapshot",
    } <= set(names)
    for schedule in Schedule.objects.all():
        module, _, func = schedule.func.rpartition(".")
        assert callable(getattr(importlib.import_module(module), func)), schedule.func
        # nothing fires at the cluster's first start: every job waits for its slot
        assert schedule.next_run > timezone.now()


def test_daily_jobs_run_at_their_local_hour():
    schedules_sync(now=timezone.make_aware(dt.datetime(2026, 3, 10, 7, 0)))
    generate = Schedule.objects.get(name="syaga:generate-recurring")
    local = timezone.localtime(generate.next_run)
    assert (local.date(), local.hour, local.minute) == (dt.date(2026, 3, 11), 5, 30)
    sync = Schedule.objects.get(name="syaga:qonto-sync")
    assert sync.schedule_type == Schedule.MINUTES
    assert sync.minutes == 15


def test_daily_tasks_run_end_to_end(seller):
    from banking.tasks import balance_snapshot, overdue_alerts
    from invoicing.models import Invoice
    from invoicing.tasks import generate_recurring, validate_pending
    from tests.factories import ContractFactory

    contract = ContractFactory(start_date=timezone.localdate().replace(day=1))
    generate_recurring()
    generate_recurring()
    assert Invoice.objects.filter(contract=contract).count() == 1
    assert validate_pending()
    assert "overdue alerts raised" in overdue_alerts()
    assert "balance snapshots" in balance_snapshot()
