"""Reads of the top floor: what needs the schedules together with an app (the next recurring run)."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Min
from django.utils import timezone
from django_q.models import Schedule

from invoicing.models import Contract
from invoicing.services.recurring import contract_periods_due
from invoicing.tasks import SCHEDULES as INVOICING_SCHEDULES
from syaga.core.money import ZERO, quantize, vat_amount
from syaga.core.schedules import first_run

RECURRING_SCHEDULE = next(s for s in INVOICING_SCHEDULES if s.func == "invoicing.tasks.generate_recurring")


@dataclass(frozen=True)
class RecurringRun:
    """The next run of the recurring billing that bills something, and what it will bill."""

    at: dt.datetime | None  # None: no active contract left to bill
    invoices: int
    contracts: int
    total_ht: Decimal
    total_ttc: Decimal
    for_review: int  # of contracts without automatic approval: they will wait in « À valider »
    scheduled: bool  # False: no schedule written yet (``setup_schedules``), ``at`` is when it would run


def next_recurring_run(*, now: dt.datetime | None = None) -> RecurringRun:
    """The first run of ``generate_recurring`` (daily, at its hour) on or after the earliest billing date
    of the active contracts, and the periods each contract will be billed for then (catching up missed
    ones), every invoice HT + VAT as the invoice will compute it. Two queries and a pass over the contracts
    due that day."""
    now = now or timezone.now()
    schedules = Schedule.objects.filter(name=RECURRING_SCHEDULE.name)
    next_run = schedules.values_list("next_run", flat=True).first()
    scheduled = next_run is not None
    if next_run is None or next_run < now:
        next_run = first_run(RECURRING_SCHEDULE, now)
    earliest = Contract.objects.active().aggregate(first=Min("next_billing_date"))["first"]
    if earliest is None:
        return RecurringRun(None, 0, 0, ZERO, ZERO, 0, scheduled)
    at = next_run
    if earliest > timezone.localdate(next_run):
        local = timezone.localtime(next_run)
        at = timezone.make_aware(dt.datetime.combine(earliest, local.time()))
    run_on = timezone.localdate(at)
    invoices = contracts = for_review = 0
    total_ht = total_ttc = ZERO
    for contract in Contract.objects.due(run_on).select_related("client"):
        periods = contract_periods_due(contract=contract, on=run_on)
        if not periods:
            continue
        contracts += 1
        invoices += len(periods)
        ht = quantize(contract.amount_ht)
        ttc = ht + vat_amount(ht, contract.vat_rate)
        total_ht += ht * len(periods)
        total_ttc += ttc * len(periods)
        if not (contract.auto_approve or contract.client.auto_approve):
            for_review += len(periods)
    return RecurringRun(at, invoices, contracts, total_ht, total_ttc, for_review, scheduled)
