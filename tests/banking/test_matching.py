"""The payment matcher: one test per case of the issue, then precision and recall on a labelled set."""

import datetime as dt
import json
import re
from collections import defaultdict
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from stdnum import iso11649

from banking.models import BankTransaction, ClientCredit, MatchStatus, PayerIdentity, PaymentAllocation
from banking.services import verdicts
from banking.services.allocation import payments_match
from banking.services.decisions import (
    AllocationSpec,
    suggestion_confirm,
    transaction_allocate,
    transaction_mark_no_invoice,
)
from banking.services.matching import ClientSnapshot, CreditSnapshot, Matcher, OpenInvoice
from banking.services.reading import find_invoice_numbers, invoice_rf_reference
from banking.services.reasons import TEXTS, reason_text, reasons_text
from invoicing.models import Client, ClientAlias, Invoice
from invoicing.models.invoice import Status
from syaga.core.errors import InputError
from tests.banking import labelled
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # the shared UserFactory hashes a password: PBKDF2 costs a second per user
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


PARIS = ZoneInfo("Europe/Paris")
_seq = defaultdict(int)


def client(name, *aliases):
    c = Client.objects.create(name=name)
    for alias in aliases:
        ClientAlias.objects.create(client=c, name=alias)
    return c


def issued(c, ttc, issue=dt.date(2025, 3, 3), number=None):
    """An issued invoice, as the history import stores it."""
    _seq[issue.year] += 1
    ttc = Decimal(ttc)
    ht = (ttc / Decimal("1.2")).quantize(Decimal("0.01"))
    return Invoice.objects.create(
        number=number or f"F{issue.year}{_seq[issue.year] + 100:04d}",
        series="F",
        client=c,
        status=Status.ISSUED,
        issue_date=issue,
        due_date=issue + dt.timedelta(days=30),
        total_ht=ht,
        total_vat=ttc - ht,
        total_ttc=ttc,
    )


def credit(amount, *, label="", reference="", iban="", day=dt.date(2025, 4, 10)):
    n = BankTransaction.objects.count() + 1
    return BankTransaction.objects.create(
        qonto_id=f"q{n}",
        transaction_id=f"syaga-transaction-{n}",
        amount=Decimal(amount),
        side="credit",
        status="completed",
        label=label,
        clean_counterparty_name=label,
        reference=reference,
        counterparty_iban=iban,
        settled_at=dt.datetime.combine(day, dt.time(9), tzinfo=PARIS),
    )


def run():
    return {r.transaction_id: r for r in payments_match()}


def paid(result):
    return [(a["invoice"], a["amount"]) for a in result.allocations]


# ------------------------------------------------------------------------------------------- references


def test_rf_reference_is_iso_11649_of_the_invoice_number():
    # when
    rf = invoice_rf_reference("F20250012")
    # then
    assert rf == "RF55F20250012"
    assert iso11649.is_valid(rf)


@pytest.mark.parametrize(
    "text",
    [
        "F20250012",
        "F 2025 0012",
        "F2025-0012",
        "FACT 20250012",
        "facture n° F20250012",
        "f20250012",
        "VIR SEPA /REF F20250012/ACME",
        "Règlement facture F2025-0012 merci",
        "F2025.0012",
        "F2025_0012",
        "FACTURE F2025 12",
        "Fact.N°F20250012",
    ],
)
def test_invoice_number_is_read_in_every_spelling(text):
    # when
    found = find_invoice_numbers(text, {"F20250012", "F20250001"})
    # then
    assert found == [("F20250012", True)]


def test_a_shorter_number_does_not_match_inside_a_longer_one_and_bare_digits_are_weak():
    known = {"F20250012", "F20250001"}
    assert find_invoice_numbers("F2025-00123", known) == []
    assert find_invoice_numbers("VIR DU 20250012", known) == [("F20250012", False)]
    assert find_invoice_numbers("F20250099", known) == []  # not one of ours


def test_reference_names_the_invoice_exact_amount_is_applied_and_the_invoice_paid():
    # given
    c = client("PHARMABEST SARL")
    inv = issued(c, "1200.00")
    tx = credit(
        "1200.00",
        label="PHARMABEST",
        reference=f"facture n° {inv.number[:5]}-{inv.number[5:]}",
        day=dt.date(2025, 4, 12),
    )
    # when
    result = run()[tx.transaction_id]
    # then
    assert result.status == "matched"
    assert paid(result) == [(inv.number, "1200.00")]
    assert {"code": "ref_invoice", "invoice": inv.number} in result.reasons
    assert f"la référence cite {inv.number}" in reasons_text(result.reasons)
    inv.refresh_from_db()
    assert inv.status == Status.PAID
    assert inv.amount_paid == Decimal("1200.00")
    assert inv.paid_date == dt.date(2025, 4, 12)
    alloc = PaymentAllocation.objects.get(transaction=tx)
    assert alloc.method == "auto"
    assert alloc.reasons
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.MATCHED
    assert tx.match_score >= 90


def test_rf_reference_pays_the_invoice():
    c = client("AZUR SERVICES")
    inv = issued(c, "480.00")
    rf = invoice_rf_reference(inv.number)
    tx = credit(
        "480.00", label="AZUR SERVICES SAS", reference=" ".join(rf[i : i + 4] for i in range(0, len(rf), 4))
    )
    result = run()[tx.transaction_id]
    assert result.status == "matched"
    assert paid(result) == [(inv.number, "480.00")]


def test_accountant_paying_for_the_client_with_the_invoice_named_is_applied():
    c = client("BOULANGERIE MARIUS")
    inv = issued(c, "356.40")
    tx = credit("356.40", label="CABINET FIDUCIAIRE DUVAL", reference=f"{inv.number} MARIUS")
    result = run()[tx.transaction_id]
    assert result.status == "matched"
    assert paid(result) == [(inv.number, "356.40")]


def test_one_transfer_naming_several_invoices_pays_them_all():
    c = client("GARAGE DU CENTRE")
    a, b = issued(c, "100.00"), issued(c, "250.50")
    tx = credit("350.50", label="GARAGE DU CENTRE", reference=f"FACTURES {a.number} + {b.number}")
    result = run()[tx.transaction_id]
    assert result.status == "matched"
    assert sorted(paid(result)) == sorted([(a.number, "100.00"), (b.number, "250.50")])


# ------------------------------------------------------------------------------------------------ payer


def test_client_name_as_the_bank_writes_it_without_reference_pays_the_matching_invoice():
    c = client("Société Nouvelle des Transports Méditerranéens")
    issued(c, "900.00", dt.date(2025, 1, 6))
    inv = issued(c, "1534.27", dt.date(2025, 2, 6))
    tx = credit("1534.27", label="STE NOUVELLE DES TRANSPORTS MEDITERRANEENS SARL", reference="VIREMENT")
    result = run()[tx.transaction_id]
    assert result.status == "matched"
    assert paid(result) == [(inv.number, "1534.27")]


def test_best_and_pharmabest_are_told_apart():
    best, pharma = client("BEST SARL"), client("PHARMABEST SARL")
    inv_best, inv_pharma = issued(best, "700.00"), issued(pharma, "700.00")
    tx_best = credit("700.00", label="STE BEST")
    tx_pharma = credit("700.00", label="PHARMA BEST SAS")
    results = run()
    assert paid(results[tx_best.transaction_id]) == [(inv_best.number, "700.00")]
    assert paid(results[tx_pharma.transaction_id]) == [(inv_pharma.number, "700.00")]


def test_a_letter_missing_between_two_near_identical_clients_is_only_suggested():
    a, b = client("ALPHA CONSEIL"), client("ALPHA CONSEILS")
    issued(a, "600.00")
    issued(b, "600.00")
    tx = credit("600.00", label="ALPHA CONSIL")
    result = run()[tx.transaction_id]
    assert result.status == "suggested"
    assert not PaymentAllocation.objects.exists()


def test_a_letter_missing_in_a_distinct_name_is_still_recognised():
    c = client("VENTOUX LOGISTIQUE SAS")
    inv = issued(c, "2210.00")
    tx = credit("2210.00", label="VENTUX LOGISTIQUE")
    result = run()[tx.transaction_id]
    assert result.status == "matched"
    assert paid(result) == [(inv.number, "2210.00")]


def test_alias_recorded_on_the_client_identifies_the_payer():
    c = client("Les Jardins de Provence SCI", "GROUPE JARDINS HOLDING")
    inv = issued(c, "3000.00")
    tx = credit("3000.00", label="GROUPE JARDINS HOLDING")
    assert paid(run()[tx.transaction_id]) == [(inv.number, "3000.00")]


def test_confirming_a_suggestion_teaches_the_payer_iban_and_name():
    # given: a parent company pays without reference: only a suggestion
    c = client("HOTEL BELLEVUE")
    first, second = issued(c, "840.00", dt.date(2025, 1, 6)), issued(c, "910.00", dt.date(2025, 2, 6))
    iban = "FR7630004000031234567890143"
    tx = credit("840.00", label="FINANCIERE DU MIDI", iban=iban)
    assert run()[tx.transaction_id].status == "unrecognised"
    tx.match_status = MatchStatus.SUGGESTED
    tx.match_candidates = [
        {
            "allocations": [{"invoice_id": first.pk, "invoice": first.number, "amount": "840.00"}],
            "score": 40,
            "reasons": ["by hand"],
        }
    ]
    tx.save()
    # when: a person confirms it
    user = UserFactory()
    suggestion_confirm(transaction=tx, candidate_index=0, user=user)
    # then: the next transfer from that IBAN is matched on its own
    assert PayerIdentity.objects.filter(client=c, iban=iban).exists()
    first.refresh_from_db()
    assert first.status == Status.PAID
    assert PaymentAllocation.objects.get(transaction=tx).created_by == user
    later = credit("910.00", label="FINANCIERE DU MIDI SA", iban=iban, day=dt.date(2025, 5, 2))
    result = run()[later.transaction_id]
    assert result.status == "matched"
    assert paid(result) == [(second.number, "910.00")]
    assert any(r["code"] == "payer_iban" for r in result.reasons)


# ----------------------------------------------------------------------------------------------- amount


def test_one_transfer_for_several_invoices_finds_the_combination():
    c = client("MISTRAL AUDIT")
    a = issued(c, "1200.00", dt.date(2025, 1, 6))
    b = issued(c, "345.60", dt.date(2025, 2, 6))
    issued(c, "980.00", dt.date(2025, 3, 6))
    tx = credit("1545.60", label="MISTRAL AUDIT SARL")
    result = run()[tx.transaction_id]
    assert result.status == "matched"
    assert sorted(paid(result)) == sorted([(a.number, "1200.00"), (b.number, "345.60")])


def test_equal_amounts_without_reference_pay_the_oldest_first():
    c = client("CAMARGUE CONSEIL")
    old = issued(c, "600.00", dt.date(2025, 1, 6))
    issued(c, "600.00", dt.date(2025, 2, 6))
    tx = credit("600.00", label="CAMARGUE CONSEIL")
    result = run()[tx.transaction_id]
    assert paid(result) == [(old.number, "600.00")]
    assert {"code": "fit_oldest_first"} in result.reasons


def test_instalments_leave_the_rest_open_then_pay_it():
    c = client("AXE IMMOBILIER")
    inv = issued(c, "3000.00")
    first = credit("1000.00", label="AXE IMMOBILIER", reference=f"ECHEANCE 1/3 {inv.number}")
    run()
    inv.refresh_from_db()
    assert inv.status == Status.PARTIALLY_PAID
    assert inv.amount_paid == Decimal("1000.00")
    assert PaymentAllocation.objects.get(transaction=first).amount == Decimal("1000.00")
    rest = credit("2000.00", label="AXE IMMOBILIER", reference=inv.number, day=dt.date(2025, 5, 10))
    assert run()[rest.transaction_id].status == "matched"
    inv.refresh_from_db()
    assert inv.status == Status.PAID
    assert inv.amount_paid == Decimal("3000.00")


def test_bank_fee_shortfall_is_written_off_by_default(settings):
    c = client("PHOCEA EXPERTISE")
    inv = issued(c, "1500.00")
    tx = credit("1498.50", label="PHOCEA EXPERTISE", reference=inv.number)
    result = run()[tx.transaction_id]
    assert result.status == "matched"
    alloc = PaymentAllocation.objects.get(transaction=tx)
    assert alloc.amount == Decimal("1498.50")
    assert alloc.write_off == Decimal("1.50")
    inv.refresh_from_db()
    assert inv.status == Status.PAID


def test_bank_fee_shortfall_can_be_left_open_by_setting(settings):
    settings.MATCHING_FEE_POLICY = "leave_open"
    c = client("PHOCEA EXPERTISE")
    inv = issued(c, "1500.00")
    credit("1498.50", label="PHOCEA EXPERTISE", reference=inv.number)
    run()
    inv.refresh_from_db()
    assert inv.status == Status.PARTIALLY_PAID
    assert inv.balance_due == Decimal("1.50")


def test_a_shortfall_beyond_the_tolerance_is_not_taken_for_fees(settings):
    settings.MATCHING_FEE_TOLERANCE = "1.00"
    c = client("GOLFE NETTOYAGE")
    inv = issued(c, "200.00")
    tx = credit("198.00", label="GOLFE NETTOYAGE")
    result = run()[tx.transaction_id]
    assert result.status == "suggested"
    inv.refresh_from_db()
    assert inv.status == Status.ISSUED


def test_small_overpayment_pays_the_invoice_and_the_excess_becomes_a_client_credit():
    # given
    c = client("LUBERON SERVICES")
    inv = issued(c, "720.00")
    tx = credit("720.30", label="LUBERON SERVICES", reference=inv.number)
    # when
    result = run()[tx.transaction_id]
    # then: nothing is dropped, the 0.30 is the client's
    assert result.status == "matched"
    assert paid(result) == [(inv.number, "720.00")]
    assert "0,30\xa0€ de trop, portés au crédit du client (trop-perçu)" in reasons_text(result.reasons)
    assert ClientCredit.objects.get(client=c).balance == Decimal("0.30")
    assert ClientCredit.objects.get(client=c).movements.get().transaction_id == tx.pk


# -------------------------------------------------------------------------------------- no invoice paid


@pytest.mark.parametrize(
    ("label", "reference"),
    [
        ("DGFIP", "REMBOURSEMENT CREDIT TVA"),
        ("QONTO", "INTERETS CREDITEURS"),
        ("SYAGA CONSULTING", "APPORT CAPITAL"),
        ("M JEAN MARTIN", "remboursement frais"),
        ("CARTE X4521 REMB", "REMBOURSEMENT CARTE LDLC"),
    ],
)
def test_credits_that_pay_no_invoice_stay_unmatched_even_with_an_invoice_amount(label, reference):
    c = client("MARTIN")
    inv = issued(c, "450.00")
    tx = credit("450.00", label=label, reference=reference)
    result = run()[tx.transaction_id]
    assert result.status in ("unrecognised", "suggested")
    inv.refresh_from_db()
    assert inv.status == Status.ISSUED
    assert not PaymentAllocation.objects.exists()


def test_a_reference_to_another_clients_invoice_from_a_known_payer_is_only_suggested():
    a, b = client("ESTEREL BATIMENT"), client("ALPILLES PLOMBERIE")
    issued(a, "1000.00")
    other = issued(b, "1000.00")
    iban = "FR7611111111111111111111111"
    PayerIdentity.objects.create(client=a, iban=iban)
    tx = credit("1000.00", label="ESTEREL BATIMENT", reference=other.number, iban=iban)
    assert run()[tx.transaction_id].status == "suggested"


# --------------------------------------------------------------------------------- services and command


def test_dry_run_decides_without_writing():
    c = client("AZUR INFORMATIQUE")
    inv = issued(c, "100.00")
    tx = credit("100.00", label="AZUR INFORMATIQUE", reference=inv.number)
    results = payments_match(dry_run=True)
    assert results[0].status == "matched"
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.UNPROCESSED
    assert not PaymentAllocation.objects.exists()


def test_command_prints_the_json_contract():
    c = client("AZUR INFORMATIQUE")
    inv = issued(c, "100.00")
    tx = credit("100.00", label="AZUR INFORMATIQUE", reference=inv.number)
    credit("12.34", label="QONTO", reference="INTERETS")
    out = StringIO()
    call_command("match_payments", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert rows[0] == {
        "transaction_id": tx.transaction_id,
        "status": "matched",
        "allocations": [{"invoice": inv.number, "amount": "100.00"}],
        "client_credit": "0.00",
        "score": rows[0]["score"],
        "reasons": rows[0]["reasons"],
    }
    assert 0 <= rows[0]["score"] <= 100
    assert f"la référence cite {inv.number}" in rows[0]["reasons"]
    assert rows[1]["status"] == "unrecognised"
    # a second run finds nothing left to do
    out = StringIO()
    call_command("match_payments", "--json", stdout=out)
    assert json.loads(out.getvalue()) == []


def test_an_allocation_above_the_balance_is_refused_and_writes_nothing():
    c = client("AZUR INFORMATIQUE")
    inv = issued(c, "100.00")
    tx = credit("150.00", label="AZUR INFORMATIQUE")
    with pytest.raises(InputError, match=f"dépasse le reste dû de {inv.number}"):
        transaction_allocate(
            transaction=tx,
            allocations=[AllocationSpec(invoice_id=inv.pk, amount=Decimal("150.00"))],
            user=UserFactory(),
        )
    assert not PaymentAllocation.objects.exists()
    assert not ClientCredit.objects.exists()
    inv.refresh_from_db()
    assert inv.status == Status.ISSUED


def test_pays_no_invoice_is_kept_by_the_next_run_even_when_the_credit_is_given_to_it():
    # given: a person says this credit pays no invoice, though its amount is an open invoice's
    c = client("AZUR INFORMATIQUE")
    inv = issued(c, "80.00")
    tx = credit("80.00", label="AZUR INFORMATIQUE", reference=inv.number)
    transaction_mark_no_invoice(transaction=tx, user=UserFactory())
    # when: the scheduled run, then the admin's run on this very credit
    assert payments_match() == []
    assert payments_match(transactions=[tx.pk]) == []
    # then
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.NO_INVOICE
    inv.refresh_from_db()
    assert inv.status == Status.ISSUED


# ------------------------------------------------------------------------------------------ labelled set


def _labelled_run(seed, weights=None):
    """Week by week: the matcher runs, then a person allocates each credit it left with the truth."""
    data = labelled.generate(seed, weights=weights)
    txs = labelled.load_into_db(data)
    user = UserFactory()
    by_day = defaultdict(list)
    for c in data.credits:
        by_day[c.settled_on.isocalendar()[:2]].append(c)
    numbers = dict(Invoice.objects.values_list("number", "pk"))
    results = []
    for day in sorted(by_day):
        day_results = {
            r.transaction_id: r for r in payments_match(transactions=[txs[c.id] for c in by_day[day]])
        }
        results.extend(day_results.values())
        for c in by_day[day]:
            if day_results[c.transaction_id].status != "matched" and c.expected:
                specs = []
                for number, cents in c.expected:
                    amount = Decimal(cents) / 100
                    balance = Invoice.objects.get(pk=numbers[number]).balance_due
                    write_off = balance - amount if c.case in labelled.FEE_CASES else Decimal("0.00")
                    specs.append(
                        AllocationSpec(invoice_id=numbers[number], amount=amount, write_off=write_off)
                    )
                transaction_allocate(transaction=txs[c.id], allocations=specs, user=user)
    return labelled.score(data, results)


@pytest.mark.parametrize(
    ("seed", "weights"),
    [
        (1, None),
        (20261121, None),
        # the issue's unseen set: references listing every invoice paid, overpayments by known payers
        (1, labelled.CASE_WEIGHTS_V2),
        (20261121, labelled.CASE_WEIGHTS_V2),
        # never tuned on: looked at once, when the matcher was done
        (31415, labelled.CASE_WEIGHTS),
        (31415, labelled.CASE_WEIGHTS_V2),
    ],
    ids=["v1-1", "v1-20261121", "v2-1", "v2-20261121", "holdout-v1-31415", "holdout-v2-31415"],
)
def test_labelled_set_precision_and_recall(seed, weights):
    # when
    s = _labelled_run(seed, weights)
    # then
    print(
        f"\nseed {seed}: {s['credits']} credits, {s['paying']} pay invoices; automatic {s['auto']}, "
        f"right {s['auto_right']}: precision {s['precision']:.2%}, recall {s['recall']:.2%}"
    )
    for case, (total, auto, right) in sorted(s["per_case"].items()):
        print(f"  {case:24} {total:4} credits, {auto:4} automatic, {right:4} right")
    assert not s["wrong"], [(c.case, c.label, c.reference, c.expected, r.allocations) for c, r in s["wrong"]]
    assert s["precision"] >= 0.995
    assert s["recall"] >= 0.95
    assert {"non_invoice", "double_payment"} <= set(s["per_case"])
    assert s["per_case"]["non_invoice"][1] == 0


def test_a_name_cut_by_the_bank_is_recognised():
    c = client("Société Nouvelle des Transports Méditerranéens")
    inv = issued(c, "777.70")
    tx = credit("777.70", label="SOCIETE NOUVELLE DES TRANSPORTS")
    result = run()[tx.transaction_id]
    assert result.status == "matched"
    assert paid(result) == [(inv.number, "777.70")]


def test_bare_digits_that_look_like_a_number_do_not_pick_the_invoice():
    # given: three monthly invoices of 600.00; the client writes its purchase order, like the third
    c = client("VIEUX PORT RESTAURATION")
    oldest = issued(c, "600.00", dt.date(2025, 1, 6), number="F20250007")
    issued(c, "600.00", dt.date(2025, 2, 6), number="F20250031")
    issued(c, "600.00", dt.date(2025, 3, 6), number="F20250078")
    tx = credit("600.00", label="VIEUX PORT RESTAURATION", reference="BC 2025-0078")
    # when
    result = run()[tx.transaction_id]
    # then: the oldest is paid, as without a reference
    assert paid(result) == [(oldest.number, "600.00")]


def test_two_open_invoices_close_to_the_amount_make_a_suggestion():
    c = client("MISTRAL SERVICES")
    issued(c, "900.00", dt.date(2025, 1, 6))
    issued(c, "931.30", dt.date(2025, 2, 6))
    tx = credit("903.36", label="MISTRAL SERVICES")
    result = run()[tx.transaction_id]
    assert result.status == "suggested"
    tx.refresh_from_db()
    assert len(tx.match_candidates) == 2


def test_a_first_partial_payment_without_reference_is_only_suggested():
    # a deposit on an order not invoiced yet looks the same
    c = client("CALANQUE AUDIT")
    issued(c, "1500.00")
    tx = credit("750.00", label="CALANQUE AUDIT", reference="ACOMPTE")
    assert run()[tx.transaction_id].status == "suggested"


def test_command_dry_run_reports_counts_and_writes_nothing():
    c = client("AZUR INFORMATIQUE")
    inv = issued(c, "100.00")
    tx = credit("100.00", label="AZUR INFORMATIQUE", reference=inv.number)
    out = StringIO()
    call_command("match_payments", "--dry-run", stdout=out)
    assert "[essai] 1 crédit(s) : 1 rapproché(s), 0 suggéré(s), 0 non reconnu(s)" in out.getvalue()
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.UNPROCESSED


# ------------------------------------------------------------ the issue's unseen set: what went to a person


@pytest.mark.parametrize(
    "reference",
    [
        "{a} {b} {c}",  # bare digits only, an accountant paying
        "FACT {A} {b} {c}",  # the first with its F, the others bare
        "FACTURES {Y}-{sa}/{sb}/{sc}",  # one prefix, then the sequence numbers
        "F{Y}-{sa} ET {sb} ET {sc}",
    ],
)
def test_a_reference_listing_every_invoice_paid_with_the_exact_total_is_applied(reference):
    # given: three monthly invoices of 600.00 (any two of them add up the same) and a fourth
    c = client("VIEUX PORT RESTAURATION")
    invs = [issued(c, "600.00", dt.date(2025, m, 6)) for m in (1, 2, 3)] + [issued(c, "480.00")]
    a, b, d = invs[0], invs[2], invs[3]
    text = reference.format(
        A=a.number,
        a=a.number[1:],
        b=b.number[1:],
        c=d.number[1:],
        Y=a.number[1:5],
        sa=a.number[5:],
        sb=b.number[5:],
        sc=d.number[5:],
    )
    tx = credit("1680.00", label="CABINET FIDUCIAIRE DUVAL", reference=text)
    # when
    result = run()[tx.transaction_id]
    # then: exactly the listed ones, not the oldest two of 600.00
    assert result.status == "matched", text
    assert sorted(paid(result)) == sorted([(a.number, "600.00"), (b.number, "600.00"), (d.number, "480.00")])
    assert result.reasons[0]["code"] == "ref_listed"


def test_bare_digits_listing_invoices_that_do_not_add_up_are_only_suggested():
    c = client("VIEUX PORT RESTAURATION")
    a, b = issued(c, "600.00"), issued(c, "480.00")
    tx = credit("1000.00", label="CABINET FIDUCIAIRE DUVAL", reference=f"{a.number[1:]} {b.number[1:]}")
    assert run()[tx.transaction_id].status == "suggested"
    assert not PaymentAllocation.objects.exists()


def test_an_overpayment_of_a_named_invoice_by_a_known_payer_is_applied_and_the_excess_credited():
    # given: the client rounds 1,234.56 up to 1,250.00 and names the invoice
    c = client("LUBERON SERVICES")
    inv = issued(c, "1234.56")
    tx = credit("1250.00", label="LUBERON SERVICES SAS", reference=f"FACTURE {inv.number}")
    # when
    result = run()[tx.transaction_id]
    # then
    assert result.status == "matched"
    assert paid(result) == [(inv.number, "1234.56")]
    assert result.excess == "15.44"
    assert ClientCredit.objects.get(client=c).balance == Decimal("15.44")
    inv.refresh_from_db()
    assert inv.status == Status.PAID


def test_an_overpayment_beyond_the_limit_or_from_an_unknown_payer_is_only_suggested(settings):
    c = client("LUBERON SERVICES")
    first, second = issued(c, "1000.00"), issued(c, "500.00")
    too_much = credit("1060.00", label="LUBERON SERVICES", reference=first.number)
    stranger = credit("520.00", label="FIDAL GESTION", reference=second.number)
    results = run()
    assert results[too_much.transaction_id].status == "suggested"
    assert results[stranger.transaction_id].status == "suggested"
    assert not ClientCredit.objects.exists()


def test_the_overpayment_limit_is_a_setting(settings):
    settings.MATCHING_NAMED_OVERPAYMENT_LIMIT = "100.00"
    c = client("LUBERON SERVICES")
    inv = issued(c, "1000.00")
    tx = credit("1060.00", label="LUBERON SERVICES", reference=inv.number)
    assert run()[tx.transaction_id].status == "matched"
    assert ClientCredit.objects.get(client=c).balance == Decimal("60.00")


def test_a_bad_threshold_setting_names_the_setting(settings):
    settings.MATCHING_NAMED_OVERPAYMENT_LIMIT = "beaucoup"
    credit("10.00", label="X")
    with pytest.raises(InputError, match=r"settings\.MATCHING_NAMED_OVERPAYMENT_LIMIT"):
        payments_match()


# -------------------------------------------------------------------------------------- the verdict table


def test_automatic_rows_score_at_least_80_suggestions_less_and_every_row_says_why_in_french():
    for row in verdicts.VERDICTS:
        if row.verdict == verdicts.Verdict.MATCHED:
            assert row.score >= verdicts.AUTOMATIC_MIN_SCORE, row.code
        else:
            assert row.score < verdicts.AUTOMATIC_MIN_SCORE, row.code
        assert row.why[0].islower(), row.code
        assert " the " not in row.why, row.code
    assert verdicts.VERDICTS[-1].holds(verdicts.Ref.NONE, verdicts.Payer.THIRD, verdicts.Fit.NONE)
    assert len({row.code for row in verdicts.VERDICTS}) == len(verdicts.VERDICTS)


def test_a_named_invoice_never_decides_when_the_payer_is_certainly_another_client():
    row = verdicts.verdict_for(verdicts.Ref.NAMED, verdicts.Payer.OTHER, verdicts.Fit.EXACT)
    assert row.verdict == verdicts.Verdict.SUGGESTED


@pytest.mark.parametrize("weights", [None, labelled.CASE_WEIGHTS_V2])
def test_every_reason_the_matcher_gives_reads_as_a_french_sentence(weights):
    # given: every decision of a labelled set, in memory
    data = labelled.generate(3, weights=weights)
    matcher = Matcher(
        invoices=[
            OpenInvoice(i.id, i.number, i.client_id, i.total_cents, i.issue_date, i.due_date, i.total_cents)
            for i in data.invoices
        ],
        clients=[ClientSnapshot(c.id, c.name, list(c.aliases)) for c in data.clients],
        payer_ibans=data.payer_ibans,
        closed_numbers=data.closed_numbers,
    )
    decisions = matcher.run(
        [
            CreditSnapshot(
                c.id, c.transaction_id, c.amount_cents, c.label, c.counterparty, c.reference, "", c.iban
            )
            for c in data.credits
        ]
    )
    stored = [r for d in decisions for r in [*d.reasons, *(x for cand in d.candidates for x in cand.reasons)]]
    # then: each is a known code rendered with its values, never the bare code nor English
    codes = {r["code"] for r in stored}
    assert codes <= set(TEXTS) | set(verdicts.VERDICT_TEXTS)
    for text in {reason_text(r) for r in stored}:
        assert text not in codes
        assert "{" not in text
        assert not any(word in text.split() for word in ("the", "payer", "amount", "invoice")), text


# ------------------------------------------------------------------------------------ what the run touches


def test_the_run_never_reads_qontos_raw_object_and_writes_only_the_match_columns():
    c = client("AZUR INFORMATIQUE")
    inv = issued(c, "100.00")
    credit("100.00", label="AZUR INFORMATIQUE", reference=inv.number)
    credit("12.34", label="QONTO", reference="INTERETS")
    with CaptureQueriesContext(connection) as queries:
        payments_match()
    table = BankTransaction._meta.db_table
    touching = [q["sql"] for q in queries.captured_queries if table in q["sql"]]
    assert touching
    assert not [sql for sql in touching if '"raw"' in sql or ".raw" in sql]
    # executemany is logged as "<n> times: UPDATE …"
    updates = [sql for sql in touching if re.match(r"(\d+ times: )?UPDATE", sql)]
    assert updates
    for sql in updates:
        assigned = set(re.findall(r'"(\w+)" = ', re.split(r" FROM | WHERE ", sql.split(" SET ", 1)[1])[0]))
        assert assigned == {
            "match_status",
            "match_score",
            "match_reasons",
            "match_candidates",
            "processed_at",
            "updated_at",
        }
