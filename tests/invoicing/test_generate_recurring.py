import datetime as dt
import json
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, connections, transaction

from invoicing.models import Contract, Invoice
from invoicing.models.contract import Period
from invoicing.models.invoice import Origin, Status, Unit
from invoicing.services.recurrence import contracts_apply, recurrence_analyze
from invoicing.services.recurring import contract_bill_period, contract_periods_due, recurring_generate
from tests.factories import ClientFactory, ContractFactory, make_invoice

pytestmark = pytest.mark.django_db

SYAGA_CONTRACTS = [
    ("LAA", "1400.00", Period.MONTHLY),
    ("PHARMABEST", "500.00", Period.MONTHLY),
    ("BUQUET", "500.00", Period.MONTHLY),
    ("PETRAS", "600.00", Period.MONTHLY),
    ("PROVENCALE", "400.00", Period.MONTHLY),
    ("SEXTANT", "400.00", Period.MONTHLY),
    ("QUADRIMEX", "250.00", Period.MONTHLY),
    ("GENLOG", "100.00", Period.MONTHLY),
    ("BELFONTE", "751.60", Period.QUARTERLY),
]


def contract(
    name="LAA",
    *,
    amount="1400.00",
    period=Period.MONTHLY,
    start=dt.date(2024, 1, 1),
    next_billing=None,
    terms=None,
    **kwargs,
) -> Contract:
    client = ClientFactory(name=name, invoice_emails=f"compta@{name.lower()}.fr", payment_terms_days=terms)
    return ContractFactory(
        client=client,
        amount_ht=Decimal(amount),
        period=period,
        start_date=start,
        next_billing_date=next_billing or start,
        **kwargs,
    )


def billed(c: Contract) -> list[tuple[dt.date, dt.date, str]]:
    return list(
        Invoice.objects.filter(contract=c)
        .order_by("period_start")
        .values_list("period_start", "period_end", "subject")
    )


def test_a_monthly_invoice_is_labelled_in_french_and_due_per_the_client_terms(seller):
    # given: a client paid at 45 days
    c = contract(terms=45, next_billing=dt.date(2025, 8, 1))
    # when
    report = recurring_generate(on=dt.date(2025, 8, 1))
    # then
    invoice = Invoice.objects.get(contract=c)
    assert invoice.subject == "Forfait infogérance – août 2025"
    assert (invoice.issue_date, invoice.due_date) == (dt.date(2025, 8, 1), dt.date(2025, 9, 15))
    assert (invoice.period_start, invoice.period_end) == (dt.date(2025, 8, 1), dt.date(2025, 8, 31))
    assert (invoice.status, invoice.origin, invoice.number) == (Status.PENDING_REVIEW, Origin.RECURRING, None)
    assert (invoice.total_ht, invoice.total_vat, invoice.total_ttc) == (
        Decimal("1400.00"),
        Decimal("280.00"),
        Decimal("1680.00"),
    )
    [line] = invoice.lines.all()
    assert (line.description, line.quantity, line.unit, line.unit_price) == (
        "Forfait infogérance – août 2025",
        Decimal("1"),
        Unit.MONTH,
        Decimal("1400"),
    )
    assert (report.created, report.skipped, report.invoice_ids) == (1, 0, [invoice.pk])
    c.refresh_from_db()
    assert c.next_billing_date == dt.date(2025, 9, 1)


def test_without_client_terms_the_seller_terms_apply(seller):
    # given: the seller's 30 days
    c = contract(next_billing=dt.date(2025, 2, 1))
    # when
    recurring_generate(on=dt.date(2025, 2, 3))
    # then
    assert Invoice.objects.get(contract=c).due_date == dt.date(2025, 3, 3)


def test_nothing_is_billed_before_the_billing_date(seller):
    contract(next_billing=dt.date(2025, 9, 1))
    report = recurring_generate(on=dt.date(2025, 8, 31))
    assert (report.created, Invoice.objects.count()) == (0, 0)


def test_running_twice_creates_no_duplicate(seller):
    # given
    c = contract(next_billing=dt.date(2025, 8, 1))
    recurring_generate(on=dt.date(2025, 8, 5))
    # when
    again = recurring_generate(on=dt.date(2025, 8, 5))
    # then
    assert again.created == 0
    assert [subject for _, _, subject in billed(c)] == ["Forfait infogérance – août 2025"]


def test_a_contract_that_fell_behind_catches_up_one_invoice_per_missed_month(seller):
    # given: last billed in June, the machine off in July and August
    c = contract(next_billing=dt.date(2025, 7, 1))
    # when
    report = recurring_generate(on=dt.date(2025, 8, 20))
    # then
    assert [subject for _, _, subject in billed(c)] == [
        "Forfait infogérance – juillet 2025",
        "Forfait infogérance – août 2025",
    ]
    assert [i.issue_date for i in Invoice.objects.filter(contract=c).order_by("period_start")] == [
        dt.date(2025, 7, 1),
        dt.date(2025, 8, 1),
    ]
    assert report.runs[0].created == [dt.date(2025, 7, 1), dt.date(2025, 8, 1)]
    c.refresh_from_db()
    assert c.next_billing_date == dt.date(2025, 9, 1)


def test_after_a_crash_the_period_already_billed_is_skipped_not_duplicated(seller):
    # given: August's invoice exists but the contract's marker was not moved (a crash, or billed by hand)
    c = contract(next_billing=dt.date(2025, 8, 1))
    contract_bill_period(contract=c, period_start=dt.date(2025, 8, 1))
    # when
    report = recurring_generate(on=dt.date(2025, 9, 2))
    # then
    assert (report.created, report.skipped) == (1, 1)
    assert report.runs[0].skipped == [dt.date(2025, 8, 1)]
    assert [start for start, _, _ in billed(c)] == [dt.date(2025, 8, 1), dt.date(2025, 9, 1)]
    c.refresh_from_db()
    assert c.next_billing_date == dt.date(2025, 10, 1)


def test_billing_a_period_twice_by_hand_gives_nothing_the_second_time(seller):
    c = contract(next_billing=dt.date(2025, 8, 1))
    first = contract_bill_period(contract=c, period_start=dt.date(2025, 8, 1))
    assert first is not None
    assert contract_bill_period(contract=c, period_start=dt.date(2025, 8, 1)) is None
    assert Invoice.objects.filter(contract=c).count() == 1


def test_the_database_itself_refuses_a_second_invoice_for_the_same_contract_and_period(seller):
    # given
    c = contract(next_billing=dt.date(2025, 8, 1))
    recurring_generate(on=dt.date(2025, 8, 1))
    # when: bypassing the services
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(client=c.client, contract=c, period_start=dt.date(2025, 8, 1))
    # then
    assert Invoice.objects.filter(contract=c).count() == 1


def test_quarterly_contract_bills_every_third_month_from_its_start(seller):
    # given: started in January, billed until the second quarter
    c = contract(
        "BELFONTE",
        amount="751.60",
        period=Period.QUARTERLY,
        start=dt.date(2025, 1, 10),
        next_billing=dt.date(2025, 7, 1),
    )
    # when: run every day of the summer, as the schedule would
    for day in range(92):
        recurring_generate(on=dt.date(2025, 7, 1) + dt.timedelta(days=day))
    # then
    invoice = Invoice.objects.get(contract=c)
    assert invoice.subject == "Forfait infogérance – T3 2025 (juillet à septembre 2025)"
    assert (invoice.period_start, invoice.period_end) == (dt.date(2025, 7, 1), dt.date(2025, 9, 30))
    assert invoice.lines.get().unit == Unit.QUARTER
    assert invoice.total_ht == Decimal("751.60")
    c.refresh_from_db()
    assert c.next_billing_date == dt.date(2025, 10, 1)


def test_quarters_not_aligned_on_the_calendar_are_named_by_their_months():
    c = Contract(
        period=Period.QUARTERLY,
        start_date=dt.date(2025, 2, 1),
        next_billing_date=dt.date(2025, 2, 1),
        active=True,
    )
    periods = contract_periods_due(contract=c, on=dt.date(2025, 12, 31))
    assert [(p.billing_date, p.label) for p in periods] == [
        (dt.date(2025, 2, 1), "février à avril 2025"),
        (dt.date(2025, 5, 1), "mai à juillet 2025"),
        (dt.date(2025, 8, 1), "août à octobre 2025"),
        (dt.date(2025, 11, 1), "novembre 2025 à janvier 2026"),
    ]


def test_yearly_contract_bills_on_each_anniversary(seller):
    # given: started on 15 March 2024
    c = contract(
        "ANNUEL",
        amount="2600.00",
        period=Period.YEARLY,
        start=dt.date(2024, 3, 15),
        next_billing=dt.date(2025, 3, 15),
    )
    # when
    recurring_generate(on=dt.date(2025, 3, 14))
    recurring_generate(on=dt.date(2025, 3, 15))
    recurring_generate(on=dt.date(2026, 3, 14))
    # then
    assert billed(c) == [
        (dt.date(2025, 3, 15), dt.date(2026, 3, 14), "Forfait infogérance – du 15 mars 2025 au 14 mars 2026"),
    ]
    assert Invoice.objects.get(contract=c).lines.get().unit == Unit.YEAR
    c.refresh_from_db()
    assert c.next_billing_date == dt.date(2026, 3, 15)


def test_a_yearly_contract_started_on_29_february_keeps_its_anniversary():
    c = Contract(
        period=Period.YEARLY,
        start_date=dt.date(2024, 2, 29),
        next_billing_date=dt.date(2024, 2, 29),
        active=True,
    )
    periods = contract_periods_due(contract=c, on=dt.date(2028, 12, 31))
    assert [p.billing_date for p in periods] == [
        dt.date(2024, 2, 29),
        dt.date(2025, 2, 28),
        dt.date(2026, 2, 28),
        dt.date(2027, 2, 28),
        dt.date(2028, 2, 29),
    ]
    assert periods[0].label == "du 29 février 2024 au 27 février 2025"


def test_no_period_starting_after_the_end_date_is_billed(seller):
    # given: a contract ending mid-July, billed until May
    c = contract(next_billing=dt.date(2025, 6, 1), end_date=dt.date(2025, 7, 15))
    # when
    recurring_generate(on=dt.date(2025, 9, 10))
    recurring_generate(on=dt.date(2025, 10, 10))
    # then
    assert [start for start, _, _ in billed(c)] == [dt.date(2025, 6, 1), dt.date(2025, 7, 1)]


def test_an_inactive_contract_is_not_billed(seller):
    contract(next_billing=dt.date(2025, 6, 1), active=False)
    assert recurring_generate(on=dt.date(2025, 9, 10)).runs == []
    assert not Invoice.objects.exists()


def test_syaga_contracts_bill_52806_40_a_year(seller):
    # given: SYAGA's nine contracts, from January
    for name, amount, period in SYAGA_CONTRACTS:
        contract(name, amount=amount, period=period, start=dt.date(2025, 1, 1))
    # when: one run at the end of the year catches the whole year up
    report = recurring_generate(on=dt.date(2025, 12, 31))
    # then
    assert report.created == 8 * 12 + 4
    assert Invoice.objects.filter(origin=Origin.RECURRING).totals()["ht"] == Decimal("52806.40")


def test_detected_contracts_are_billed_from_the_month_after_the_history(seller):
    # given: three months issued by hand, then the contract recorded from the history
    client = ClientFactory(name="QUADRIMEX", invoice_emails="compta@quadrimex.fr")
    for month in (6, 7, 8):
        make_invoice(
            client=client,
            amounts=[Decimal("250.00")],
            status=Status.ISSUED,
            issue_date=dt.date(2025, month, 1),
        )
    contracts_apply(detected=recurrence_analyze(as_of=dt.date(2025, 8, 20)), as_of=dt.date(2025, 8, 20))
    # when
    recurring_generate(on=dt.date(2025, 8, 20))
    recurring_generate(on=dt.date(2025, 9, 1))
    # then
    assert [subject for _, _, subject in billed(Contract.objects.get())] == [
        "Forfait infogérance – septembre 2025",
    ]


def test_command_reports_what_it_created(seller):
    # given
    contract(next_billing=dt.date(2025, 7, 1))
    out = StringIO()
    # when
    call_command("generate_recurring", "--date", "20/08/2025", stdout=out)
    # then
    assert "LAA, Forfait infogérance : 2 créée(s) (07/2025, 08/2025)" in out.getvalue()
    assert "2 facture(s) créée(s), 0 période(s) déjà facturée(s) au 20/08/2025." in out.getvalue()


def test_command_dry_run_writes_nothing(seller):
    # given
    c = contract(next_billing=dt.date(2025, 7, 1))
    out = StringIO()
    # when
    call_command("generate_recurring", "--date", "2025-08-20", "--dry-run", "--json", stdout=out)
    # then
    report = json.loads(out.getvalue())
    assert (report["dry_run"], report["created"], report["skipped"]) == (True, 2, 0)
    assert report["contracts"][0]["created"] == ["2025-07-01", "2025-08-01"]
    assert not Invoice.objects.exists()
    c.refresh_from_db()
    assert c.next_billing_date == dt.date(2025, 7, 1)


def test_command_refuses_a_bad_date():
    with pytest.raises(
        CommandError, match=r"^--date : « demain » n'est pas une date valide \(jj/mm/aaaa ou aaaa-mm-jj\)$"
    ):
        call_command("generate_recurring", "--date", "demain")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_generating_at_once_bill_each_period_exactly_once(seller):
    # given: nine contracts three months behind, two workers with their own PostgreSQL connections
    behind = {Period.MONTHLY: dt.date(2025, 6, 1), Period.QUARTERLY: dt.date(2025, 4, 1)}
    contracts = [
        contract(name, amount=amount, period=period, start=dt.date(2025, 1, 1), next_billing=behind[period])
        for name, amount, period in SYAGA_CONTRACTS
    ]
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def worker():
        try:
            barrier.wait()
            reports.append(recurring_generate(on=dt.date(2025, 8, 15)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    assert connection.vendor == "postgresql"
    assert errors == []
    expected = 8 * 3 + 2  # June, July, August for the monthly ones; April and July for BELFONTE
    assert sum(r.created for r in reports) == expected
    assert Invoice.objects.count() == expected
    for c in contracts:
        starts = list(Invoice.objects.filter(contract=c).values_list("period_start", flat=True))
        assert len(starts) == len(set(starts))
        c.refresh_from_db()
        expected_next = dt.date(2025, 9, 1) if c.period == Period.MONTHLY else dt.date(2025, 10, 1)
        assert c.next_billing_date == expected_next
