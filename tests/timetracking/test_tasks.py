"""The schedules reach django-q2, the 15-minute job keeps to working hours and a missing key is a notice."""

import datetime as dt

import pytest
from django.utils import timezone
from django_q.models import Schedule

from syaga.core.schedules import schedules_sync
from tests.factories import ClientFactory
from tests.timetracking.clockify_stub import ClockifyStub
from timetracking import tasks
from timetracking.models import TimeEntry

pytestmark = pytest.mark.django_db


def test_the_schedules_are_declared_for_setup_schedules():
    schedules_sync(now=timezone.make_aware(dt.datetime(2026, 3, 10, 7, 0)))
    sync = Schedule.objects.get(name="syaga:clockify-sync")
    assert (sync.func, sync.schedule_type, sync.minutes) == (
        "timetracking.tasks.clockify_sync_and_coach",
        Schedule.MINUTES,
        15,
    )
    daily = Schedule.objects.get(name="syaga:coaching-daily-report")
    assert timezone.localtime(daily.next_run).time() == dt.time(18, 45)
    assert Schedule.objects.get(name="syaga:coaching-hourly").minutes == 60


def test_the_fifteen_minute_job_does_nothing_outside_working_days(settings):
    today = timezone.localdate().weekday()
    settings.COACHING_WORKING_DAYS = str((today + 1) % 7)
    settings.CLOCKIFY_API_KEY = "would-fail-if-used"
    settings.CLOCKIFY_API_URL = "http://127.0.0.1:9/api/v1"
    assert tasks.clockify_sync_and_coach() == "hors des heures de travail : rien à faire"


@pytest.fixture
def always_working(settings):
    settings.COACHING_WORKING_DAYS = "0,1,2,3,4,5,6"
    settings.COACHING_WORKING_HOURS = "00:00-23:59"


def test_without_a_key_the_job_says_sync_skipped_and_still_coaches(settings, always_working):
    settings.CLOCKIFY_API_KEY = ""
    result = tasks.clockify_sync_and_coach()
    assert result.startswith(
        "Synchronisation Clockify sautée : Clockify n'est pas configuré : CLOCKIFY_API_KEY est vide"
    )
    assert "0 rappel(s)" in result


def test_the_job_brings_clockify_in(httpserver, settings, seller, always_working):
    stub = ClockifyStub(httpserver)
    stub.configure(settings)
    ClientFactory(name="Garage Martin")
    jean = stub.add_user("Jean Dupont", "jean@syaga.fr")
    start = timezone.now().replace(microsecond=0) - dt.timedelta(hours=2)
    stub.add_entry(
        jean, start=start, end=start + dt.timedelta(hours=1), project="Audit", client="Garage Martin"
    )
    result = tasks.clockify_sync_and_coach()
    assert result.startswith("Clockify : 1 utilisateur(s), 1 saisie(s) créée(s)")
    assert TimeEntry.objects.count() == 1
