"""Two people decide at the same moment (two web requests, two database connections): rows are locked, so
an invoice is never paid twice and a client's credit never spent twice."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from banking.models import ClientCredit, PaymentAllocation
from banking.services.client_credit import client_credit_apply
from banking.services.decisions import AllocationSpec, transaction_allocate
from invoicing.models import Invoice
from invoicing.models.invoice import Status
from syaga.core.errors import BusinessError
from tests.banking.builders import client, credit, issued
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at_once(*calls):
    """Run each call in its own thread (its own connection), released together; their outcomes."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = ("ok", call())
        except BusinessError as exc:
            outcomes[index] = ("refused", str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return outcomes


def test_two_people_allocating_the_same_credit_at_once_book_it_once():
    # given
    assert connection.vendor == "postgresql"
    c = client("AZUR SERVICES")
    inv = issued(c, "300.00")
    tx = credit("300.00", label="INCONNU")
    ann, bob = UserFactory(username="ann"), UserFactory(username="bob")

    def allocate(user):
        return lambda: transaction_allocate(
            transaction=tx, allocations=[AllocationSpec(inv.pk, Decimal("300.00"))], user=user
        )

    # when
    outcomes = at_once(allocate(ann), allocate(bob))
    # then
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"]
    assert PaymentAllocation.objects.filter(transaction=tx).count() == 1
    inv.refresh_from_db()
    assert (inv.status, inv.amount_paid) == (Status.PAID, Decimal("300.00"))


def test_a_clients_credit_used_twice_at_once_is_spent_once():
    # given: 100.00 of credit, two invoices of 60.00
    c = client("AZUR SERVICES")
    first, second = issued(c, "60.00"), issued(c, "60.00")
    transaction_allocate(
        transaction=credit("100.00", label="AZUR"), allocations=[], user=None, excess_client=c
    )
    user = UserFactory()

    def use(invoice):
        return lambda: client_credit_apply(client=c, invoice=invoice, amount=Decimal("60.00"), actor=user)

    # when
    outcomes = at_once(use(first), use(second))
    # then
    assert sorted(kind for kind, _ in outcomes) == ["ok", "refused"]
    assert ClientCredit.objects.get(client=c).balance == Decimal("40.00")
    assert sorted(Invoice.objects.filter(client=c).values_list("status", flat=True)) == [
        Status.ISSUED,
        Status.PAID,
    ]
