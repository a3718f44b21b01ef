"""The owner's first page: a list of tiles, each a template partial and the function that reads its context.

Adding a tile is adding its partial under ``templates/ops/tiles/`` and one :class:`Tile` to :data:`TILES`
with the function that reads what it shows (from the apps' selectors). A tile is read only for users
holding one of its permissions; the numbers come from selectors (tested against hand-computed values), and
every tile costs a fixed number of queries whatever the size of the books.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from banking.selectors import bank_position, cashflow_forecast, credits_waiting
from invoicing.selectors import (
    APPROVE_PERMISSION,
    overdue_summary_by_level,
    receivables_total,
    revenue_by_month,
    review_queue_summary,
)
from mailbox.selectors import week_tile
from syaga.ops.charts import forecast_chart, revenue_chart
from syaga.ops.selectors import indicators, last_cycle, next_recurring_run
from timetracking.selectors import today_tile

VIEW_INVOICES = ("invoicing.view_invoice", "invoicing.change_invoice", APPROVE_PERMISSION)
CASH = ("banking.view_cash_dashboard",)
FORECAST_DAYS = 30
REVENUE_MONTHS = 24


@dataclass(frozen=True)
class Tile:
    """One block of the first page."""

    name: str
    template: str
    context: Callable[[HttpRequest, dt.date], dict]
    permissions: tuple[str, ...]  # any one of them shows the tile
    wide: bool = False  # a chart: half the page, in the row of charts under the tiles
    span: int = 1  # columns of the tiles' grid it takes (six at 1400 px)


def receivables_tile(request, on):
    levels = overdue_summary_by_level(on=on)
    total = receivables_total(on=on)
    overdue = sum((row["amount"] for row in levels), total * 0)
    return {
        "total": total,
        "overdue": overdue,
        "not_due": total - overdue,
        "levels": levels,
        "overdue_url": reverse("admin:invoicing_invoice_changelist") + "?overdue=yes",
        "open_url": reverse("admin:invoicing_invoice_changelist") + "?overdue=open",
        "dashboard_url": reverse("banking:dashboard")
        if request.user.has_perm("banking.view_cash_dashboard")
        else "",
    }


def review_queue_tile(request, on):
    return {"queue": review_queue_summary(), "url": reverse("admin:invoicing_invoicetoreview_changelist")}


def credits_waiting_tile(request, on):
    return {
        "credits": credits_waiting(),
        "suggestions_url": reverse("admin:banking_banktransaction_suggestions"),
        "transactions_url": reverse("admin:banking_banktransaction_changelist"),
    }


def bank_tile(request, on):
    return {"bank": bank_position(), "today": on}


def recurring_tile(request, on):
    return {"run": next_recurring_run(), "url": reverse("admin:invoicing_contract_changelist")}


def indicators_tile(request, on):
    rows = indicators(on=on)
    return {
        "indicators": rows,
        "met": sum(1 for row in rows if row.met),
        "measured": sum(1 for row in rows if row.met is not None),
    }


def time_tile(request, on):
    return {"time": today_tile(on=on), "url": reverse("admin:timetracking_timeentry_changelist")}


def mail_tile(request, on):
    return {"mail": week_tile(on=on)}


def cycle_tile(request, on):
    return {"cycle": last_cycle()}


def forecast_tile(request, on):
    forecast = cashflow_forecast(on=on, days=FORECAST_DAYS, detail=False)
    synchronised = bank_position().balance is not None
    return {
        "forecast": forecast,
        "days": FORECAST_DAYS,
        "synchronised": synchronised,
        "received": forecast.total_for(FORECAST_DAYS),
        "balance_after": forecast.balance_after(FORECAST_DAYS),
        "last_day": forecast.days[-1].date,
        "chart": forecast_chart(forecast.days, with_balance=synchronised),
    }


def revenue_tile(request, on):
    months = revenue_by_month(on=on, months=REVENUE_MONTHS)
    last_twelve = sum((m.net_ht for m in months[-12:]), months[0].net_ht * 0)
    return {
        "months": months,
        "last_twelve": last_twelve,
        "this_month": months[-1].net_ht,
        "chart": revenue_chart(months),
    }


TILES: list[Tile] = [
    Tile("receivables", "ops/tiles/receivables.html", receivables_tile, VIEW_INVOICES),
    Tile("review-queue", "ops/tiles/review_queue.html", review_queue_tile, VIEW_INVOICES),
    Tile(
        "credits-waiting",
        "ops/tiles/credits_waiting.html",
        credits_waiting_tile,
        ("banking.view_banktransaction", "banking.change_banktransaction"),
    ),
    Tile("bank", "ops/tiles/bank.html", bank_tile, CASH),
    Tile("recurring", "ops/tiles/recurring.html", recurring_tile, ("invoicing.view_contract",)),
    Tile("time", "ops/tiles/time.html", time_tile, ("timetracking.view_timeentry",)),
    Tile("indicators", "ops/tiles/indicators.html", indicators_tile, VIEW_INVOICES, span=2),
    Tile("cycle", "ops/tiles/cycle.html", cycle_tile, ("ops.view_cyclerun",), span=2),
    Tile(
        "mail",
        "ops/tiles/mail.html",
        mail_tile,
        ("mailbox.view_inboundmessage", "mailbox.view_dispute"),
        span=2,
    ),
    Tile("forecast", "ops/tiles/forecast.html", forecast_tile, CASH, wide=True),
    Tile("revenue", "ops/tiles/revenue.html", revenue_tile, VIEW_INVOICES, wide=True),
]


def visible_tiles(user) -> list[Tile]:
    return [tile for tile in TILES if any(user.has_perm(p) for p in tile.permissions)]


def first_page_context(request) -> dict:
    """The tiles this user may read, each with its template and its context."""
    on = timezone.localdate()
    tiles = [
        {
            "name": tile.name,
            "template": tile.template,
            "wide": tile.wide,
            "span": tile.span,
            **tile.context(request, on),
        }
        for tile in visible_tiles(request.user)
    ]
    return {"tiles": tiles, "on": on, "title": "Tableau de bord"}
