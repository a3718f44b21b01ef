import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from banking.models import BalanceSnapshot, BankAccount
from banking.selectors import cashflow_forecast, contract_billing_dates
from invoicing.models.contract import Period
from invoicing.models.invoice import Status
from syaga.core.dates import today
from tests.factories import ClientFactory, ContractFactory, make_invoice

pytestmark = pytest.mark.django_db


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def invoice(client, *, amount, issue_date, due_date):
    return make_invoice(
        client=client,
        amounts=[Decimal(amount)],
        status=Status.ISSUED,
        issue_date=issue_date,
        due_date=due_date,
    )


@pytest.fixture
def scenario(seller):
    """Balance 10 000 + two open invoices + one overdue + one monthly contract, dates around today."""
    t = today()
    BankAccount.objects.create(qonto_id="main", name="Principal", balance=Decimal("10000.00"))
    BankAccount.objects.create(qonto_id="old", name="Fermé", balance=Decimal("5000.00"), status="closed")
    habitual = ClientFactory(name="Habitude SAS")
    # History: paid 5 days after its due date -> this client's habit is +5 days.
    paid = invoice(habitual, amount="100.00", issue_date=t - days(100), due_date=t - days(70))
    paid.amount_paid, paid.paid_date, paid.status = paid.total_ttc, t - days(65), Status.PAID
    paid.save()
    # 1 200 TTC due in 10 days, 200 already paid: 1 000 expected at +15 days.
    partial = invoice(habitual, amount="1000.00", issue_date=t - days(20), due_date=t + days(10))
    partial.amount_paid, partial.status = Decimal("200.00"), Status.PARTIALLY_PAID
    partial.save()
    habitual.payment_terms_days = 10
    habitual.save()
    # 333.33 HT at 20 % = 399.996 -> 400.00 TTC, billed in 2 days, paid at +10 (terms) +5 (habit).
    ContractFactory(
        client=habitual,
        amount_ht=Decimal("333.33"),
        period=Period.MONTHLY,
        start_date=t - days(200),
        next_billing_date=t + days(2),
    )
    ContractFactory(
        client=habitual,
        amount_ht=Decimal("999.00"),
        active=False,
        start_date=t - days(200),
        next_billing_date=t + days(1),
    )
    ContractFactory(
        client=habitual,
        amount_ht=Decimal("888.00"),
        start_date=t - days(200),
        end_date=t,
        next_billing_date=t + days(1),
    )
    newcomer = ClientFactory(name="Nouveau SARL")
    due_soon = invoice(newcomer, amount="250.00", issue_date=t - days(27), due_date=t + days(3))
    overdue = invoice(newcomer, amount="500.00", issue_date=t - days(60), due_date=t - days(30))
    make_invoice(client=newcomer, amounts=[Decimal("7777.00")], issue_date=t, due_date=t + days(1))  # draft
    return {"today": t, "partial": partial, "due_soon": due_soon, "overdue": overdue}


def test_thirty_day_forecast_day_by_day(scenario):
    t = scenario["today"]
    # when
    forecast = cashflow_forecast(on=t, days=30)
    # then
    assert forecast.opening_balance == Decimal("10000.00")
    assert [d.date for d in forecast.days] == [t + days(i) for i in range(30)]
    receipts = {(d.date - t).days: (d.from_invoices, d.from_recurring) for d in forecast.days if d.receipts}
    assert receipts == {
        3: (Decimal("300.00"), Decimal("0.00")),
        15: (Decimal("1000.00"), Decimal("0.00")),
        17: (Decimal("0.00"), Decimal("400.00")),
    }
    balances = [d.balance for d in forecast.days]
    assert balances[:3] == [Decimal("10000.00")] * 3
    assert balances[3] == Decimal("10300.00")
    assert balances[15] == Decimal("11300.00")
    assert balances[17:] == [Decimal("11700.00")] * 13
    assert forecast.total_expected == Decimal("1700.00")
    assert (forecast.total_for(7), forecast.balance_after(7)) == (Decimal("300.00"), Decimal("10300.00"))
    assert [(o.invoice_id, o.days_late, o.balance_due) for o in forecast.overdue] == [
        (scenario["overdue"].pk, 30, Decimal("600.00"))
    ]
    assert all(isinstance(d.balance, Decimal) for d in forecast.days)


def test_seven_day_forecast_stops_at_the_horizon(scenario):
    # when
    forecast = cashflow_forecast(on=scenario["today"], days=7)
    # then
    assert len(forecast.days) == 7
    assert forecast.total_expected == Decimal("300.00")
    assert forecast.days[-1].balance == Decimal("10300.00")


def test_command_json_shape_with_string_amounts(scenario):
    t = scenario["today"]
    # when
    out = StringIO()
    call_command("cashflow", "--days", "30", "--json", stdout=out)
    # then: no float anywhere
    data = json.loads(out.getvalue(), parse_float=lambda s: pytest.fail(f"float in JSON: {s}"))
    assert set(data) == {"as_of", "opening_balance", "days", "total_expected", "overdue"}
    assert data["as_of"] == t.isoformat()
    assert data["opening_balance"] == "10000.00"
    assert len(data["days"]) == 30
    assert data["days"][0] == {
        "date": t.isoformat(),
        "receipts": "0.00",
        "from_invoices": "0.00",
        "from_recurring": "0.00",
        "balance": "10000.00",
    }
    assert data["days"][17] == {
        "date": (t + days(17)).isoformat(),
        "receipts": "400.00",
        "from_invoices": "0.00",
        "from_recurring": "400.00",
        "balance": "11700.00",
    }
    assert data["total_expected"] == "1700.00"
    assert data["overdue"]["total"] == "600.00"
    assert [(o["invoice"], o["balance_due"], o["days_late"]) for o in data["overdue"]["invoices"]] == [
        (scenario["overdue"].number, "600.00", 30)
    ]


def test_command_table(scenario):
    # when
    out = StringIO()
    call_command("cashflow", "--days", "7", stdout=out)
    # then
    text = out.getvalue()
    assert "Solde d'ouverture : 10\u202f000,00\u00a0€" in text
    assert "Encaissements attendus sur 7 jours : 300,00\u00a0€" in text
    assert "En retard, date inconnue : 600,00\u00a0€ (1 factures)" in text


@pytest.mark.parametrize("value", ["0", "400", "-3"])
def test_command_refuses_a_bad_horizon(value, seller):
    with pytest.raises(
        CommandError, match=f"^--days : {value} hors limites ; donnez un nombre de jours de 1 à 366$"
    ):
        call_command("cashflow", "--days", value)


def test_past_date_uses_the_balance_snapshot(seller):
    # given
    account = BankAccount.objects.create(qonto_id="main", balance=Decimal("10000.00"))
    other = BankAccount.objects.create(qonto_id="other", balance=Decimal("50.00"))
    on = dt.date(2025, 3, 10)
    BalanceSnapshot.objects.create(account=account, date=dt.date(2025, 3, 9), balance=Decimal("7000.00"))
    BalanceSnapshot.objects.create(account=account, date=dt.date(2025, 3, 11), balance=Decimal("9999.00"))
    # when
    forecast = cashflow_forecast(on=on, days=7)
    # then: the snapshot of the 9th; the account without snapshots keeps its balance
    assert other.snapshots.count() == 0
    assert forecast.opening_balance == Decimal("7050.00")


def test_billing_dates_step_by_calendar_months_until_the_end():
    # given
    monthly = ContractFactory.build(period=Period.MONTHLY, next_billing_date=dt.date(2025, 1, 31))
    quarterly = ContractFactory.build(
        period=Period.QUARTERLY, next_billing_date=dt.date(2025, 1, 15), end_date=dt.date(2025, 7, 14)
    )
    # then
    assert contract_billing_dates(monthly, until=dt.date(2025, 4, 30)) == [
        dt.date(2025, 1, 31),
        dt.date(2025, 2, 28),
        dt.date(2025, 3, 31),
        dt.date(2025, 4, 30),
    ]
    assert contract_billing_dates(quarterly, until=dt.date(2026, 1, 1)) == [
        dt.date(2025, 1, 15),
        dt.date(2025, 4, 15),
    ]


def test_forecast_queries_do_not_grow_with_invoices(scenario, django_assert_max_num_queries):
    # given: 20 more open invoices for 20 more clients
    for _ in range(20):
        invoice(ClientFactory(), amount="10.00", issue_date=scenario["today"], due_date=scenario["today"])
    # when / then
    with django_assert_max_num_queries(6):
        cashflow_forecast(on=scenario["today"], days=30)
