"""Reads of the time-tracking app: a day's figures (the first page's tile, the coaching messages), an
invoice's annex of entries, the running timers.

A day's hours are those of the entries that started that day (local time); a running timer counts up to
now. The revenue equivalent is FACTURABLE hours × the client's rate (the firm's default without one) plus
the day's share of the flat fees (each contract in force brings its monthly amount divided by the month's
working days), against the target (the daily target × the active consultants, on working days). The
billable share is FACTURABLE time over all time.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from invoicing.documents.annexes import Annex
from invoicing.models import Client, Contract, Invoice
from invoicing.models.invoice import Origin
from syaga.core.dates import end_of_month
from syaga.core.money import ZERO, quantize
from timetracking.conf import WorkingTime, daily_target, default_hourly_rate, working_time
from timetracking.display import format_hours, format_quantity, share
from timetracking.models import Category, ClockifySyncState, Consultant, TimeEntry

INCOMPLETE_SHOWN = 5
CATEGORY_ORDER = (Category.FACTURABLE, Category.FORFAIT, Category.INTERNE)
CATEGORY_SHORT = {Category.FACTURABLE: "Facturable", Category.FORFAIT: "Forfait", Category.INTERNE: "Interne"}


@dataclass
class DayEntry:
    pk: int
    consultant_id: int
    consultant: str
    client_id: int | None
    client: str
    project: str
    description: str
    start: dt.datetime
    seconds: int
    running: bool
    category: str

    @property
    def missing(self) -> list[str]:
        return [
            what for what, value in (("projet", self.project), ("description", self.description)) if not value
        ]


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return start, timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def day_entries(
    day: dt.date, *, consultant_id: int | None = None, now: dt.datetime | None = None
) -> list[DayEntry]:
    now = now or timezone.now()
    start, end = day_bounds(day)
    rows = (
        TimeEntry.objects.between(start, end).select_related("consultant", "client").order_by("start", "pk")
    )
    if consultant_id is not None:
        rows = rows.filter(consultant_id=consultant_id)
    entries = []
    for e in rows:
        seconds = max(0, int((min(now, end) - e.start).total_seconds())) if e.running else e.duration_seconds
        entries.append(
            DayEntry(
                pk=e.pk,
                consultant_id=e.consultant_id,
                consultant=str(e.consultant),
                client_id=e.client_id,
                client=e.client.name if e.client else e.client_name,
                project=e.project,
                description=e.description,
                start=e.start,
                seconds=seconds,
                running=e.running,
                category=e.category,
            )
        )
    return entries


def working_days_in_month(day: dt.date, working: WorkingTime) -> int:
    first, last = day.replace(day=1), end_of_month(day)
    return sum(
        1 for n in range((last - first).days + 1) if working.is_working_day(first + dt.timedelta(days=n))
    )


def flat_fee_daily_share(day: dt.date, working: WorkingTime | None = None) -> Decimal:
    """The flat fees' share of one working day: each contract in force, monthly amount / working days."""
    working = working or working_time()
    if not working.is_working_day(day):
        return ZERO
    days = working_days_in_month(day, working)
    if not days:
        return ZERO
    monthly = ZERO
    contracts = Contract.objects.active().filter(start_date__lte=day).exclude(end_date__lt=day)
    for contract in contracts.only("amount_ht", "period"):
        monthly += Decimal(contract.amount_ht) / contract.period_months
    return quantize(monthly / days)


def active_consultants() -> int:
    return Consultant.objects.filter(active=True).count()


def _rates(client_ids) -> dict[int, Decimal]:
    default = default_hourly_rate()
    return {
        pk: rate if rate is not None else default
        for pk, rate in Client.objects.filter(pk__in=set(client_ids)).values_list("pk", "hourly_rate")
    }


def facturable_revenue(entries: list[DayEntry]) -> Decimal:
    """FACTURABLE hours × rate, rounded once to the cent (no client: the firm's default rate)."""
    facturable = [e for e in entries if e.category == Category.FACTURABLE]
    rates = _rates(e.client_id for e in facturable if e.client_id)
    default = default_hourly_rate()
    amount = sum(
        (Decimal(e.seconds) * rates.get(e.client_id, default) for e in facturable), Decimal("0")
    ) / Decimal(3600)
    return quantize(amount)


def _by_category(entries: list[DayEntry]) -> dict[str, int]:
    seconds = dict.fromkeys(CATEGORY_ORDER, 0)
    for e in entries:
        seconds[e.category] = seconds.get(e.category, 0) + e.seconds
    return seconds


def day_figures(
    day: dt.date,
    *,
    consultant_id: int | None = None,
    now: dt.datetime | None = None,
    consultants: int | None = None,
) -> dict:
    """A day's figures, for the firm or one consultant (its share of the flat fees and of the target)."""
    working = working_time()
    entries = day_entries(day, consultant_id=consultant_id, now=now)
    seconds = _by_category(entries)
    total = sum(seconds.values())
    people = (
        consultants if consultants is not None else (1 if consultant_id else max(active_consultants(), 1))
    )
    flat_share = flat_fee_daily_share(day, working)
    if consultant_id is not None:
        flat_share = quantize(flat_share / max(active_consultants(), 1))
    facturable = facturable_revenue(entries)
    revenue = facturable + flat_share
    target = quantize(daily_target() * people) if working.is_working_day(day) else ZERO
    incomplete = [e for e in entries if e.missing]
    return {
        "date": day,
        "working_day": working.is_working_day(day),
        "entries": entries,
        "categories": [
            {
                "code": code,
                "label": CATEGORY_SHORT[code],
                "seconds": seconds[code],
                "share": share(seconds[code], total),
            }
            for code in CATEGORY_ORDER
        ],
        "total_seconds": total,
        "billable_share": share(seconds[Category.FACTURABLE], total),
        "revenue_facturable": facturable,
        "revenue_flat_share": flat_share,
        "revenue": revenue,
        "target": target,
        "target_reached": share(int(revenue * 100), int(target * 100)) if target else None,
        "incomplete_count": len(incomplete),
        "incomplete": incomplete[:INCOMPLETE_SHOWN],
        "running": [e for e in entries if e.running],
    }


def last_sync_at() -> dt.datetime | None:
    state = ClockifySyncState.objects.exclude(last_run_at__isnull=True).order_by("-last_run_at").first()
    return state.last_run_at if state else None


def today_tile(on: dt.date | None = None, *, now: dt.datetime | None = None) -> dict:
    """The first page's tile: today's hours by category, billable share, revenue equivalent against the
    firm's target, entries without project or description, and when Clockify was last read."""
    on = on or timezone.localdate()
    figures = day_figures(on, now=now)
    figures.pop("entries")
    figures["last_sync"] = last_sync_at()
    return figures


def consultant_day_report(consultant: Consultant, day: dt.date, *, now: dt.datetime | None = None) -> dict:
    """The daily report's figures: hours per category and per client, revenue equivalent, efficiency
    (FACTURABLE / total), entries without project or description."""
    figures = day_figures(day, consultant_id=consultant.pk, now=now)
    per_client: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CATEGORY_ORDER, 0))
    for e in figures["entries"]:
        per_client[e.client or "(sans client)"][e.category] += e.seconds
    figures["clients"] = [
        {"name": name, "seconds": sum(cats.values()), "categories": cats}
        for name, cats in sorted(per_client.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    ]
    figures["incomplete"] = [e for e in figures["entries"] if e.missing]
    figures["consultant"] = consultant
    return figures


def running_timers() -> list[TimeEntry]:
    return list(TimeEntry.objects.filter(running=True).select_related("consultant").order_by("start"))


def last_activity_end(consultant_id: int, before: dt.datetime) -> dt.datetime | None:
    """When the consultant's last finished entry before ``before`` ended."""
    return (
        TimeEntry.objects.filter(consultant_id=consultant_id, running=False, end__lte=before)
        .order_by("-end")
        .values_list("end", flat=True)
        .first()
    )


def invoice_annex(invoice: Invoice) -> dict:
    """The annex of a timesheet invoice: its lines, each with the entries it counts (date, consultant,
    task, description, time worked, time billed)."""
    entries = list(
        TimeEntry.objects.filter(invoice=invoice).select_related("consultant").order_by("start", "pk")
    )
    by_line: dict[int | None, list[TimeEntry]] = defaultdict(list)
    for e in entries:
        by_line[e.invoice_line_id].append(e)
    lines = [
        {
            "line": line,
            "quantity": format_quantity(line.quantity),
            "entries": by_line[line.pk],
            "seconds": sum(e.duration_seconds for e in by_line[line.pk]),
        }
        for line in invoice.lines.order_by("position", "pk")
        if by_line.get(line.pk)
    ]
    return {
        "invoice": invoice,
        "lines": lines,
        "below_unit": by_line.get(None, []),
        "count": len(entries),
        "seconds": sum(e.duration_seconds for e in entries),
    }


ANNEX_COLUMNS = ("Date", "Consultant", "Ligne de la facture", "Description", "Temps passé", "Temps facturé")


def invoice_timesheet_annex(invoice: Invoice) -> Annex | None:
    """The printed invoice's annex (registered with invoicing.documents.annexes): every entry a time-billed
    invoice counts, line by line, with the time worked and the time billed; the total is the invoice's
    hours."""
    if invoice.origin != Origin.TIMESHEET:
        return None  # no query for the other invoices
    annex = invoice_annex(invoice)
    if not annex["count"]:
        return None
    rows = []
    for line in annex["lines"]:
        for entry in line["entries"]:
            rows.append(_annex_row(entry, line["line"].description))
    rows.extend(_annex_row(entry, "arrondie à 0 h, non facturée") for entry in annex["below_unit"])
    hours = sum((line["line"].quantity for line in annex["lines"]), Decimal(0))
    return Annex(
        title="détail des saisies de temps",
        columns=ANNEX_COLUMNS,
        rows=tuple(rows),
        right=(4, 5),
        total=(
            "Total",
            f"{annex['count']} saisie(s)",
            "",
            "",
            format_hours(annex["seconds"]),
            f"{format_quantity(hours)} h",
        ),
    )


def _annex_row(entry: TimeEntry, line: str) -> tuple[str, ...]:
    billed = format_hours(entry.billed_seconds) if entry.billed_seconds is not None else "—"
    return (
        f"{timezone.localtime(entry.start):%d/%m/%Y}",
        entry.consultant.name,
        line,
        entry.description or "—",
        format_hours(entry.duration_seconds),
        billed,
    )
