import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from banking.models import OverdueAlert
from banking.selectors import overdue_alerts_current, overdue_alerts_raised_on
from banking.services.overdue import overdue_alerts_raise
from invoicing.models.invoice import Status
from invoicing.selectors import overdue_state, overdue_summary_by_level
from tests.factories import make_invoice

pytestmark = pytest.mark.django_db

DUE = dt.date(2025, 3, 31)


@pytest.fixture
def invoice(seller):
    # 1 000 HT + 20 % = 1 200 TTC, issued 01/03/2025, due 31/03/2025 (30-day terms).
    return make_invoice(status=Status.ISSUED, amounts=[Decimal("1000.00")], issue_date=dt.date(2025, 3, 1))


def day(n: int) -> dt.date:
    return DUE + dt.timedelta(days=n)


def levels(invoice) -> list[int]:
    return sorted(OverdueAlert.objects.filter(invoice=invoice).values_list("level", flat=True))


def test_no_alert_before_j15(invoice):
    # when
    raised = overdue_alerts_raise(on=day(14))
    # then
    assert invoice.due_date == DUE
    assert raised == []
    assert not OverdueAlert.objects.exists()


def test_j15_raises_one_alert_with_days_and_balance(invoice):
    # when
    raised = overdue_alerts_raise(on=day(15))
    # then
    assert [(a.invoice_id, a.level, a.days_late, a.balance_due, a.raised_on) for a in raised] == [
        (invoice.pk, 15, 15, Decimal("1200.00"), day(15))
    ]
    assert list(overdue_alerts_raised_on(on=day(15))) == raised


def test_running_twice_keeps_one_alert(invoice):
    # given
    overdue_alerts_raise(on=day(15))
    # when
    second = overdue_alerts_raise(on=day(15))
    third = overdue_alerts_raise(on=day(16))
    # then
    assert second == []
    assert third == []
    assert levels(invoice) == [15]


def test_downtime_raises_every_level_reached_at_once(invoice):
    # when: the daily job did not run between J+10 and J+45
    raised = overdue_alerts_raise(on=day(45))
    # then
    assert sorted(a.level for a in raised) == [15, 30]
    assert {a.days_late for a in raised} == {45}
    assert levels(invoice) == [15, 30]


def test_j95_raises_the_four_levels_then_nothing_more(invoice):
    # given
    overdue_alerts_raise(on=day(20))
    # when
    raised = overdue_alerts_raise(on=day(95))
    later = overdue_alerts_raise(on=day(400))
    # then
    assert [a.level for a in raised] == [90, 60, 30]
    assert later == []
    assert levels(invoice) == [15, 30, 60, 90]


def test_paid_invoice_raises_nothing_and_leaves_the_lists(invoice):
    # given
    overdue_alerts_raise(on=day(20))
    invoice.amount_paid, invoice.paid_date, invoice.status = Decimal("1200.00"), day(25), Status.PAID
    invoice.save()
    # when
    raised = overdue_alerts_raise(on=day(40))
    # then
    assert raised == []
    assert levels(invoice) == [15]
    assert not overdue_state(on=day(40)).exists()
    assert not overdue_alerts_current().exists()


def test_partially_paid_invoice_keeps_its_balance_due(invoice):
    # given
    invoice.amount_paid, invoice.status = Decimal("450.00"), Status.PARTIALLY_PAID
    invoice.save()
    # when
    raised = overdue_alerts_raise(on=day(31))
    # then
    assert [(a.level, a.balance_due) for a in raised] == [(30, Decimal("750.00")), (15, Decimal("750.00"))]


def test_overdue_state_gives_days_late_and_level_for_dunning(seller):
    # given
    recent = make_invoice(status=Status.ISSUED, issue_date=dt.date(2025, 4, 20))  # due 20/05
    old = make_invoice(status=Status.ISSUED, issue_date=dt.date(2025, 1, 1))  # due 31/01
    make_invoice(status=Status.ISSUED, issue_date=dt.date(2025, 5, 20))  # due 19/06: not late
    make_invoice(status=Status.DRAFT, issue_date=dt.date(2024, 1, 1))  # never issued
    on = dt.date(2025, 6, 1)
    # when
    state = list(overdue_state(on=on))
    # then
    assert [(i.pk, i.days_late, i.overdue_level, i.amount_due) for i in state] == [
        (old.pk, 121, 90, Decimal("120.00")),
        (recent.pk, 12, 0, Decimal("120.00")),
    ]
    assert list(overdue_state(on=on).filter(overdue_level__gte=15)) == [old]
    summary = {row["level"]: (row["count"], row["amount"]) for row in overdue_summary_by_level(on=on)}
    assert summary == {
        90: (1, Decimal("120.00")),
        60: (0, Decimal("0.00")),
        30: (0, Decimal("0.00")),
        15: (0, Decimal("0.00")),
        0: (1, Decimal("120.00")),
    }


def test_command_prints_alerts_and_json(invoice):
    # when
    out = StringIO()
    call_command("overdue_alerts", "--date", "2025-05-02", "--json", stdout=out)
    again = StringIO()
    call_command("overdue_alerts", "--date", "02/05/2025", stdout=again)
    # then
    data = json.loads(out.getvalue())
    assert data["date"] == "2025-05-02"
    assert [(r["invoice"], r["level"], r["days_late"], r["balance_due"]) for r in data["raised"]] == [
        (invoice.number, 30, 32, "1200.00"),
        (invoice.number, 15, 32, "1200.00"),
    ]
    assert "0 alerte(s) levée(s) le 02/05/2025." in again.getvalue()


def test_command_refuses_a_bad_date(invoice):
    from django.core.management import CommandError

    with pytest.raises(
        CommandError,
        match=r"^--date : « 31/02/2025 » n'est pas une date valide \(jj/mm/aaaa ou aaaa-mm-jj\)$",
    ):
        call_command("overdue_alerts", "--date", "31/02/2025")
    assert not OverdueAlert.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_raise_each_level_once(seller):
    import threading

    from django.db import connection

    # given: 30 invoices 95 days past due, two workers starting together
    for _ in range(30):
        make_invoice(status=Status.ISSUED, issue_date=dt.date(2025, 3, 1))
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            overdue_alerts_raise(on=day(95))
        except Exception as exc:  # the assertion below reports it
            errors.append(exc)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert errors == []
    assert OverdueAlert.objects.count() == 30 * 4
