"""What the top floor connects: coaching reminders leave through the mail app, once each."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from syaga.ops.wiring import wire
from timetracking.models import Consultant, Reminder, ReminderKind
from timetracking.services.coaching import reminders_deliver

pytestmark = pytest.mark.django_db


def test_coaching_reminders_are_e_mailed_to_the_consultant_once(seller, django_capture_on_commit_callbacks):
    # given: the wiring made at start-up, a reminder stored for a consultant
    wire()
    consultant = Consultant.objects.create(name="Anne Martin", email="anne@syaga.fr")
    Reminder.objects.create(
        consultant=consultant,
        kind=ReminderKind.NO_TIMER,
        key="no-timer:anne:2026-03-10T10",
        at=timezone.now(),
        for_date=dt.date(2026, 3, 10),
        subject="Aucun chronomètre depuis 45 min",
        body="Pensez à lancer votre chronomètre Clockify.",
    )
    # when: delivered twice
    with django_capture_on_commit_callbacks(execute=True):
        first = reminders_deliver()
        second = reminders_deliver()
    # then
    assert (first, second) == (1, 0)
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["anne@syaga.fr"], "Aucun chronomètre depuis 45 min")
    ]
