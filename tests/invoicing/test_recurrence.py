import datetime as dt
import itertools
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from invoicing.models import Contract, Invoice
from invoicing.models.contract import Period
from invoicing.models.invoice import Kind, Origin, Status
from invoicing.services.recurrence import contracts_apply, recurrence_analyze
from syaga.core.dates import add_months
from syaga.core.money import quantize
from tests.factories import ClientFactory, ContractFactory, make_invoice

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)
AS_OF = dt.date(2025, 9, 15)


def history(client, *entries, status=Status.PAID, kind=Kind.INVOICE):
    """Imported invoices, straight into the table (a long history through the services would be slow)."""
    invoices = []
    for day, amount in itertools.chain(*entries):
        ht = Decimal(amount)
        vat = quantize(ht * Decimal("0.20"))
        invoices.append(
            Invoice(
                kind=kind,
                number=f"H{next(_numbers):07d}",
                series="F",
                client=client,
                status=status,
                origin=Origin.IMPORTED,
                issue_date=day,
                due_date=day + dt.timedelta(days=30),
                total_ht=ht,
                total_vat=vat,
                total_ttc=ht + vat,
            )
        )
    Invoice.objects.bulk_create(invoices)


def every(first: dt.date, count: int, amount, *, months=1, skip=()) -> list[tuple[dt.date, str]]:
    """``count`` invoices of ``amount``, one every ``months`` months from ``first``, minus ``skip``."""
    days = [add_months(first, i * months) for i in range(count)]
    return [(day, str(amount)) for day in days if day not in skip]


def client_named(name, **kwargs):
    return ClientFactory(name=name, invoice_emails=f"compta@{name.lower()}.fr", **kwargs)


def syaga_history():
    """Three years of SYAGA's invoices: nine live contracts among one-offs, gaps, price changes and noise."""
    laa = client_named("LAA")
    history(
        laa,
        every(dt.date(2023, 1, 1), 18, "1200.00"),
        every(dt.date(2024, 7, 1), 15, "1400.00"),
        [(dt.date(2024, 3, 12), "3250.00"), (dt.date(2025, 2, 20), "880.00")],
    )
    pharmabest = client_named("PHARMABEST")
    history(
        pharmabest,
        every(dt.date(2023, 3, 1), 31, "500.00"),
        [
            (dt.date(2024, 5, 20), "500.00"),
            (dt.date(2024, 5, 21), "1320.00"),
            (dt.date(2025, 6, 3), "1320.00"),
        ],
    )
    buquet = client_named("BUQUET")
    history(buquet, every(dt.date(2024, 1, 1), 21, "500.00", skip={dt.date(2025, 3, 1)}))
    petras = client_named("PETRAS")
    # issued on the 5th, the August 2024 invoice forgotten
    history(petras, every(dt.date(2023, 6, 5), 28, "600.00", skip={dt.date(2024, 8, 5)}))
    provencale = client_named("PROVENCALE")
    history(provencale, every(dt.date(2024, 10, 1), 12, "400.00"))
    sextant = client_named("SEXTANT")
    history(sextant, every(dt.date(2023, 1, 1), 24, "350.00"), every(dt.date(2025, 1, 1), 9, "400.00"))
    quadrimex = client_named("QUADRIMEX")
    history(quadrimex, every(dt.date(2025, 7, 1), 3, "250.00"))
    genlog = client_named("GENLOG")
    history(genlog, every(dt.date(2023, 1, 1), 33, "100.00"), [(dt.date(2024, 11, 14), "1540.00")])
    belfonte = client_named("BELFONTE")
    history(
        belfonte,
        every(dt.date(2023, 1, 10), 11, "751.60", months=3),
        [(dt.date(2024, 2, 8), "220.00"), (dt.date(2024, 9, 3), "751.60")],
    )
    # noise: a contract that stopped in July, a coincidence, plain one-off work
    history(client_named("OLDCO"), every(dt.date(2022, 1, 1), 43, "800.00"))
    history(client_named("TWICE"), every(dt.date(2025, 7, 1), 2, "300.00"))
    history(
        client_named("ONEOFF"),
        [(dt.date(2025, 1, 3), "990.00"), (dt.date(2025, 4, 9), "1650.00"), (dt.date(2025, 8, 21), "440.00")],
    )


def test_syaga_nine_contracts_are_found_with_their_current_amounts():
    # given
    syaga_history()
    # when
    found = recurrence_analyze(as_of=AS_OF)
    # then
    assert [(d.client, d.amount_ht, d.period) for d in found] == [
        ("BELFONTE", Decimal("751.60"), Period.QUARTERLY),
        ("BUQUET", Decimal("500.00"), Period.MONTHLY),
        ("GENLOG", Decimal("100.00"), Period.MONTHLY),
        ("LAA", Decimal("1400.00"), Period.MONTHLY),
        ("PETRAS", Decimal("600.00"), Period.MONTHLY),
        ("PHARMABEST", Decimal("500.00"), Period.MONTHLY),
        ("PROVENCALE", Decimal("400.00"), Period.MONTHLY),
        ("QUADRIMEX", Decimal("250.00"), Period.MONTHLY),
        ("SEXTANT", Decimal("400.00"), Period.MONTHLY),
    ]
    assert sum(d.yearly_ht for d in found) == Decimal("52806.40")
    by_client = {d.client: d for d in found}
    assert (by_client["LAA"].occurrences, by_client["LAA"].first) == (33, dt.date(2023, 1, 1))
    assert (by_client["BUQUET"].occurrences, by_client["BUQUET"].last) == (20, dt.date(2025, 9, 1))
    assert by_client["PETRAS"].occurrences == 27
    assert by_client["BELFONTE"].occurrences == 11
    assert by_client["BELFONTE"].last == dt.date(2025, 7, 10)


def test_after_a_price_change_the_latest_amount_wins():
    # given: 350 for a year, then 400
    client = client_named("SEXTANT")
    history(client, every(dt.date(2024, 1, 1), 12, "350.00"), every(dt.date(2025, 1, 1), 9, "400.00"))
    # when
    [found] = recurrence_analyze(as_of=AS_OF)
    # then
    assert found.amount_ht == Decimal("400.00")
    assert (found.occurrences, found.first, found.last) == (21, dt.date(2024, 1, 1), dt.date(2025, 9, 1))


def test_a_new_amount_seen_once_is_a_one_off_not_a_price_change():
    # given: 500 every month, one month billed 650 instead
    client = client_named("BUQUET")
    history(
        client,
        every(dt.date(2025, 1, 1), 9, "500.00", skip={dt.date(2025, 5, 1)}),
        [(dt.date(2025, 5, 1), "650.00")],
    )
    # when
    [found] = recurrence_analyze(as_of=AS_OF)
    # then
    assert (found.amount_ht, found.occurrences) == (Decimal("500.00"), 8)


def test_a_forgotten_month_does_not_break_the_contract():
    # given: May forgotten
    client = client_named("BUQUET")
    history(client, every(dt.date(2025, 1, 1), 9, "500.00", skip={dt.date(2025, 5, 1)}))
    # when
    [found] = recurrence_analyze(as_of=AS_OF)
    # then
    assert (found.first, found.last, found.occurrences) == (dt.date(2025, 1, 1), dt.date(2025, 9, 1), 8)


def test_two_months_forgotten_in_a_row_restart_the_count():
    # given: April and May missing; only June to September after the hole
    client = client_named("BUQUET")
    history(client, every(dt.date(2025, 1, 1), 9, "500.00", skip={dt.date(2025, 4, 1), dt.date(2025, 5, 1)}))
    # when
    [found] = recurrence_analyze(as_of=AS_OF)
    # then
    assert (found.first, found.occurrences) == (dt.date(2025, 6, 1), 4)


def test_billing_every_other_month_is_not_a_monthly_contract():
    # given
    client = client_named("BIMESTRIEL")
    history(client, every(dt.date(2024, 1, 1), 10, "500.00", months=2))
    # then
    assert recurrence_analyze(as_of=dt.date(2025, 7, 15)) == []


def test_one_off_work_in_between_does_not_disturb_the_detection():
    # given: the contract, plus extra work of various amounts, one of them twice, one on the contract's amount
    client = client_named("PHARMABEST")
    history(
        client,
        every(dt.date(2024, 9, 1), 13, "500.00"),
        [
            (dt.date(2024, 11, 18), "1320.00"),
            (dt.date(2025, 2, 7), "1320.00"),
            (dt.date(2025, 3, 25), "500.00"),
            (dt.date(2025, 6, 12), "75.00"),
        ],
    )
    # when
    found = recurrence_analyze(as_of=AS_OF)
    # then
    assert [(d.amount_ht, d.occurrences, d.first, d.last) for d in found] == [
        (Decimal("500.00"), 13, dt.date(2024, 9, 1), dt.date(2025, 9, 1)),
    ]


def test_a_client_can_have_two_monthly_contracts():
    # given
    client = client_named("LAA")
    history(client, every(dt.date(2025, 1, 1), 9, "1400.00"), every(dt.date(2025, 3, 3), 7, "120.00"))
    # when
    found = recurrence_analyze(as_of=AS_OF)
    # then
    assert [(d.amount_ht, d.period, d.occurrences) for d in found] == [
        (Decimal("1400.00"), Period.MONTHLY, 9),
        (Decimal("120.00"), Period.MONTHLY, 7),
    ]


@pytest.mark.parametrize(
    ("as_of", "listed"),
    [
        (dt.date(2025, 9, 14), True),  # 44 days after the last invoice
        (dt.date(2025, 9, 20), False),  # 50 days: more than a period and a half
    ],
)
def test_a_contract_whose_billing_stopped_over_a_period_and_a_half_ago_is_not_listed(as_of, listed):
    # given: billed until 1 August
    client = client_named("OLDCO")
    history(client, every(dt.date(2024, 8, 1), 13, "800.00"))
    # then
    assert bool(recurrence_analyze(as_of=as_of)) is listed


def test_invoices_after_the_analysis_date_are_not_seen():
    # given: the contract only started after the date
    client = client_named("FUTURE")
    history(client, every(dt.date(2025, 10, 1), 6, "800.00"))
    # then
    assert recurrence_analyze(as_of=AS_OF) == []


@pytest.mark.parametrize(("count", "listed"), [(2, False), (3, True)])
def test_the_same_amount_twice_is_a_coincidence_three_times_a_contract(count, listed, seller):
    # given: invoices issued through the services
    client = client_named("QUADRIMEX")
    for i in range(count):
        make_invoice(
            client=client,
            amounts=[Decimal("250.00")],
            status=Status.ISSUED,
            issue_date=dt.date(2025, 9 - i, 1),
        )
    # when
    found = recurrence_analyze(as_of=AS_OF)
    # then
    assert [(d.client, d.amount_ht, d.occurrences) for d in found] == (
        [("QUADRIMEX", Decimal("250.00"), 3)] if listed else []
    )


def test_drafts_credit_notes_and_cancelled_invoices_are_not_history():
    # given: three months of drafts, three of credit notes, three cancelled invoices
    client = client_named("NOISE")
    drafts = [
        Invoice(
            client=client,
            status=Status.DRAFT,
            issue_date=day,
            total_ht=Decimal("300.00"),
            total_ttc=Decimal("300.00"),
        )
        for day, _ in every(dt.date(2025, 6, 1), 3, "300.00")
    ]
    Invoice.objects.bulk_create(drafts)
    history(client, every(dt.date(2025, 6, 1), 3, "310.00"), kind=Kind.CREDIT_NOTE, status=Status.ISSUED)
    for day, amount in every(dt.date(2025, 6, 1), 3, "320.00"):
        make_invoice(client=client, amounts=[Decimal(amount)], status=Status.CANCELLED, issue_date=day)
    # then
    assert recurrence_analyze(as_of=AS_OF) == []


def test_quarterly_contract():
    # given: every quarter on the 10th, plus extra work, then a stopped quarterly contract elsewhere
    client = client_named("BELFONTE")
    history(client, every(dt.date(2024, 4, 10), 6, "751.60", months=3), [(dt.date(2024, 5, 2), "300.00")])
    history(client_named("STOPPED"), every(dt.date(2023, 1, 1), 8, "900.00", months=3))  # last 1 Oct 2024
    # when
    found = recurrence_analyze(as_of=AS_OF)
    # then
    assert [(d.client, d.period, d.amount_ht, d.occurrences, d.last) for d in found] == [
        ("BELFONTE", Period.QUARTERLY, Decimal("751.60"), 6, dt.date(2025, 7, 10)),
    ]
    assert found[0].next_billing_date == dt.date(2025, 10, 1)


def test_yearly_contract():
    # given: every March (the 2025 invoice a day early), the price raised in 2024, extra work in June
    client = client_named("ANNUEL")
    history(
        client,
        [
            (dt.date(2022, 3, 15), "2400.00"),
            (dt.date(2023, 3, 15), "2400.00"),
            (dt.date(2024, 3, 15), "2600.00"),
            (dt.date(2025, 3, 14), "2600.00"),
            (dt.date(2024, 6, 3), "180.00"),
        ],
    )
    # when
    [found] = recurrence_analyze(as_of=AS_OF)
    # then
    assert (found.period, found.amount_ht, found.occurrences) == (Period.YEARLY, Decimal("2600.00"), 4)
    assert (found.first, found.last, found.next_billing_date) == (
        dt.date(2022, 3, 15),
        dt.date(2025, 3, 14),
        dt.date(2026, 3, 15),
    )
    assert found.yearly_ht == Decimal("2600.00")


def test_a_yearly_invoice_a_month_early_or_late_is_still_that_year_s():
    # given: anniversary in March; 2023 billed in April, 2025 in February
    client = client_named("LICENCE")
    history(
        client,
        [
            (dt.date(2022, 3, 1), "900.00"),
            (dt.date(2023, 4, 3), "900.00"),
            (dt.date(2024, 3, 1), "900.00"),
            (dt.date(2025, 2, 26), "900.00"),
        ],
    )
    # when
    [found] = recurrence_analyze(as_of=AS_OF)
    # then: and next year's invoice is due on the anniversary, not again now
    assert (found.period, found.occurrences, found.last) == (Period.YEARLY, 4, dt.date(2025, 2, 26))
    assert found.next_billing_date == dt.date(2026, 3, 1)


def test_json_output_has_the_exact_shape():
    # given
    client = client_named("BELFONTE")
    history(client, every(dt.date(2024, 4, 10), 6, "751.60", months=3))
    history(client_named("LAA"), every(dt.date(2025, 1, 1), 9, "1400"))
    out = StringIO()
    # when
    call_command("analyze_recurrence", "--as-of", "15/09/2025", "--json", stdout=out)
    # then
    assert json.loads(out.getvalue()) == [
        {
            "client": "BELFONTE",
            "amount_ht": "751.60",
            "period": "quarterly",
            "occurrences": 6,
            "first": "2024-04-10",
            "last": "2025-07-10",
        },
        {
            "client": "LAA",
            "amount_ht": "1400.00",
            "period": "monthly",
            "occurrences": 9,
            "first": "2025-01-01",
            "last": "2025-09-01",
        },
    ]
    assert not Contract.objects.exists()


def test_readable_table_lists_each_contract_and_the_yearly_total():
    # given
    syaga_history()
    out = StringIO()
    # when
    call_command("analyze_recurrence", "--as-of", "2025-09-15", stdout=out)
    # then
    text = out.getvalue()
    assert "BELFONTE" in text
    assert "751,60" in text
    assert "trimestriel" in text
    assert "9 contrat(s), 52\u202f806,40\u00a0€ HT par an." in text
    assert "OLDCO" not in text
    assert "TWICE" not in text


def test_a_bad_date_is_refused_with_the_option_name():
    with pytest.raises(
        CommandError,
        match=r"^--as-of : « 31/02/2025 » n'est pas une date valide \(jj/mm/aaaa ou aaaa-mm-jj\)$",
    ):
        call_command("analyze_recurrence", "--as-of", "31/02/2025")


def test_apply_creates_the_contracts_once():
    # given
    syaga_history()
    # when: applied twice
    call_command("analyze_recurrence", "--as-of", "2025-09-15", "--apply", stdout=StringIO())
    out = StringIO()
    call_command("analyze_recurrence", "--as-of", "2025-09-15", "--apply", stdout=out)
    # then
    assert "0 contrat(s) créé(s), 0 mis à jour." in out.getvalue()
    contracts = list(Contract.objects.select_related("client").order_by("client__name"))
    assert len(contracts) == 9
    assert all(c.detected and c.active and c.label == "Forfait infogérance" for c in contracts)
    assert sum(c.amount_ht * 12 / c.period_months for c in contracts) == Decimal("52806.40")
    laa = next(c for c in contracts if c.client.name == "LAA")
    assert (laa.start_date, laa.next_billing_date) == (dt.date(2023, 1, 1), dt.date(2025, 10, 1))
    belfonte = next(c for c in contracts if c.client.name == "BELFONTE")
    assert (belfonte.period, belfonte.start_date, belfonte.next_billing_date) == (
        Period.QUARTERLY,
        dt.date(2023, 1, 10),
        dt.date(2025, 10, 1),
    )


def test_apply_updates_the_amount_of_an_existing_contract_after_a_price_change():
    # given: a contract recorded at 350, the history now says 400
    client = client_named("SEXTANT")
    existing = ContractFactory(
        client=client,
        amount_ht=Decimal("350.00"),
        start_date=dt.date(2024, 1, 1),
        next_billing_date=dt.date(2025, 1, 1),
    )
    history(client, every(dt.date(2024, 1, 1), 12, "350.00"), every(dt.date(2025, 1, 1), 9, "400.00"))
    # when
    created, updated = contracts_apply(detected=recurrence_analyze(as_of=AS_OF), as_of=AS_OF)
    # then
    assert (created, updated) == ([], [existing])
    existing.refresh_from_db()
    # and the months already billed by hand are not billed again
    assert (existing.amount_ht, existing.next_billing_date) == (Decimal("400.00"), dt.date(2025, 10, 1))
    assert Contract.objects.count() == 1
