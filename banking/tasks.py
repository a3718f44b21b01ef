"""django-q2 entry points of the banking app: thin, they take ids or nothing and call one service."""

import datetime as dt

from django_q.models import Schedule

from banking.services.allocation import payments_match
from banking.services.qonto_sync import balances_snapshot, qonto_sync, transaction_refetch
from syaga.core.schedules import ScheduleSpec

SCHEDULES = [
    # Every 15 minutes: bring the bank in, then match what arrived.
    ScheduleSpec(
        name="syaga:qonto-sync",
        func="banking.tasks.qonto_sync_and_match",
        schedule_type=Schedule.MINUTES,
        minutes=15,
    ),
    # The balance at the end of the day (overdue alerts run in the daily cycle, syaga/ops/cycles.py).
    ScheduleSpec(
        name="syaga:balance-snapshot",
        func="banking.tasks.balance_snapshot",
        schedule_type=Schedule.DAILY,
        at=dt.time(23, 55),
    ),
]


def qonto_sync_and_match() -> str:
    report = qonto_sync()
    results = payments_match()
    matched = sum(1 for r in results if r.status == "matched")
    return f"{report}; {len(results)} credits considered, {matched} matched"


def qonto_refetch_transaction(qonto_id: str) -> str:
    """Queued by the webhook: fetch the transaction again from Qonto (the webhook is only a signal)."""
    transaction_refetch(qonto_id=qonto_id)
    results = payments_match()
    return f"refetched {qonto_id}; {len(results)} credits considered"


def balance_snapshot() -> str:
    return f"{len(balances_snapshot())} balance snapshots"
