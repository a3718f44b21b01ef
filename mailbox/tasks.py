"""django-q2 entry points of the mailbox app: thin, they take ids or nothing and call one service."""

import datetime as dt

from django_q.models import Schedule

from mailbox.services.dunning import reminders_send
from mailbox.services.inbox import inbox_poll
from mailbox.services.reports import daily_report_send
from mailbox.services.sending import invoices_send as invoices_send_service
from mailbox.services.sending import invoices_send_pending, outbox_flush
from syaga.core.dates import today
from syaga.core.schedules import ScheduleSpec

SCHEDULES = [
    # Retries of failed sends come due every few minutes.
    ScheduleSpec(
        name="syaga:mail-outbox", func="mailbox.tasks.outbox", schedule_type=Schedule.MINUTES, minutes=5
    ),
    ScheduleSpec(
        name="syaga:mail-inbox", func="mailbox.tasks.poll_inbox", schedule_type=Schedule.MINUTES, minutes=15
    ),
    # Daily cycle: documents not e-mailed yet, then the reminders (after the night's bank matching), then the
    # report of what waits for a person.
    ScheduleSpec(
        name="syaga:mail-send-pending",
        func="mailbox.tasks.send_pending_invoices",
        schedule_type=Schedule.DAILY,
        at=dt.time(6, 30),
    ),
    ScheduleSpec(
        name="syaga:mail-reminders",
        func="mailbox.tasks.send_reminders",
        schedule_type=Schedule.DAILY,
        at=dt.time(7, 0),
    ),
    ScheduleSpec(
        name="syaga:mail-daily-report",
        func="mailbox.tasks.daily_report",
        schedule_type=Schedule.DAILY,
        at=dt.time(7, 30),
    ),
]


def invoices_send(invoice_ids: list[int]) -> str:
    """Queued after an issue (invoicing.services.delivery): e-mail these documents to their clients."""
    return str(invoices_send_service(invoice_ids=invoice_ids))


def send_pending_invoices() -> str:
    return str(invoices_send_pending())


def outbox() -> str:
    return str(outbox_flush())


def send_reminders() -> str:
    return str(reminders_send(on=today()))


def poll_inbox() -> str:
    return str(inbox_poll())


def daily_report() -> str:
    message = daily_report_send(on=today())
    return "rapport envoyé" if message else "rien à signaler"
