"""Overdue alerts: J+15, J+30, J+60, J+90 after the due date, each raised once per invoice."""

import datetime as dt

from banking.models import OverdueAlert
from invoicing.selectors import OVERDUE_LEVELS as LEVELS
from invoicing.selectors import overdue_state
from syaga.core.money import quantize


def overdue_alerts_raise(*, on: dt.date) -> list[OverdueAlert]:
    """Raise, for every unpaid invoice past due on ``on``, each level it has reached and not yet raised.

    Every level reached is raised, so a run after 40 days of downtime raises J+15 and J+30 together,
    and never a level twice. Each alert records the days late and the balance due on ``on``. The
    unique (invoice, level) constraint makes concurrent or repeated runs harmless: rows are inserted
    with ``ignore_conflicts`` and read back. Returns the alerts raised on ``on`` for those (invoice,
    level) pairs, most severe first; two runs racing on the same day both see them.
    """
    candidates = overdue_state(on=on).filter(due_date__lte=on - dt.timedelta(days=min(LEVELS)))
    already = set(
        OverdueAlert.objects.filter(invoice__in=candidates.values("pk")).values_list("invoice_id", "level")
    )
    new = [
        OverdueAlert(
            invoice_id=row["pk"],
            level=level,
            days_late=row["days_late"],
            balance_due=quantize(row["amount_due"]),
            raised_on=on,
        )
        for row in candidates.values("pk", "days_late", "amount_due")
        for level in LEVELS
        if level <= row["days_late"] and (row["pk"], level) not in already
    ]
    if not new:
        return []
    OverdueAlert.objects.bulk_create(new, ignore_conflicts=True, batch_size=500)
    wanted = {(alert.invoice_id, alert.level) for alert in new}
    stored = (
        OverdueAlert.objects.filter(raised_on=on, invoice__in=candidates.values("pk"))
        .select_related("invoice", "invoice__client")
        .order_by("-level", "invoice__due_date", "pk")
    )
    return [alert for alert in stored if (alert.invoice_id, alert.level) in wanted]


def overdue_alerts_acknowledge(*, alerts) -> int:
    """Mark alerts as seen by a person (they stay listed in the history). Returns how many changed."""
    return alerts.filter(acknowledged=False).update(acknowledged=True)
