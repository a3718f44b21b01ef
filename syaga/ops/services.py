"""Writes of the top floor: the chores of a first start (and of every start after it)."""

import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from banking.services.overdue import overdue_alerts_raise
from invoicing.models import Invoice, SellerProfile
from syaga.core.dates import today
from syaga.core.schedules import schedules_sync
from syaga.ops.demo import demo_load


@dataclass
class FirstStart:
    """What a start did: the demo loaded (counts) or why not, the admin created (with its password, shown
    once), the schedules written, the overdue alerts raised."""

    username: str
    password: str | None = None  # set only when the admin user was created now
    demo: dict | None = None
    demo_refused_in_production: bool = False
    schedules: list[tuple[str, bool]] = field(default_factory=list)
    alerts_raised: int = 0


def first_start(*, username: str = "admin", load_demo: bool = True) -> FirstStart:
    """Harmless when run again: the demo only on an empty development database (never in production), the
    admin user only when there is no superuser, the schedules as the code declares them, and the overdue
    alerts each invoice has reached (so the alerts page agrees with the first page from the first start)."""
    result = FirstStart(username=username)
    empty = not SellerProfile.objects.exists() and not Invoice.objects.exists()
    if empty and settings.PRODUCTION:
        # Demo invoices would take real numbers and demo contracts would be billed by the schedule.
        result.demo_refused_in_production = True
    elif empty and load_demo:
        result.demo = demo_load(today=today())
    users = get_user_model()
    if not users.objects.filter(is_superuser=True).exists():
        result.password = secrets.token_urlsafe(12)
        users.objects.create_superuser(username, "", result.password)
    result.schedules = schedules_sync()
    with transaction.atomic():
        result.alerts_raised = len(overdue_alerts_raise(on=today()))
    return result
