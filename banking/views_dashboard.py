"""The cash and unpaid-invoices dashboard: balance, 7/30-day forecast, overdue by level, DSO, late payers."""

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render

from banking.selectors import cashflow_forecast
from invoicing.selectors import (
    DSO_WINDOW_DAYS,
    client_payment_behaviour,
    days_sales_outstanding,
    overdue_state,
    overdue_summary_by_level,
    receivables_total,
    top_late_payers,
)
from syaga.core.dates import today
from syaga.core.money import format_eur

HORIZONS = (7, 30)
OVERDUE_LISTED = 50


@staff_member_required
def dashboard(request):
    on = today()
    behaviour = client_payment_behaviour(on=on)
    forecast = cashflow_forecast(on=on, days=max(HORIZONS), detail=False, behaviour=behaviour)
    overdue = list(
        overdue_state(on=on).filter(overdue_level__gt=0).order_by("-days_late", "pk")[:OVERDUE_LISTED]
    )
    context = {
        **admin.site.each_context(request),
        "title": "Trésorerie et impayés",
        "on": on,
        "balance": format_eur(forecast.opening_balance),
        "horizons": [
            {
                "days": days,
                "receipts": format_eur(forecast.total_for(days)),
                "balance": format_eur(forecast.balance_after(days)),
            }
            for days in HORIZONS
        ],
        "forecast_days": [
            {
                "date": day.date,
                "from_invoices": format_eur(day.from_invoices),
                "from_recurring": format_eur(day.from_recurring),
                "balance": format_eur(day.balance),
            }
            for day in forecast.days
            if day.receipts
        ],
        "overdue_unknown": format_eur(forecast.overdue_total),
        "overdue_unknown_count": forecast.overdue_count,
        "levels": [
            {"level": row["level"], "count": row["count"], "amount": format_eur(row["amount"])}
            for row in overdue_summary_by_level(on=on)
        ],
        "overdue_invoices": [
            {
                "pk": invoice.pk,
                "number": invoice.number,
                "client": invoice.client.name,
                "due_date": invoice.due_date,
                "days_late": invoice.days_late,
                "level": invoice.overdue_level,
                "amount_due": format_eur(invoice.amount_due),
            }
            for invoice in overdue
        ],
        "receivables": format_eur(receivables_total(on=on)),
        "dso": days_sales_outstanding(on=on),
        "dso_window": DSO_WINDOW_DAYS,
        "late_payers": [
            {
                "client": client,
                "score": b.risk_score,
                "average_days_late": b.average_days_late,
                "share_late_percent": int(b.share_late * 100),
                "sample": b.sample_size,
            }
            for client, b in top_late_payers(on=on, limit=10, behaviour=behaviour)
        ],
    }
    return render(request, "banking/dashboard.html", context)
