"""Billing the recurring contracts: one pending-review invoice per contract and period, never two.

Billing dates: monthly on the 1st of each month (the period is that month); quarterly on the 1st of every
third month from the contract's start month (the period is those three months); yearly on each anniversary
of the start date (the period is the twelve months that follow). ``Contract.next_billing_date`` is the
progress marker: it moves one period forward with each invoice, in the same transaction, under a row lock.

Two guards keep a period from being billed twice: the lock on the contract row (a second worker waits, then
sees the date already moved), and the database constraint on (contract, period_start) (an invoice created
by an earlier crashed run or by hand): when it fires the period counts as already billed and the date
still moves on.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from invoicing.models import Contract, Invoice
from invoicing.models.contract import PERIOD_MONTHS, Period
from invoicing.models.invoice import Origin, Unit
from invoicing.services.invoices import LineSpec, invoice_create
from syaga.core.dates import FRENCH_MONTHS, add_months, french_month_label, month_index
from syaga.core.errors import BusinessError

logger = logging.getLogger(__name__)

PERIOD_UNITS = {Period.MONTHLY: Unit.MONTH, Period.QUARTERLY: Unit.QUARTER, Period.YEARLY: Unit.YEAR}
ONE_DAY = dt.timedelta(days=1)
EN_DASH = "\u2013"  # between the label and the period, as the invoices have always been written


@dataclass(frozen=True)
class BillingPeriod:
    billing_date: dt.date  # the invoice's issue date
    start: dt.date
    end: dt.date
    next_billing_date: dt.date
    label: str  # in French, "août 2025", "T3 2025 (juillet à septembre 2025)"


def _span(start: dt.date, end: dt.date) -> str:
    if start.year == end.year:
        return f"{FRENCH_MONTHS[start.month - 1]} à {french_month_label(end)}"
    return f"{french_month_label(start)} à {french_month_label(end)}"


def contract_period(*, contract: Contract, billing_date: dt.date) -> BillingPeriod:
    """The period a contract bills on ``billing_date``, its label and the billing date after it."""
    if contract.period == Period.YEARLY:
        # Anniversaries are counted from the start date so that 29 February does not drift to the 28th.
        years = (month_index(billing_date) - month_index(contract.start_date)) // 12 + 1
        following = add_months(contract.start_date, 12 * max(years, 1))
        start, end = billing_date, following - ONE_DAY
        if start.day == 1 and start.month == 1:
            label = f"année {start.year}"
        elif start.day == 1:
            label = _span(start, end)
        else:
            label = f"du {start.day} {french_month_label(start)} au {end.day} {french_month_label(end)}"
        return BillingPeriod(billing_date, start, end, following, label)

    start = billing_date.replace(day=1)
    months = PERIOD_MONTHS[contract.period]
    following = add_months(start, months)
    end = following - ONE_DAY
    if contract.period == Period.MONTHLY:
        label = french_month_label(start)
    elif start.month % 3 == 1:
        label = f"T{start.month // 3 + 1} {start.year} ({_span(start, end)})"
    else:
        label = _span(start, end)
    return BillingPeriod(billing_date, start, end, following, label)


def _is_due(contract: Contract, on: dt.date) -> bool:
    return (
        contract.active
        and contract.next_billing_date <= on
        and (contract.end_date is None or contract.next_billing_date <= contract.end_date)
    )


def contract_periods_due(*, contract: Contract, on: dt.date) -> list[BillingPeriod]:
    """Every period still to bill up to ``on`` (several when billing fell behind). Reads nothing."""
    periods = []
    probe = Contract(
        active=contract.active,
        period=contract.period,
        start_date=contract.start_date,
        end_date=contract.end_date,
        next_billing_date=contract.next_billing_date,
    )
    while _is_due(probe, on):
        period = contract_period(contract=probe, billing_date=probe.next_billing_date)
        periods.append(period)
        probe.next_billing_date = period.next_billing_date
    return periods


def _bill(contract: Contract, period: BillingPeriod) -> Invoice | None:
    subject = f"{contract.label} {EN_DASH} {period.label}"
    line = LineSpec(
        description=subject,
        unit_price=contract.amount_ht,
        quantity=1,
        unit=PERIOD_UNITS[contract.period],
        vat_rate=contract.vat_rate,
    )
    try:
        with transaction.atomic():
            return invoice_create(
                client=contract.client,
                lines=[line],
                origin=Origin.RECURRING,
                subject=subject,
                issue_date=period.billing_date,
                period_start=period.start,
                period_end=period.end,
                contract=contract,
                submit=True,
            )
    except IntegrityError:
        if Invoice.objects.filter(contract=contract, period_start=period.start).exists():
            return None
        raise


def contract_bill_period(*, contract: Contract, period_start: dt.date) -> Invoice | None:
    """The invoice of the contract's period billed on ``period_start``; None if that period is already billed.

    Does not move the contract's next billing date: :func:`recurring_generate` does, under a lock.
    """
    if contract.end_date is not None and period_start > contract.end_date:
        raise BusinessError(
            f"contract {contract}: period {period_start:%d/%m/%Y} starts after the contract's end "
            f"({contract.end_date:%d/%m/%Y})"
        )
    return _bill(contract, contract_period(contract=contract, billing_date=period_start))


@dataclass
class ContractRun:
    contract_id: int
    client: str
    label: str
    created: list[dt.date] = field(default_factory=list)  # period starts billed by this run
    skipped: list[dt.date] = field(default_factory=list)  # period starts found already billed
    invoice_ids: list[int] = field(default_factory=list)
    error: str = ""

    def as_json(self) -> dict:
        return {
            "contract_id": self.contract_id,
            "client": self.client,
            "label": self.label,
            "created": [d.isoformat() for d in self.created],
            "skipped": [d.isoformat() for d in self.skipped],
            "invoice_ids": self.invoice_ids,
            "error": self.error,
        }


@dataclass
class GenerationReport:
    on: dt.date
    dry_run: bool = False
    runs: list[ContractRun] = field(default_factory=list)

    @property
    def created(self) -> int:
        return sum(len(r.created) for r in self.runs)

    @property
    def skipped(self) -> int:
        return sum(len(r.skipped) for r in self.runs)

    @property
    def errors(self) -> list[ContractRun]:
        return [r for r in self.runs if r.error]

    @property
    def invoice_ids(self) -> list[int]:
        return [pk for r in self.runs for pk in r.invoice_ids]

    def as_json(self) -> dict:
        return {
            "date": self.on.isoformat(),
            "dry_run": self.dry_run,
            "created": self.created,
            "skipped": self.skipped,
            "contracts": [r.as_json() for r in self.runs],
        }


def _generate_for(contract: Contract, on: dt.date, run: ContractRun) -> None:
    while True:
        # One transaction per period: a crash keeps every period billed before it, and the marker with it.
        with transaction.atomic():
            locked = Contract.objects.select_for_update().get(pk=contract.pk)
            if not _is_due(locked, on):
                return
            locked.client = contract.client
            period = contract_period(contract=locked, billing_date=locked.next_billing_date)
            invoice = _bill(locked, period)
            locked.next_billing_date = period.next_billing_date
            locked.save(update_fields=["next_billing_date", "updated_at"])
        if invoice is None:
            run.skipped.append(period.start)
        else:
            run.created.append(period.start)
            run.invoice_ids.append(invoice.pk)


def recurring_generate(*, on: dt.date, dry_run: bool = False) -> GenerationReport:
    """Create the invoices due at ``on`` for every active contract, catching up on missed periods.

    Safe to run twice, or concurrently, or after a crash: no period is ever billed twice. With
    ``dry_run`` nothing is written and the report lists what would be created.
    """
    report = GenerationReport(on=on, dry_run=dry_run)
    contracts = list(Contract.objects.due(on).select_related("client").order_by("client__name", "pk"))
    already: set[tuple[int, dt.date]] = set()
    if dry_run:
        already = set(
            Invoice.objects.filter(contract__in=contracts, period_start__isnull=False).values_list(
                "contract_id", "period_start"
            )
        )
    for contract in contracts:
        run = ContractRun(contract_id=contract.pk, client=str(contract.client), label=contract.label)
        report.runs.append(run)
        if dry_run:
            for period in contract_periods_due(contract=contract, on=on):
                target = run.skipped if (contract.pk, period.start) in already else run.created
                target.append(period.start)
            continue
        try:
            _generate_for(contract, on, run)
        except BusinessError as exc:
            # One contract's bad data must not stop the others' billing; the report names it.
            run.error = str(exc)
            logger.warning("recurring billing of contract %s stopped: %s", contract.pk, exc)
    return report
