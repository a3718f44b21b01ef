"""A person's decisions on a credit: allocate by hand, confirm, pays no invoice, undo; and the client credit
(trop-perçu) that keeps whatever a credit's invoices do not take."""

import datetime as dt
from decimal import Decimal

import pytest

from banking.models import (
    BankTransaction,
    ClientCredit,
    ClientCreditMovement,
    MatchEvent,
    MatchStatus,
    PaymentAllocation,
)
from banking.services.allocation import payments_match
from banking.services.client_credit import (
    client_credit_apply,
    client_credit_movement_undo,
    client_credit_refund,
)
from banking.services.decisions import (
    AllocationSpec,
    suggestion_confirm,
    transaction_allocate,
    transaction_decision_undo,
    transaction_mark_no_invoice,
)
from invoicing.models import InvoiceEvent
from invoicing.models.invoice import Status
from invoicing.models.validation import EventKind
from syaga.core.errors import BusinessError, InputError
from tests.banking.builders import client, credit, issued
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return UserFactory(username="marie")


def refreshed(*objects):
    for obj in objects:
        obj.refresh_from_db()


# ------------------------------------------------------------------------------------------- nothing dropped


def test_confirming_a_1000_suggestion_against_a_600_invoice_keeps_the_400_as_client_credit(person):
    # given: 1,000.00 naming a 600.00 invoice, too much to be applied by the machine: a suggestion
    c = client("PHARMABEST SARL")
    inv = issued(c, "600.00")
    tx = credit("1000.00", label="PHARMABEST", reference=inv.number)
    payments_match()
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.SUGGESTED
    assert tx.match_candidates[0]["excess"] == "400.00"
    # when: a person confirms it
    event = suggestion_confirm(transaction=tx, candidate_index=0, user=person)
    # then: the invoice is paid and the other 400.00 are the client's, recorded against this transfer
    refreshed(inv, tx)
    assert inv.status == Status.PAID
    credit_row = ClientCredit.objects.get(client=c)
    assert credit_row.balance == Decimal("400.00")
    movement = credit_row.movements.get()
    assert (movement.kind, movement.amount, movement.transaction_id) == ("excess", Decimal("400.00"), tx.pk)
    assert tx.match_status == MatchStatus.CONFIRMED
    assert (event.kind, event.excess, event.excess_client_id, event.actor) == (
        "confirmed",
        Decimal("400"),
        c.pk,
        person,
    )
    assert PaymentAllocation.objects.get(transaction=tx).amount == Decimal("600.00")


def test_an_unrecognised_credit_is_allocated_by_hand_across_two_invoices_one_partially(person):
    # given: nobody the matcher knows pays 1,000.00
    c = client("HOTEL BELLEVUE")
    first, second = issued(c, "600.00", dt.date(2025, 1, 6)), issued(c, "700.00", dt.date(2025, 2, 6))
    tx = credit("1000.00", label="FINANCIERE DU MIDI", reference="VIREMENT")
    payments_match()
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.UNRECOGNISED
    # when
    transaction_allocate(
        transaction=tx,
        allocations=[
            AllocationSpec(first.pk, Decimal("600.00")),
            AllocationSpec(second.pk, Decimal("400.00")),
        ],
        user=person,
    )
    # then: the first is paid, the second has 300.00 left, and each history shows the bank line
    refreshed(first, second, tx)
    assert (first.status, second.status) == (Status.PAID, Status.PARTIALLY_PAID)
    assert second.balance_due == Decimal("300.00")
    assert tx.match_status == MatchStatus.CONFIRMED
    assert tx.decided_by == person
    payment = InvoiceEvent.objects.get(invoice=second, kind=EventKind.PAYMENT)
    assert "400,00\xa0€ reçus le 10/04/2025" in payment.reason
    assert "virement du 10/04/2025 « FINANCIERE DU MIDI » de 1\u202f000,00\xa0€" in payment.reason
    assert "affecté par marie" in payment.reason
    assert not ClientCredit.objects.exists()


def test_a_remainder_with_no_client_to_credit_is_refused_and_nothing_is_written(person):
    # given: two invoices of two clients, and 50.00 more than they take
    a, b = issued(client("AZUR SERVICES"), "100.00"), issued(client("GOLFE AUDIT"), "100.00")
    tx = credit("250.00", label="GROUPE SUDINVEST")
    # when / then
    with pytest.raises(InputError, match="il reste 50,00\xa0€ : indiquez le client"):
        transaction_allocate(
            transaction=tx,
            allocations=[AllocationSpec(a.pk, Decimal("100.00")), AllocationSpec(b.pk, Decimal("100.00"))],
            user=person,
        )
    refreshed(a, b, tx)
    assert (a.status, b.status) == (Status.ISSUED, Status.ISSUED)
    assert not PaymentAllocation.objects.exists()
    assert not ClientCredit.objects.exists()
    assert tx.match_status == MatchStatus.UNPROCESSED


def test_the_remainder_goes_to_the_client_a_person_names(person):
    a, b = issued(client("AZUR SERVICES"), "100.00"), issued(client("GOLFE AUDIT"), "100.00")
    tx = credit("250.00", label="GROUPE SUDINVEST")
    transaction_allocate(
        transaction=tx,
        allocations=[AllocationSpec(a.pk, Decimal("100.00")), AllocationSpec(b.pk, Decimal("100.00"))],
        user=person,
        excess_client=b.client,
    )
    assert ClientCredit.objects.get(client=b.client).balance == Decimal("50.00")


def test_a_whole_credit_can_be_a_clients_advance(person):
    # given: a client pays a deposit on an order not invoiced yet
    c = client("CALANQUE AUDIT")
    tx = credit("500.00", label="CALANQUE AUDIT", reference="ACOMPTE COMMANDE")
    # when
    event = transaction_allocate(transaction=tx, allocations=[], user=person, excess_client=c)
    # then
    assert ClientCredit.objects.get(client=c).balance == Decimal("500.00")
    assert event.excess == Decimal("500.00")
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.CONFIRMED


@pytest.mark.parametrize(
    ("amount", "message"),
    [("0", "doit être positif"), ("-5", "doit être positif"), ("120.01", "dépasse le reste dû")],
)
def test_a_bad_amount_is_refused_naming_the_invoice(person, amount, message):
    inv = issued(client("AZUR SERVICES"), "120.00")
    tx = credit("500.00", label="AZUR SERVICES")
    with pytest.raises(InputError, match=message) as caught:
        transaction_allocate(
            transaction=tx, allocations=[AllocationSpec(inv.pk, Decimal(amount))], user=person
        )
    assert inv.number in str(caught.value)
    assert tx.transaction_id in str(caught.value)
    assert not PaymentAllocation.objects.exists()


def test_more_than_the_credit_is_refused(person):
    c = client("AZUR SERVICES")
    a, b = issued(c, "300.00"), issued(c, "300.00")
    tx = credit("500.00", label="AZUR SERVICES")
    with pytest.raises(InputError, match="dépassent le crédit"):
        transaction_allocate(
            transaction=tx,
            allocations=[AllocationSpec(a.pk, Decimal("300.00")), AllocationSpec(b.pk, Decimal("300.00"))],
            user=person,
        )


# --------------------------------------------------------------------------- a person's decision stays


def test_a_person_confirmed_credit_is_not_decided_again_by_the_admin_run(person):
    c = client("AZUR SERVICES")
    inv = issued(c, "300.00")
    tx = credit("300.00", label="SOMEONE", reference="VIREMENT")
    transaction_allocate(transaction=tx, allocations=[AllocationSpec(inv.pk, Decimal("300.00"))], user=person)
    # when: the run is given this credit (the admin's action on a selection)
    assert payments_match(transactions=[tx.pk]) == []
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.CONFIRMED


def test_a_decision_is_refused_on_a_credit_already_booked(person):
    inv = issued(client("AZUR SERVICES"), "300.00")
    tx = credit("300.00", label="AZUR SERVICES", reference=inv.number)
    payments_match()
    with pytest.raises(InputError, match="déjà affecté"):
        transaction_allocate(
            transaction=tx, allocations=[AllocationSpec(inv.pk, Decimal("1.00"))], user=person
        )
    with pytest.raises(InputError, match="annulez d'abord"):
        transaction_mark_no_invoice(transaction=tx, user=person)


# ------------------------------------------------------------------------------------------------ undo


def test_undoing_an_allocation_reverses_payments_takes_back_the_excess_and_is_audited(person):
    # given: a confirmed credit that paid an invoice and left 400.00 to the client
    c = client("PHARMABEST SARL")
    inv = issued(c, "600.00")
    tx = credit("1000.00", label="PHARMABEST", reference=inv.number)
    payments_match()
    suggestion_confirm(transaction=BankTransaction.objects.get(pk=tx.pk), candidate_index=0, user=person)
    # when
    event = transaction_decision_undo(transaction=tx, user=person, reason="mauvaise facture")
    # then
    refreshed(inv, tx)
    assert inv.status == Status.ISSUED
    assert inv.amount_paid == Decimal("0.00")
    reversal = InvoiceEvent.objects.get(invoice=inv, kind=EventKind.PAYMENT_REVERSED)
    assert "mauvaise facture" in reversal.reason
    assert reversal.actor == person
    assert not PaymentAllocation.objects.filter(transaction=tx).exists()
    assert ClientCredit.objects.get(client=c).balance == Decimal("0.00")
    assert ClientCreditMovement.objects.filter(kind="cancelled", transaction=tx).count() == 1
    assert (event.kind, event.from_status, event.reason) == ("undone", "confirmed", "mauvaise facture")
    assert event.allocations[0]["invoice"] == inv.number
    assert tx.match_status == MatchStatus.SUGGESTED  # its suggestions are still there to choose from
    # and a person may allocate it again
    transaction_allocate(transaction=tx, allocations=[AllocationSpec(inv.pk, Decimal("600.00"))], user=person)
    inv.refresh_from_db()
    assert inv.status == Status.PAID


def test_an_undone_machine_match_is_not_matched_again_by_the_next_run(person):
    c = client("AZUR SERVICES")
    inv = issued(c, "300.00")
    tx = credit("300.00", label="AZUR SERVICES", reference=inv.number)
    payments_match()
    transaction_decision_undo(transaction=tx, user=person, reason="c'était un remboursement")
    # when
    assert payments_match(transactions=[tx.pk]) == []
    # then
    refreshed(tx, inv)
    assert tx.match_status == MatchStatus.UNRECOGNISED
    assert inv.status == Status.ISSUED


def test_pays_no_invoice_is_undone_and_audited(person):
    tx = credit("80.00", label="DGFIP", reference="REMBOURSEMENT TVA")
    transaction_mark_no_invoice(transaction=tx, user=person, note="crédit de TVA")
    event = transaction_decision_undo(transaction=tx, user=person, reason="c'était un client")
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.UNRECOGNISED
    assert list(MatchEvent.objects.filter(transaction=tx).order_by("pk").values_list("kind", flat=True)) == [
        "no_invoice",
        "undone",
    ]
    assert event.actor == person


def test_undo_needs_a_reason_and_a_decision(person):
    tx = credit("80.00", label="INCONNU")
    with pytest.raises(InputError, match="motif"):
        transaction_decision_undo(transaction=tx, user=person, reason="  ")
    with pytest.raises(InputError, match="aucune décision à annuler"):
        transaction_decision_undo(transaction=tx, user=person, reason="pour voir")


def test_undo_is_refused_while_the_excess_is_used_on_another_invoice(person):
    c = client("PHARMABEST SARL")
    inv, later = issued(c, "600.00"), issued(c, "250.00", dt.date(2025, 4, 1))
    tx = credit("1000.00", label="PHARMABEST", reference=inv.number)
    payments_match()
    suggestion_confirm(transaction=BankTransaction.objects.get(pk=tx.pk), candidate_index=0, user=person)
    client_credit_apply(client=c, invoice=later, amount=Decimal("250.00"), actor=person)
    with pytest.raises(BusinessError, match="déjà été utilisé"):
        transaction_decision_undo(transaction=tx, user=person, reason="erreur")
    refreshed(inv, tx)
    assert inv.status == Status.PAID
    assert tx.match_status == MatchStatus.CONFIRMED


# ------------------------------------------------------------------------------------------ client credit


def test_a_client_credit_pays_a_later_invoice_then_the_rest_is_refunded(person):
    # given: 400.00 of trop-perçu
    c = client("PHARMABEST SARL")
    later = issued(c, "250.00", dt.date(2025, 5, 2))
    tx = credit("400.00", label="PHARMABEST")
    transaction_allocate(transaction=tx, allocations=[], user=person, excess_client=c)
    # when: 250.00 pay the later invoice, 150.00 go back to the client
    client_credit_apply(
        client=c, invoice=later, amount=Decimal("250.00"), actor=person, reason="accord client"
    )
    client_credit_refund(client=c, amount=Decimal("150.00"), actor=person, reason="virement du 12/05")
    # then
    later.refresh_from_db()
    assert later.status == Status.PAID
    payment = InvoiceEvent.objects.get(invoice=later, kind=EventKind.PAYMENT)
    assert "crédit du client (trop-perçu) imputé : accord client" in payment.reason
    row = ClientCredit.objects.get(client=c)
    assert row.balance == Decimal("0.00")
    assert sum(m.signed_amount for m in row.movements.all()) == Decimal("0.00")


def test_a_client_credit_never_goes_below_zero_nor_pays_another_clients_invoice(person):
    c, other = client("PHARMABEST SARL"), client("AZUR SERVICES")
    inv, foreign = issued(c, "900.00"), issued(other, "10.00")
    transaction_allocate(
        transaction=credit("100.00", label="PHARMABEST"), allocations=[], user=person, excess_client=c
    )
    with pytest.raises(InputError, match="dépasse le crédit disponible 100,00"):
        client_credit_apply(client=c, invoice=inv, amount=Decimal("100.01"), actor=person)
    with pytest.raises(InputError, match="n'est pas une facture de PHARMABEST"):
        client_credit_apply(client=c, invoice=foreign, amount=Decimal("10.00"), actor=person)
    with pytest.raises(InputError, match="motif"):
        client_credit_refund(client=c, amount=Decimal("10.00"), actor=person, reason="")
    assert ClientCredit.objects.get(client=c).balance == Decimal("100.00")


def test_using_the_credit_on_an_invoice_can_be_undone(person):
    c = client("PHARMABEST SARL")
    inv = issued(c, "80.00")
    transaction_allocate(
        transaction=credit("100.00", label="PHARMABEST"), allocations=[], user=person, excess_client=c
    )
    applied = client_credit_apply(client=c, invoice=inv, amount=Decimal("80.00"), actor=person)
    client_credit_movement_undo(movement=applied, actor=person, reason="mauvaise facture")
    inv.refresh_from_db()
    assert inv.status == Status.ISSUED
    assert ClientCredit.objects.get(client=c).balance == Decimal("100.00")
    with pytest.raises(InputError, match="déjà annulé"):
        client_credit_movement_undo(movement=applied, actor=person, reason="encore")


# ------------------------------------------------------------------------------------ the machine's match


def test_an_automatic_payment_carries_the_bank_line_in_the_invoice_history():
    c = client("PHARMABEST SARL")
    inv = issued(c, "1200.00")
    credit("1200.00", label="PHARMABEST", reference=inv.number, day=dt.date(2025, 4, 12))
    payments_match()
    payment = InvoiceEvent.objects.get(invoice=inv, kind=EventKind.PAYMENT)
    assert payment.reason == (
        "1\u202f200,00\xa0€ reçus le 12/04/2025 "
        "(virement du 12/04/2025 « PHARMABEST » de 1\u202f200,00\xa0€, rapprochement automatique)"
    )
