"""django-q2 entry points of the banking app: thin, they take ids or nothing and call one service."""

import datetime as dt
import logging

from django_q.models import Schedule

from banking.clients.qonto import QontoConfigError, client_from_settings
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


log = logging.getLogger(__name__)
QONTO_SKIPPED = "Qonto non configuré : synchronisation ignorée"
# Said once per worker process, not every 15 minutes.
_unconfigured_noticed = False


def qonto_sync_and_match() -> str:
    """Bring the bank in, then match what arrived. Without Qonto credentials the sync is skipped with one
    notice (no trace), and the matching still runs on transactions imported otherwise."""
    global _unconfigured_noticed
    try:
        client = client_from_settings()
    except QontoConfigError as exc:
        if not _unconfigured_noticed:
            log.warning("%s (%s) ; le rapprochement des paiements continue.", QONTO_SKIPPED, exc)
            _unconfigured_noticed = True
        report = QONTO_SKIPPED
    else:
        report = qonto_sync(client=client).summary()
    results = payments_match()
    matched = sum(1 for r in results if r.status == "matched")
    return f"{report} ; {len(results)} crédit(s) examiné(s), {matched} rapproché(s)"


def qonto_refetch_transaction(qonto_id: str) -> str:
    """Queued by the webhook: fetch the transaction again from Qonto (the webhook is only a signal)."""
    transaction_refetch(qonto_id=qonto_id)
    results = payments_match()
    return f"transaction {qonto_id} relue ; {len(results)} crédit(s) examiné(s)"


def balance_snapshot() -> str:
    return f"{len(balances_snapshot())} solde(s) du jour enregistré(s)"
