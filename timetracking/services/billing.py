"""Billable hours become invoices: :func:`timesheets_bill` (``bill_timesheets --month YYYY-MM``).

One draft invoice per client with FACTURABLE time in the month, sent to review (origin « feuilles de
temps »). Its lines group the time per project (or per project and task), in hours rounded by the rule of
the settings (minute, quarter or half hour; per entry or per line; nearest or up), stated in the invoice's
subject, × the client's hourly rate or the firm's default. Each line's total is its quantity × rate rounded
once, and the invoice's total is the sum of its lines: they add up exactly. Every entry is marked with its
invoice and line, and the hours it was billed for, which makes the annex.

Everything happens in one transaction: the entries are locked first (``SELECT … FOR UPDATE``, primary-key
order), each is marked only if it is still unbilled (``UPDATE … WHERE invoice_id IS NULL``), and any
surprise undoes the whole run. Two runs at once: the second waits for the first and then finds nothing left
to bill. An entry can never be on two invoices; a failure leaves no invoice and no entry marked.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from invoicing.models import Client, InvoiceLine
from invoicing.models.invoice import Origin, Unit
from invoicing.selectors import client_payment_terms, default_payment_terms
from invoicing.services.invoices import LineSpec, invoice_create
from syaga.core.dates import add_months, french_month_label, today
from syaga.core.errors import BusinessError
from syaga.core.money import ZERO, format_eur, quantize
from timetracking.conf import RoundingRule, default_hourly_rate, line_grouping, rounding_rule
from timetracking.models import Category, TimeEntry

HOURS_PLACES = Decimal("0.0001")  # InvoiceLine.quantity has 4 decimals
NO_PROJECT = "Interventions hors projet"
UPDATE_CHUNK = 500


class BillingConflict(BusinessError):
    """An entry was billed by someone else meanwhile: the run is undone, nothing is half-done."""


@dataclass
class LineBill:
    description: str
    seconds: int
    hours: Decimal
    entry_ids: list[int]
    billed_seconds: dict[int, int]


@dataclass
class ClientBill:
    client_id: int
    client_name: str
    rate: Decimal
    lines: list[LineBill] = field(default_factory=list)
    invoice_id: int | None = None
    total_ht: Decimal = ZERO

    @property
    def hours(self) -> Decimal:
        return sum((line.hours for line in self.lines), Decimal("0"))

    @property
    def entries(self) -> int:
        return sum(len(line.entry_ids) for line in self.lines)


@dataclass
class BillingReport:
    month: dt.date
    rule: RoundingRule
    dry_run: bool = False
    bills: list[ClientBill] = field(default_factory=list)
    # FACTURABLE time whose Clockify client is not a client of the back-office: name → seconds.
    unknown_clients: dict[str, int] = field(default_factory=dict)
    below_unit: list[str] = field(default_factory=list)

    @property
    def total_ht(self) -> Decimal:
        return sum((b.total_ht for b in self.bills), ZERO)

    def as_dict(self) -> dict:
        return {
            "month": f"{self.month:%Y-%m}",
            "dry_run": self.dry_run,
            "rounding": self.rule.statement(),
            "invoices": [
                {
                    "client": b.client_name,
                    "invoice_id": b.invoice_id,
                    "hours": str(b.hours),
                    "rate": str(b.rate),
                    "total_ht": str(b.total_ht),
                    "entries": b.entries,
                    "lines": [{"description": ln.description, "hours": str(ln.hours)} for ln in b.lines],
                }
                for b in self.bills
            ],
            "total_ht": str(self.total_ht),
            "unknown_clients": {name: seconds for name, seconds in self.unknown_clients.items()},
            "below_unit": self.below_unit,
        }


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    first = month.replace(day=1)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(add_months(first, 1), dt.time.min))
    return start, end


def hours_of(seconds: int) -> Decimal:
    """Hours as an invoice quantity (4 decimals: quarter and half hours exact, minutes to 1/10,000 h)."""
    return quantize(Decimal(seconds) / Decimal(3600), HOURS_PLACES)


def _line_key(entry: TimeEntry, grouping: str) -> tuple[str, str]:
    return (entry.project, entry.task if grouping == "task" else "")


def _line_description(key: tuple[str, str]) -> str:
    project, task = key
    text = project or NO_PROJECT
    return f"{text} – {task}" if task else text


def _plan(entries: list[TimeEntry], rule: RoundingRule, grouping: str) -> list[LineBill]:
    groups: dict[tuple[str, str], list[TimeEntry]] = defaultdict(list)
    for entry in entries:
        groups[_line_key(entry, grouping)].append(entry)
    lines = []
    for key in sorted(groups, key=lambda k: (k[0] == "", k[0].lower(), k[1].lower())):
        members = sorted(groups[key], key=lambda e: (e.start, e.pk))
        if rule.scope == "entry":
            billed = {e.pk: rule.apply(e.duration_seconds) for e in members}
            seconds = sum(billed.values())
        else:
            billed = {e.pk: e.duration_seconds for e in members}
            seconds = rule.apply(sum(billed.values()))
        lines.append(
            LineBill(
                description=_line_description(key),
                seconds=seconds,
                hours=hours_of(seconds),
                entry_ids=[e.pk for e in members],
                billed_seconds=billed,
            )
        )
    return lines


def _mark(line: LineBill, *, invoice_id: int, line_id: int | None, scope: str, now) -> None:
    """Attach a line's entries to their invoice, only those still unbilled; any other count undoes the run.

    Rounded per line, each entry is billed for its own duration (one UPDATE); rounded per entry, the entries
    are grouped by their rounded duration (a few UPDATEs: quarter and half hours have few values)."""
    if scope == "line":
        groups = {None: line.entry_ids}
    else:
        groups = defaultdict(list)
        for pk in line.entry_ids:
            groups[line.billed_seconds[pk]].append(pk)
    for seconds, pks in groups.items():
        for i in range(0, len(pks), UPDATE_CHUNK):
            chunk = pks[i : i + UPDATE_CHUNK]
            done = TimeEntry.objects.filter(pk__in=chunk, invoice__isnull=True).update(
                invoice_id=invoice_id,
                invoice_line_id=line_id,
                billed_seconds=F("duration_seconds") if seconds is None else seconds,
                billed_at=now,
                updated_at=now,
            )
            if done != len(chunk):
                raise BillingConflict(
                    f"{len(chunk) - done} saisie(s) de temps facturée(s) entre-temps par une autre "
                    "exécution : rien n'a été facturé"
                )


class _DryRun(Exception):
    pass


def timesheets_bill(*, month: dt.date, actor=None, dry_run: bool = False) -> BillingReport:
    """Bill the month's FACTURABLE time (see the module). ``dry_run``: the same report, nothing kept."""
    rule = rounding_rule()
    grouping = line_grouping()
    default_rate = default_hourly_rate()
    report = BillingReport(month=month.replace(day=1), rule=rule, dry_run=dry_run)
    start, end = month_bounds(month)
    label = french_month_label(report.month)
    try:
        with transaction.atomic():
            entries = list(
                TimeEntry.objects.select_for_update()
                .filter(category=Category.FACTURABLE, invoice__isnull=True, running=False)
                .between(start, end)
                .only("pk", "client_id", "client_name", "project", "task", "start", "duration_seconds")
                .order_by("pk")
            )
            per_client: dict[int, list[TimeEntry]] = defaultdict(list)
            for entry in entries:
                if entry.client_id is None:
                    name = entry.client_name or "(sans client)"
                    report.unknown_clients[name] = (
                        report.unknown_clients.get(name, 0) + entry.duration_seconds
                    )
                else:
                    per_client[entry.client_id].append(entry)
            clients = Client.objects.in_bulk(list(per_client))
            now = timezone.now()
            issue_date = today()
            default_days = default_payment_terms()  # read once, not once per invoice
            for client in sorted(clients.values(), key=lambda c: (c.name.lower(), c.pk)):
                rate = client.hourly_rate if client.hourly_rate is not None else default_rate
                bill = ClientBill(client_id=client.pk, client_name=client.name, rate=rate)
                bill.lines = _plan(per_client[client.pk], rule, grouping)
                billed_lines = [line for line in bill.lines if line.seconds > 0]
                if not billed_lines:
                    report.below_unit.append(client.name)
                    continue
                count = bill.entries
                invoice = invoice_create(
                    client=client,
                    lines=[
                        LineSpec(
                            description=line.description, unit_price=rate, quantity=line.hours, unit=Unit.HOUR
                        )
                        for line in billed_lines
                    ],
                    origin=Origin.TIMESHEET,
                    issue_date=issue_date,
                    due_date=issue_date
                    + dt.timedelta(days=client_payment_terms(client, default_days=default_days)),
                    subject=f"Prestations au temps passé – {label} ({rule.statement()})",
                    period_start=start.date(),
                    period_end=(end - dt.timedelta(days=1)).date(),
                    notes=(
                        f"Détail des {count} saisies de temps de {label} en annexe. Taux horaire : "
                        f"{format_eur(rate)} HT. {rule.statement().capitalize()}."
                    ),
                    submit=True,
                    created_by=actor,
                )
                bill.invoice_id = invoice.pk
                bill.total_ht = invoice.total_ht
                report.bills.append(bill)
            # The lines' ids in one query, then each line's entries marked (positions start at 1, zero-hour
            # lines were left out of the invoice).
            line_ids = {
                (invoice_id, position): pk
                for invoice_id, position, pk in InvoiceLine.objects.filter(
                    invoice_id__in=[b.invoice_id for b in report.bills]
                ).values_list("invoice_id", "position", "pk")
            }
            for bill in report.bills:
                position = 0
                for line in bill.lines:
                    line_id = None
                    if line.seconds > 0:
                        position += 1
                        line_id = line_ids[(bill.invoice_id, position)]
                    _mark(line, invoice_id=bill.invoice_id, line_id=line_id, scope=rule.scope, now=now)
            if dry_run:
                raise _DryRun
    except _DryRun:
        for bill in report.bills:
            bill.invoice_id = None
    return report
