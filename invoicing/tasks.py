"""django-q2 entry points of the invoicing app: thin, they take ids or nothing and call one service."""

import datetime as dt

from django_q.models import Schedule

from invoicing.documents.pdf import invoices_pdf_ensure
from invoicing.services.recurring import recurring_generate
from invoicing.services.review import validate_pending as validate_pending_run
from syaga.core.dates import today
from syaga.core.schedules import ScheduleSpec

SCHEDULES = [
    # Daily cycle, early morning: bill the contracts that are due, then run the validation rules.
    ScheduleSpec(
        name="syaga:generate-recurring",
        func="invoicing.tasks.generate_recurring",
        schedule_type=Schedule.DAILY,
        at=dt.time(5, 30),
    ),
    ScheduleSpec(
        name="syaga:validate-pending",
        func="invoicing.tasks.validate_pending",
        schedule_type=Schedule.DAILY,
        at=dt.time(5, 45),
    ),
]


def generate_recurring() -> str:
    report = recurring_generate(on=today())
    return str(report)


def validate_pending() -> str:
    return str(validate_pending_run())


def invoices_pdf_render(*, invoice_ids: list[int]) -> str:
    """After an issue: the PDF of each document (a large batch is split across the workers)."""
    return str(invoices_pdf_ensure(invoice_ids=invoice_ids))
