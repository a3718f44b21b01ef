"""Coaching reminders: what triggers them, what they say, that each happens once, and their delivery."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from tests.factories import ClientFactory, ContractFactory
from tests.timetracking.helpers import make_entry, paris
from timetracking.models import ClockifySyncState, Consultant, Reminder, ReminderKind
from timetracking.services.coaching import (
    coaching_daily_report,
    coaching_hourly,
    coaching_now,
    reminder_sender_register,
    reminder_sender_unregister,
    reminders_deliver,
)

pytestmark = pytest.mark.django_db
TUESDAY = dt.date(2026, 3, 10)


def at(hour, minute=0, day=TUESDAY):
    return paris(day.year, day.month, day.day, hour, minute)


@pytest.fixture
def firm(seller, settings):
    settings.COACHING_TIMER_MAX_HOURS = 4
    settings.COACHING_IDLE_MINUTES = 30
    settings.COACHING_WORKING_HOURS = "09:00-12:30,13:30-18:00"
    settings.COACHING_WORKING_DAYS = "0,1,2,3,4"
    settings.COACHING_DAILY_TARGET = "880.00"
    settings.TIMESHEET_DEFAULT_HOURLY_RATE = "110.00"
    pharmabest = ClientFactory(name="Pharmabest SAS")
    ContractFactory(client=pharmabest, start_date=dt.date(2025, 1, 1), amount_ht=Decimal("500.00"))
    ClientFactory(name="Garage Martin")


def synced(now):
    ClockifySyncState.objects.update_or_create(
        workspace_id="ws", clockify_user_id="u", defaults={"last_run_at": now, "synced_through": now}
    )


def kinds():
    return sorted(Reminder.objects.values_list("kind", "consultant__name"))


def test_a_timer_running_past_four_hours_is_reminded_once(firm):
    # given: Jean's timer started at 08:00, Marie's at 11:00
    make_entry(at(8), running=True, project="Infogérance", client="Pharmabest")
    make_entry(at(11), running=True, consultant="Marie Curie")
    # when
    early = coaching_now(now=at(11, 59))
    late = coaching_now(now=at(12, 5))
    again = coaching_now(now=at(12, 20))
    # then
    assert early == []
    assert [r.consultant.name for r in late] == ["Jean Dupont"]
    assert again == []
    reminder = Reminder.objects.get()
    assert reminder.kind == ReminderKind.TIMER_TOO_LONG
    assert reminder.subject == "Chrono en cours depuis 4\u00a0h\u00a005"
    assert "Votre chrono « Infogérance » tourne depuis 08:00" in reminder.body


def test_no_timer_for_more_than_thirty_minutes_in_working_hours_is_reminded_once_per_gap(firm):
    # given: Jean's last entry ended at 10:00
    make_entry(at(9), minutes=60)
    synced(at(10, 45))
    # when / then
    assert coaching_now(now=at(10, 20)) == []
    first = coaching_now(now=at(10, 45))
    assert [(r.kind, r.subject) for r in first] == [(ReminderKind.NO_TIMER, "Aucun chrono depuis 10:00")]
    assert coaching_now(now=at(11, 0)) == []


def test_the_lunch_break_is_not_idleness(firm):
    # given: work until 12:20, nothing after
    make_entry(at(9), minutes=200)
    synced(at(14, 5))
    # when / then: the afternoon counts from 13:30
    assert coaching_now(now=at(13, 45)) == []
    reminders = coaching_now(now=at(14, 5))
    assert [r.subject for r in reminders] == ["Aucun chrono depuis 13:30"]


@pytest.mark.parametrize(
    "now",
    [
        paris(2026, 3, 14, 11, 0),  # Saturday
        paris(2026, 3, 10, 19, 0),  # after working hours
        paris(2026, 3, 10, 12, 50),  # lunch break
    ],
)
def test_no_idle_reminder_outside_working_time(firm, now):
    make_entry(at(8), minutes=30)
    synced(now)
    assert coaching_now(now=now) == []


@pytest.mark.parametrize(
    ("day", "reminded"),
    [(dt.date(2026, 7, 7), True), (dt.date(2026, 7, 14), False)],  # a Tuesday, then the Fête nationale
    ids=["mardi 07/07", "mardi 14/07 férié"],
)
def test_no_idle_reminder_on_a_public_holiday(firm, day, reminded):
    # given: half an hour of work from 08:00, then nothing
    make_entry(at(8, day=day), minutes=30)
    synced(at(11, day=day))
    # when
    reminders = coaching_now(now=at(11, day=day))
    # then: the idle reminder on a working day only
    assert bool(reminders) is reminded


def test_no_idle_reminder_when_clockify_was_not_read_recently(firm):
    make_entry(at(9), minutes=30)
    synced(at(9, 30))
    assert coaching_now(now=at(11, 0)) == []


def test_an_inactive_consultant_gets_no_reminder(firm):
    make_entry(at(9), minutes=30)
    Consultant.objects.update(active=False)
    synced(at(11, 0))
    assert coaching_now(now=at(11, 0)) == []


def test_the_hourly_point_gives_the_billable_share_and_revenue_against_the_target(firm):
    # given: 2 h FACTURABLE (Garage Martin, 110 €/h) and 1 h FORFAIT (Pharmabest, 500 € a month)
    make_entry(at(9), minutes=120, client="Garage Martin")
    make_entry(at(11), minutes=60, client="Pharmabest")
    # when
    reminders = coaching_hourly(now=at(12, 0))
    # then: March 2026 has 22 working days, 500 / 22 = 22,73 € a day
    reminder = reminders[0]
    assert reminder.kind == ReminderKind.HOURLY_PROGRESS
    assert reminder.subject == "Point de 12 h : 3\u00a0h\u00a000, 66,7\u00a0% facturable"
    assert "Part facturable : 66,7\u00a0%." in reminder.body
    assert "Équivalent chiffre d'affaires : 242,73\u00a0€ HT" in reminder.body
    assert "part des forfaits 22,73\u00a0€" in reminder.body
    assert "objectif de 880,00\u00a0€ HT" in reminder.body
    assert reminder.data["revenue"] == "242.73"
    assert coaching_hourly(now=at(12, 10)) == []
    assert len(coaching_hourly(now=at(13, 0))) == 1
    assert coaching_hourly(now=at(20, 0)) == []


def test_the_daily_report_per_consultant(firm):
    # given
    make_entry(at(9), minutes=120, client="Garage Martin", project="Audit", description="Audit réseau")
    make_entry(at(11), minutes=60, client="Pharmabest", project="Infogérance", description="")
    make_entry(at(14), minutes=45, client="", project="", description="Veille")
    make_entry(at(9), minutes=60, consultant="Marie Curie", client="Garage Martin")
    # when
    reminders = coaching_daily_report(day=TUESDAY, now=at(18, 45))
    # then
    assert [r.consultant.name for r in reminders] == ["Jean Dupont", "Marie Curie"]
    jean = reminders[0]
    assert jean.subject == "Rapport du 10/03/2026 : 3\u00a0h\u00a045, efficacité 53,3\u00a0%"
    body = jean.body
    nbsp = body.replace("\u00a0", " ")
    assert "- total : 3 h 45 (facturable 2 h 00, forfait 1 h 00, interne 0 h 45)" in nbsp
    assert "- Garage Martin : 2\u00a0h\u00a000 (facturable 2\u00a0h\u00a000)" in body
    assert "- Pharmabest SAS : 1\u00a0h\u00a000 (forfait 1\u00a0h\u00a000)" in body
    assert "- (sans client) : 0\u00a0h\u00a045 (interne 0\u00a0h\u00a045)" in body
    assert "À compléter dans Clockify (sans projet ou sans description) :" in body
    assert "- 11:00 1\u00a0h\u00a000 – Infogérance – (sans description)" in body
    assert "- 14:00 0\u00a0h\u00a045 – (sans projet) – Veille" in body
    assert coaching_daily_report(day=TUESDAY, now=at(19, 0)) == []


def test_reminders_are_delivered_through_the_registered_sender_once():
    # given
    consultant = Consultant.objects.create(name="Jean Dupont", email="jean@syaga.fr")
    Consultant.objects.create(name="Sans E-mail")
    for i, c in enumerate(Consultant.objects.all()):
        Reminder.objects.create(
            consultant=c,
            kind=ReminderKind.NO_TIMER,
            key=f"k{i}",
            at=at(10),
            for_date=TUESDAY,
            subject="s",
            body="b",
        )
    sent = []
    assert reminders_deliver() == 0  # nothing registered yet: they stay stored
    reminder_sender_register(sent.append)
    try:
        # when
        delivered = reminders_deliver()
        again = reminders_deliver()
    finally:
        reminder_sender_unregister(sent.append)
    # then
    assert (delivered, again) == (1, 0)
    assert [r.consultant for r in sent] == [consultant]
    assert Reminder.objects.filter(delivered_at__isnull=False).count() == 1


def test_a_failing_sender_leaves_the_reminder_undelivered():
    consultant = Consultant.objects.create(name="Jean Dupont", email="jean@syaga.fr")
    Reminder.objects.create(
        consultant=consultant,
        kind=ReminderKind.NO_TIMER,
        key="k",
        at=at(10),
        for_date=TUESDAY,
        subject="s",
        body="b",
    )

    def broken(reminder):
        raise ConnectionError("SMTP down")

    with pytest.raises(ConnectionError):
        reminders_deliver(send=broken)
    assert Reminder.objects.get().delivered_at is None


def test_the_command_runs_the_daily_report(firm):
    make_entry(at(9), minutes=120)
    out = StringIO()
    call_command("coaching", "--daily-report", "--date", "10/03/2026", stdout=out)
    assert "Jean Dupont : Rapport du 10/03/2026" in out.getvalue()
    assert "1 rappel(s) enregistré(s), 0 envoyé(s) par e-mail." in out.getvalue()
    call_command("coaching", "--now", stdout=StringIO())


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        (
            "COACHING_WORKING_DAYS",
            "lundi",
            "COACHING_WORKING_DAYS='lundi' : attendu des numéros de jour de 0 (lundi) à 6, "
            "par exemple 0,1,2,3,4",
        ),
        (
            "COACHING_WORKING_HOURS",
            "9h-18h",
            "COACHING_WORKING_HOURS='9h-18h' : attendu des plages comme 09:00-12:30,13:30-18:00",
        ),
    ],
)
def test_a_wrong_working_time_setting_is_named(settings, setting, value, message):
    setattr(settings, setting, value)
    with pytest.raises(ImproperlyConfigured) as caught:
        coaching_hourly(now=at(10))
    assert str(caught.value) == message
