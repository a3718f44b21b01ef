"""Finding the recurring contracts hidden in the invoice history, and recording them as Contract rows.

The history is read in one query; the detection itself is plain Python over each client's invoices.

How a contract is recognised, for a candidate period of p months (1, 3 or 12):

* Invoices are reduced to (issue month, amount HT) pairs: two invoices of the same amount in the same month
  count once.
* A *run* is a sequence of invoices of one amount whose issue months step by p, or by 2p once in a while
  (one forgotten period, never two forgotten in a row: billing every other month is not a monthly contract).
  A yearly invoice may come a month early or late (11 to 13 months after the previous one).
  A run needs at least two invoices: a lone amount is a one-off.
* Runs of different amounts are chained when one starts p (or 2p) months after the other ends: that is a
  price change, and since the new price's run has at least two invoices, the change persisted. Invoices of
  other amounts in between (one-off work) belong to no run and disturb nothing.
* A chain of at least three invoices is a contract candidate. Candidates of every period are taken by
  decreasing number of invoices explained, and one that reuses an invoice already explained is dropped (a
  monthly contract also looks quarterly and yearly, with fewer invoices).
* A contract is active at ``as_of`` when its last invoice is less than one and a half periods old.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from invoicing.models import Contract, Invoice
from invoicing.models.contract import PERIOD_MONTHS, Period
from invoicing.models.invoice import Kind, Origin, Status
from syaga.core.dates import add_months, month_index
from syaga.core.money import quantize

MIN_OCCURRENCES = 3
# One and a half periods, in days (an average month is 365.25 / 12 days).
ACTIVE_DAYS_PER_MONTH = Decimal("365.25") / 12 * Decimal("1.5")
DETECTED_LABEL = "Forfait infogérance"

HISTORY_STATUSES = (Status.ISSUED, Status.PARTIALLY_PAID, Status.PAID)
# How many months early or late an invoice may be and still be that period's (per period length).
STEP_TOLERANCE = {1: 0, 3: 0, 12: 1}


@dataclass(frozen=True)
class DetectedContract:
    client_id: int
    client: str
    amount_ht: Decimal
    period: str
    occurrences: int
    first: dt.date
    last: dt.date
    amounts: tuple[Decimal, ...] = field(default=(), compare=False)  # every price of the chain, oldest first

    @property
    def yearly_ht(self) -> Decimal:
        return quantize(self.amount_ht * 12 / PERIOD_MONTHS[self.period])

    @property
    def next_billing_date(self) -> dt.date:
        return next_billing_after(period=self.period, start=self.first, last=self.last)

    def as_json(self) -> dict:
        return {
            "client": self.client,
            "amount_ht": str(quantize(self.amount_ht)),
            "period": str(self.period),
            "occurrences": self.occurrences,
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
        }


def next_billing_after(*, period: str, start: dt.date, last: dt.date) -> dt.date:
    """The first billing date in a month after ``last``'s, per the billing rules of the period.

    Monthly: the 1st of each month. Quarterly: the 1st of every third month from ``start``'s month.
    Yearly: each anniversary of ``start``. Months, not days, are compared, so an invoice issued a few days
    before its anniversary is not billed a second time.
    """
    months = PERIOD_MONTHS[period]
    last_month = month_index(last)
    base = start if period == Period.YEARLY else start.replace(day=1)
    # A yearly invoice issued a month early still is that year's: round to the nearest anniversary.
    slack = STEP_TOLERANCE[months]
    steps = max(0, (last_month - month_index(base) + slack) // months + 1)
    return add_months(base, steps * months)


def _history(as_of: dt.date) -> dict[int, tuple[str, list[tuple[dt.date, Decimal]]]]:
    rows = (
        Invoice.objects.filter(kind=Kind.INVOICE, issue_date__isnull=False, issue_date__lte=as_of)
        .filter(
            Q(status__in=HISTORY_STATUSES)
            | (Q(origin=Origin.IMPORTED) & ~Q(status__in=(Status.REJECTED, Status.CANCELLED)))
        )
        .filter(total_ht__gt=0)
        .order_by("client_id", "issue_date", "pk")
        .values_list("client_id", "client__name", "issue_date", "total_ht")
    )
    per_client: dict[int, tuple[str, list]] = {}
    for client_id, name, issue_date, total_ht in rows:
        per_client.setdefault(client_id, (name, []))[1].append((issue_date, total_ht))
    return per_client


@dataclass
class _Run:
    amount: Decimal
    months: list[int]
    ended_on_gap: bool  # whether its last step skipped a period

    @property
    def first(self) -> int:
        return self.months[0]

    @property
    def last(self) -> int:
        return self.months[-1]


def _offsets(step: int) -> list[int]:
    """Distances in months from one invoice to the next of the same period, the exact one first."""
    slack = STEP_TOLERANCE[step]
    return sorted((step + d for d in range(-slack, slack + 1)), key=lambda m: abs(m - step))


def _step(current: int, months: set[int], offsets: list[int]) -> int | None:
    return next((current + o for o in offsets if current + o in months), None)


def _runs(by_amount: dict[Decimal, set[int]], step: int) -> list[_Run]:
    offsets = _offsets(step)
    gap_offsets = [o + step for o in offsets]
    runs = []
    for amount, months in by_amount.items():
        used: set[int] = set()
        for start in sorted(months):
            if start in used:
                continue
            chain, gap_before = [start], False
            current = start
            while True:
                following, skipped = _step(current, months, offsets), False
                if following is None and not gap_before:
                    following, skipped = _step(current, months, gap_offsets), True
                if following is None:
                    break
                current, gap_before = following, skipped
                chain.append(current)
            used.update(chain)
            if len(chain) >= 2:
                runs.append(_Run(amount=amount, months=chain, ended_on_gap=gap_before))
    return runs


def _chains(runs: list[_Run], step: int) -> list[list[_Run]]:
    """For every run, the longest chain of runs ending with it (price changes in between)."""
    runs = sorted(runs, key=lambda r: (r.first, r.last))
    offsets = set(_offsets(step))
    gap_offsets = {o + step for o in offsets}
    best: list[list[_Run]] = []
    for i, run in enumerate(runs):
        chain = [run]
        size = len(run.months)
        for j in range(i):
            previous = best[j]
            gap = run.first - previous[-1].last
            if gap in offsets or (gap in gap_offsets and not previous[-1].ended_on_gap):
                candidate_size = sum(len(r.months) for r in previous) + len(run.months)
                if candidate_size > size:
                    chain, size = [*previous, run], candidate_size
        best.append(chain)
    return best


def _detect_client(
    client_id: int, name: str, invoices: list[tuple[dt.date, Decimal]], as_of: dt.date
) -> list[DetectedContract]:
    first_date: dict[tuple[int, Decimal], dt.date] = {}
    by_amount: dict[Decimal, set[int]] = defaultdict(set)
    for issue_date, amount in invoices:
        key = (month_index(issue_date), amount)
        first_date.setdefault(key, issue_date)
        by_amount[amount].add(key[0])

    # An amount seen in a single month is a one-off whatever the period: leave it out early.
    by_amount = {amount: months for amount, months in by_amount.items() if len(months) >= 2}
    candidates = []
    for period, months in PERIOD_MONTHS.items():
        for chain in _chains(_runs(by_amount, months), months):
            keys = [(m, run.amount) for run in chain for m in run.months]
            if len(keys) >= MIN_OCCURRENCES:
                candidates.append((len(keys), months, period, chain, keys))
    # Most invoices explained first; on a tie the shorter period (it asks more of the history).
    candidates.sort(key=lambda c: (-c[0], c[1], -c[3][-1].last))

    explained: set[tuple[int, Decimal]] = set()
    found = []
    for size, months, period, chain, keys in candidates:
        if explained.intersection(keys):
            continue
        explained.update(keys)
        last = first_date[(chain[-1].last, chain[-1].amount)]
        if (as_of - last).days >= ACTIVE_DAYS_PER_MONTH * months:
            continue
        amounts = tuple(dict.fromkeys(run.amount for run in chain))
        found.append(
            DetectedContract(
                client_id=client_id,
                client=name,
                amount_ht=quantize(chain[-1].amount),
                period=period,
                occurrences=size,
                first=first_date[(chain[0].first, chain[0].amount)],
                last=last,
                amounts=amounts,
            )
        )
    return found


def recurrence_analyze(*, as_of: dt.date) -> list[DetectedContract]:
    """The recurring contracts still active at ``as_of``, by client name then decreasing amount."""
    found = []
    for client_id, (name, invoices) in _history(as_of).items():
        found.extend(_detect_client(client_id, name, invoices, as_of))
    found.sort(key=lambda d: (d.client.casefold(), -d.amount_ht, d.period))
    return found


@transaction.atomic
def contracts_apply(
    *, detected: list[DetectedContract], as_of: dt.date
) -> tuple[list[Contract], list[Contract]]:
    """Record detected contracts as Contract rows; returns (created, updated).

    A client's active contract of the same period and amount is left as it is; one of the same period but
    another amount takes the detected amount (a price change). Either way its next billing date moves past
    the last invoice found in the history, so that nothing already billed is billed again. Running it twice
    creates nothing the second time.
    """
    client_ids = {d.client_id for d in detected}
    existing: dict[tuple[int, str], list[Contract]] = defaultdict(list)
    for contract in (
        Contract.objects.select_for_update().filter(client_id__in=client_ids, active=True).order_by("pk")
    ):
        existing[(contract.client_id, contract.period)].append(contract)

    groups: dict[tuple[int, str], list[DetectedContract]] = defaultdict(list)
    for d in detected:
        groups[(d.client_id, d.period)].append(d)

    created, updated, to_create, to_update = [], [], [], []
    for key, detections in groups.items():
        free = list(existing.get(key, []))
        unmatched = []
        for d in detections:
            same = next((c for c in free if c.amount_ht == d.amount_ht), None)
            if same is None:
                unmatched.append(d)
                continue
            free.remove(same)
            if same.next_billing_date < d.next_billing_date:
                same.next_billing_date = d.next_billing_date
                to_update.append(same)
                updated.append(same)
        for d in unmatched:
            if free:
                contract = free.pop(0)
                contract.amount_ht = d.amount_ht
                contract.next_billing_date = max(contract.next_billing_date, d.next_billing_date)
                to_update.append(contract)
                updated.append(contract)
            else:
                to_create.append(
                    Contract(
                        client_id=d.client_id,
                        label=DETECTED_LABEL,
                        amount_ht=d.amount_ht,
                        period=d.period,
                        start_date=d.first,
                        next_billing_date=d.next_billing_date,
                        detected=True,
                        notes=f"Détecté le {as_of:%d/%m/%Y} : {d.occurrences} factures du {d.first:%d/%m/%Y} "
                        f"au {d.last:%d/%m/%Y}.",
                    )
                )
    now = timezone.now()
    for contract in to_update:
        contract.updated_at = now
    Contract.objects.bulk_update(to_update, ["amount_ht", "next_billing_date", "updated_at"])
    created = Contract.objects.bulk_create(to_create)
    return created, updated
