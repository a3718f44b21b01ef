"""The top floor's reads for the first page: forgotten invoices (contracts and time), the last cycle, and the
seeds' indicators against their targets. Each against figures computed by hand."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from invoicing.models.invoice import Status
from invoicing.services import lifecycle
from syaga.core.dates import today
from syaga.ops.selectors import forgotten_invoices, indicators, last_cycle
from tests.factories import ClientFactory, ContractFactory, make_invoice
from tests.ops.first_page_data import recorded_cycle
from tests.timetracking.helpers import make_entry, paris
from timetracking.models import Category, TimeEntry

pytestmark = pytest.mark.django_db

D = Decimal
ON = dt.date(2026, 3, 15)  # closed months read with a 90-day window: December 2025 to February 2026


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def entry(start, minutes, *, client="Cabinet Durand", category=Category.FACTURABLE, **kwargs) -> TimeEntry:
    made = make_entry(start, minutes=minutes, client=client, **kwargs)
    TimeEntry.objects.filter(pk=made.pk).update(category=category)
    return made


@pytest.fixture
def unbilled_time(seller, settings):
    settings.TIMESHEET_DEFAULT_HOURLY_RATE = "110.00"
    ClientFactory(name="Cabinet Durand", hourly_rate=D("95.00"))
    ClientFactory(name="Garage Martin")  # no rate of its own: the firm's 110
    # forgotten: Durand 2 h in January and 1 h in February, Martin 30 min in February, 1 h without a client
    entry(paris(2026, 1, 12, 9), 120)
    entry(paris(2026, 2, 3, 9), 60)
    entry(paris(2026, 2, 4, 9), 30, client="Garage Martin")
    entry(paris(2026, 1, 20, 9), 60, client="")
    # not forgotten: billed, covered by the flat fee, this month's, before the window, a running timer
    billed = entry(paris(2026, 2, 5, 9), 240)
    invoice = make_invoice(status=Status.PENDING_REVIEW)
    TimeEntry.objects.filter(pk=billed.pk).update(invoice=invoice, billed_seconds=240 * 60)
    entry(paris(2026, 2, 6, 9), 60, category=Category.FORFAIT)
    entry(paris(2026, 3, 2, 9), 60)
    entry(paris(2025, 11, 20, 9), 60)
    entry(paris(2026, 2, 27, 9), 60, running=True)


def test_forgotten_time_of_closed_months_and_contracts_not_billed(unbilled_time):
    # given: a contract whose billing date passed on the 10th
    ContractFactory(start_date=dt.date(2025, 6, 1), next_billing_date=dt.date(2026, 3, 10))
    # when
    with CaptureQueriesContext(connection) as queries:
        forgotten = forgotten_invoices(on=ON, window_days=90)
    # then: Durand × January, Durand × February, Martin × February, no client × January
    assert forgotten.since == dt.date(2025, 12, 1)
    assert forgotten.time_invoices == 4
    assert forgotten.time_entries == 4
    assert forgotten.time_seconds == (120 + 60 + 30 + 60) * 60
    # 3 h × 95 + 0,5 h × 110 + 1 h × 110 (no client: the firm's rate)
    assert forgotten.time_amount == D("450.00")
    assert forgotten.contracts == 1
    assert forgotten.total == 5
    assert len(queries) == 3


def test_nothing_forgotten_reads_zero(seller):
    forgotten = forgotten_invoices(on=ON, window_days=90)
    assert (forgotten.total, forgotten.time_seconds, forgotten.time_amount) == (0, 0, D("0.00"))


# -------------------------------------------------------------------------------------------- last cycle


def test_last_cycle_is_the_last_real_run_with_its_steps_in_order(db):
    # given: yesterday's run, today's, and a dry run after it (a simulation is not the machine's day)
    recorded_cycle(today() - days(1))
    real = recorded_cycle()
    recorded_cycle(dry_run=True)
    # when
    cycle = last_cycle()
    # then
    assert cycle.run == real
    assert [(s.label, s.get_status_display()) for s in cycle.steps] == [
        ("Factures récurrentes", "réussie"),
        ("Synchronisation Qonto", "non configurée"),
        ("Rapprochement des paiements", "en échec"),
    ]
    assert cycle.steps[2].error == "OperationalError: database is locked"
    assert cycle.next_daily is None  # setup_schedules has not run


def test_next_daily_cycle_from_its_schedule_late_when_no_cluster_took_it(db):
    # given
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    # when
    cycle = last_cycle()
    # then: at 07:00 Paris, in the next 24 hours
    at = timezone.localtime(cycle.next_daily)
    assert (at.hour, at.minute) == (7, 0)
    assert timezone.now() < cycle.next_daily <= timezone.now() + days(1)
    assert cycle.run is None
    assert not cycle.next_daily_late
    # when the planned time passed an hour ago without a cluster to run it
    Schedule.objects.filter(name="syaga:cycle-daily").update(next_run=timezone.now() - dt.timedelta(hours=1))
    # then
    assert last_cycle().next_daily_late


# ------------------------------------------------------------------------------------------- indicators


@pytest.fixture
def books(seller):
    """Two invoices issued by rules and one by hand over the last weeks, one of them paid, both periods
    ended before the issue."""
    t = today()
    paid = make_invoice(
        amounts=[D("1000.00")],
        status=Status.ISSUED,
        issue_date=t - days(40),
        due_date=t - days(10),
        period_start=t - days(75),
        period_end=t - days(45),
    )
    lifecycle.invoice_record_payment(invoice=paid, amount=paid.total_ttc, paid_on=t - days(16))
    make_invoice(
        amounts=[D("500.00")],
        status=Status.ISSUED,
        issue_date=t - days(20),
        due_date=t - days(5),
        period_start=t - days(50),
        period_end=t - days(21),
    )
    return t


def by_code(rows):
    return {row.code: row for row in rows}


def test_indicators_against_the_seeds_targets(books):
    # when
    rows = by_code(indicators(on=books))
    # then: collected 1 200 of 1 800 fallen due
    assert rows["recovery"].value == "66,7\u00a0%"
    assert rows["recovery"].target == "> 98\u00a0%"
    assert rows["recovery"].met is False
    # issued 5 days then 1 day after the period: 3 days, over 48 h
    assert rows["issue_delay"].value == "3\u00a0jours"
    assert rows["issue_delay"].target == "< 48\u00a0h"
    assert rows["issue_delay"].met is False
    # paid 24 days after issue
    assert rows["payment_delay"].value == "24\u00a0jours"
    assert rows["payment_delay"].met is True
    # both issued by a rule
    assert rows["automated"].value == "100\u00a0%"
    assert rows["automated"].met is True
    # DSO: 600 owed / 1 800 sold in 90 days × 90 = 30 days, not under 30
    assert rows["dso"].value == "30\u00a0jours"
    assert rows["dso"].met is False
    assert rows["forgotten"].value == "0"
    assert rows["forgotten"].met is True
    assert list(rows) == ["dso", "recovery", "issue_delay", "payment_delay", "automated", "forgotten"]


def test_targets_come_from_the_settings(books, settings):
    # given
    settings.KPI_TARGET_RECOVERY_PERCENT = "60"
    settings.KPI_TARGET_ISSUE_DELAY_HOURS = 96
    settings.KPI_TARGET_DSO_DAYS = 31
    # when
    rows = by_code(indicators(on=books))
    # then
    assert (rows["recovery"].target, rows["recovery"].met) == ("> 60\u00a0%", True)
    assert (rows["issue_delay"].target, rows["issue_delay"].met) == ("< 96\u00a0h", True)
    assert rows["dso"].met is True


def test_a_target_that_is_not_a_number_is_named(books, settings):
    settings.KPI_TARGET_RECOVERY_PERCENT = "beaucoup"
    with pytest.raises(ImproperlyConfigured, match="KPI_TARGET_RECOVERY_PERCENT='beaucoup'"):
        indicators(on=books)


def test_indicators_without_any_invoice_say_there_is_nothing_to_measure(seller):
    rows = by_code(indicators(on=today()))
    for code in ("dso", "recovery", "issue_delay", "payment_delay", "automated"):
        assert (rows[code].value, rows[code].met) == ("—", None), code


def test_forgotten_is_missed_with_what_was_forgotten(unbilled_time, settings):
    # given: the window reaches back over December to February
    settings.KPI_WINDOW_DAYS = 90
    # when
    row = by_code(indicators(on=ON))["forgotten"]
    # then
    assert (row.value, row.met) == ("4", False)
    assert row.warnings == [
        "temps FACTURABLE non facturé : 4,5\u00a0h (450,00\u00a0€ HT), 4 clients × mois",
    ]
    assert "de décembre 2025 à février 2026" in row.detail
