import datetime as dt
from decimal import Decimal

import pytest

from invoicing.models.invoice import Status
from invoicing.selectors import client_payment_behaviour, risk_score, top_late_payers
from tests.factories import ClientFactory, make_invoice

pytestmark = pytest.mark.django_db

ON = dt.date(2025, 4, 20)


def issued(client, issue_date):
    # 100 HT -> 120 TTC, due 30 days after issue (the seller's terms).
    return make_invoice(client=client, status=Status.ISSUED, issue_date=issue_date)


def pay(invoice, paid_date):
    invoice.amount_paid, invoice.paid_date, invoice.status = invoice.total_ttc, paid_date, Status.PAID
    invoice.save()
    return invoice


@pytest.fixture
def late_payer(seller):
    client = ClientFactory(name="Retard SARL")
    pay(issued(client, dt.date(2025, 1, 1)), dt.date(2025, 2, 10))  # due 31/01, paid 10 days late
    pay(issued(client, dt.date(2025, 2, 1)), dt.date(2025, 2, 25))  # due 03/03, paid early: 0
    issued(client, dt.date(2025, 3, 1))  # due 31/03, unpaid on 20/04: 20 days late so far
    issued(client, dt.date(2025, 4, 1))  # due 01/05: not late yet, not in the sample
    return client


def test_average_days_late_share_and_score(late_payer):
    # when
    behaviour = client_payment_behaviour(on=ON)[late_payer.pk]
    # then: (10 + 0 + 20) / 3 invoices; 2 of 3 late
    assert behaviour.invoices_paid == 2
    assert behaviour.paid_late == 1
    assert behaviour.open_overdue == 1
    assert behaviour.average_days_late == Decimal("10.0")
    assert behaviour.share_late == Decimal("0.67")
    # the habit counts paid invoices only: (10 + 0) / 2
    assert behaviour.paid_average_days_late == Decimal("5.0")
    assert behaviour.habit_days == 5
    # 50 x 0.67 + 50 x 10/60 = 41.83
    assert behaviour.risk_score == 42


def test_punctual_client_scores_zero_and_unknown_client_gets_a_zero_record(seller):
    # given
    punctual = ClientFactory()
    pay(issued(punctual, dt.date(2025, 1, 1)), dt.date(2025, 1, 31))  # paid on its due date
    newcomer = ClientFactory()
    # when
    result = client_payment_behaviour(on=ON, clients=[punctual, newcomer.pk])
    # then
    assert set(result) == {punctual.pk, newcomer.pk}
    assert (
        result[punctual.pk].invoices_paid,
        result[punctual.pk].average_days_late,
        result[punctual.pk].risk_score,
    ) == (1, Decimal("0.0"), 0)
    assert (
        result[newcomer.pk].sample_size,
        result[newcomer.pk].habit_days,
        result[newcomer.pk].risk_score,
    ) == (0, 0, 0)


def test_very_late_payer_caps_at_100(seller):
    # given
    client = ClientFactory()
    pay(issued(client, dt.date(2024, 10, 1)), dt.date(2025, 1, 29))  # due 31/10/2024, 90 days late
    # when
    behaviour = client_payment_behaviour(on=ON)[client.pk]
    # then
    assert (behaviour.average_days_late, behaviour.share_late, behaviour.risk_score) == (
        Decimal("90.0"),
        Decimal("1.00"),
        100,
    )


def test_a_payment_after_the_date_is_not_known_yet(seller):
    # given
    client = ClientFactory()
    pay(issued(client, dt.date(2025, 1, 1)), dt.date(2025, 5, 1))  # due 31/01, paid 01/05
    # when
    behaviour = client_payment_behaviour(on=ON)[client.pk]
    # then: on 20/04 it was still unpaid, 79 days past due
    assert (behaviour.invoices_paid, behaviour.open_overdue, behaviour.average_days_late) == (
        0,
        1,
        Decimal("79.0"),
    )


def test_one_query_for_many_clients(seller, django_assert_num_queries):
    # given
    clients = [ClientFactory() for _ in range(5)]
    for client in clients:
        pay(issued(client, dt.date(2025, 1, 1)), dt.date(2025, 2, 5))
        issued(client, dt.date(2025, 3, 1))
    # when
    with django_assert_num_queries(1):
        result = client_payment_behaviour(on=ON, clients=clients)
    # then: (5 + 20) / 2
    assert {b.average_days_late for b in result.values()} == {Decimal("12.5")}
    assert {b.habit_days for b in result.values()} == {5}


def test_risk_score_formula():
    assert risk_score(share_late=Decimal("0"), average_days_late=Decimal("0")) == 0
    assert risk_score(share_late=Decimal("0.5"), average_days_late=Decimal("30")) == 50
    assert risk_score(share_late=Decimal("1"), average_days_late=Decimal("200")) == 100


def test_top_late_payers_ranks_by_risk(late_payer):
    # given
    worst = ClientFactory(name="Pire SA")
    pay(issued(worst, dt.date(2024, 10, 1)), dt.date(2025, 1, 29))
    punctual = ClientFactory()
    pay(issued(punctual, dt.date(2025, 1, 1)), dt.date(2025, 1, 20))
    # when
    top = top_late_payers(on=ON)
    # then: the punctual client (score 0) is not a late payer
    assert [(client.name, b.risk_score) for client, b in top] == [("Pire SA", 100), ("Retard SARL", 42)]
