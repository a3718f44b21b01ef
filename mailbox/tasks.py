"""django-q2 entry points of the mailbox app: thin, they take ids or nothing and call one service."""

from django_q.models import Schedule

from mailbox.services.inbox import inbox_poll
from mailbox.services.sending import invoices_send_new, outbox_flush
from syaga.core.schedules import ScheduleSpec

SCHEDULES = [
    # Retries of failed sends come due every few minutes.
    ScheduleSpec(
        name="syaga:mail-outbox", func="mailbox.tasks.outbox", schedule_type=Schedule.MINUTES, minutes=5
    ),
    # The inbox every 15 minutes in working hours (the daily cycle reads it once more in the morning). Sending
    # the day's invoices, the reminders and the daily report are steps of the daily cycle (syaga/ops).
    ScheduleSpec(
        name="syaga:mail-inbox",
        func="mailbox.tasks.poll_inbox",
        schedule_type=Schedule.CRON,
        cron="*/15 7-19 * * 1-5",
    ),
]


def invoices_send(invoice_ids: list[int]) -> str:
    """Queued after an issue (invoicing.services.delivery): e-mail these documents to their clients, unless
    backdated or already sent (the demo's history is never e-mailed)."""
    return str(invoices_send_new(invoice_ids=invoice_ids))


def outbox() -> str:
    return str(outbox_flush())


def poll_inbox() -> str:
    return str(inbox_poll())
