"""The banking back-office: every ModelAdmin answers, suggestions are confirmed in one click."""

import csv
import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from banking.models import (
    BalanceSnapshot,
    BankAccount,
    BankTransaction,
    ClientCredit,
    MatchEvent,
    MatchStatus,
    OverdueAlert,
    PayerIdentity,
    PaymentAllocation,
    WebhookEvent,
)
from banking.services.allocation import payments_match
from banking.services.decisions import transaction_allocate
from invoicing.models import Client, Invoice
from invoicing.models.invoice import Status
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # the shared UserFactory hashes a password: PBKDF2 costs a second per user
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="boss", is_superuser=True))
    return client


def issued(c, ttc, number, issue=dt.date(2025, 3, 3)):
    ttc = Decimal(ttc)
    ht = (ttc / Decimal("1.2")).quantize(Decimal("0.01"))
    return Invoice.objects.create(
        number=number,
        series="F",
        client=c,
        status=Status.ISSUED,
        issue_date=issue,
        due_date=issue + dt.timedelta(days=30),
        total_ht=ht,
        total_vat=ttc - ht,
        total_ttc=ttc,
    )


def credit(amount, label, reference="", iban="", n=1):
    return BankTransaction.objects.create(
        qonto_id=f"q{n}",
        transaction_id=f"syaga-transaction-{n}",
        amount=Decimal(amount),
        side="credit",
        operation_type="income",
        status="completed",
        label=label,
        clean_counterparty_name=label,
        reference=reference,
        counterparty_iban=iban,
        settled_at=dt.datetime(2025, 4, 10, 9, tzinfo=PARIS),
    )


@pytest.fixture
def data():
    account = BankAccount.objects.create(qonto_id="acc-1", name="Compte principal", iban="FR7612345")
    c = Client.objects.create(name="HOTEL BELLEVUE")
    inv = issued(c, "840.00", "F20250101")
    issued(c, "840.00", "F20250102", dt.date(2025, 4, 1))
    tx = credit("840.00", "HOTEL BELLEVUE", reference=inv.number, n=1)
    tx.account = account
    tx.save()
    payments_match()
    BalanceSnapshot.objects.create(account=account, date=dt.date(2025, 4, 10), balance=Decimal("1000.00"))
    WebhookEvent.objects.create(event_id="evt-1", event_type="v2/transactions", transaction_qonto_id="q1")
    PayerIdentity.objects.create(
        client=c, name="HOTEL BELLEVUE", normalized_name="HOTEL BELLEVUE", iban="FR76111"
    )
    OverdueAlert.objects.create(
        invoice=inv, level=15, days_late=16, balance_due=Decimal("840.00"), raised_on=dt.date(2025, 5, 18)
    )
    advance = credit("100.00", "HOTEL BELLEVUE", reference="ACOMPTE", n=2)
    transaction_allocate(transaction=advance, allocations=[], user=UserFactory(), excess_client=c)
    return {
        "banktransaction": tx,
        "paymentallocation": PaymentAllocation.objects.get(),
        "payeridentity": PayerIdentity.objects.get(iban="FR76111"),
        "bankaccount": account,
        "balancesnapshot": BalanceSnapshot.objects.get(),
        "webhookevent": WebhookEvent.objects.get(),
        "overduealert": OverdueAlert.objects.get(),
        "clientcredit": ClientCredit.objects.get(),
        "matchevent": MatchEvent.objects.get(),
    }


MODELS = [
    "banktransaction",
    "paymentallocation",
    "payeridentity",
    "bankaccount",
    "balancesnapshot",
    "webhookevent",
    "overduealert",
    "clientcredit",
    "matchevent",
]


@pytest.mark.parametrize("model", MODELS)
def test_changelist_search_and_change_pages_answer(admin_client, data, model):
    url = reverse(f"admin:banking_{model}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "F20250101"}).status_code == 200
    assert (
        admin_client.get(reverse(f"admin:banking_{model}_change", args=[data[model].pk])).status_code == 200
    )
    add = admin_client.get(reverse(f"admin:banking_{model}_add"))
    assert add.status_code in (200, 403)


def test_transaction_list_filters_and_date_hierarchy_answer(admin_client, data):
    url = reverse("admin:banking_banktransaction_changelist")
    for params in (
        {"match_status__exact": "matched"},
        {"side__exact": "credit"},
        {"settled_at__year": "2025"},
    ):
        assert admin_client.get(url, params).status_code == 200
    page = admin_client.get(url, {"q": "F20250101"}).content.decode()
    assert "HOTEL BELLEVUE" in page
    assert "Paiements à confirmer" in page


def test_a_suggestion_is_confirmed_in_one_click_and_the_payer_learned(admin_client):
    # given: a parent company pays two invoices' worth for a client it is not known for
    c = Client.objects.create(name="CALANQUE AUDIT")
    inv = issued(c, "1000.00", "F20250201")
    tx = credit("1000.00", "CALANQUE AUDT", iban="FR7699999999999999999999999", n=7)
    issued(Client.objects.create(name="CALANQUE AUDITS"), "1000.00", "F20250202")
    payments_match()
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.SUGGESTED
    page = admin_client.get(reverse("admin:banking_banktransaction_suggestions")).content.decode()
    assert "F20250201" in page
    assert "Confirmer" in page
    index = next(
        i for i, cand in enumerate(tx.match_candidates) if cand["allocations"][0]["invoice"] == "F20250201"
    )
    # when
    response = admin_client.post(
        reverse("admin:banking_banktransaction_confirm", args=[tx.pk]),
        {"candidate": index, "next": reverse("admin:banking_banktransaction_suggestions")},
    )
    # then
    assert response.status_code == 302
    inv.refresh_from_db()
    assert inv.status == Status.PAID
    assert PaymentAllocation.objects.get(transaction=tx).method == "manual"
    assert PayerIdentity.objects.filter(client=c, iban="FR7699999999999999999999999").exists()
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.CONFIRMED
    assert tx.decided_by.username == "boss"


def test_confirm_is_post_only_and_the_change_page_shows_the_buttons(admin_client):
    c = Client.objects.create(name="CALANQUE AUDIT")
    issued(c, "1000.00", "F20250201")
    issued(Client.objects.create(name="CALANQUE AUDITS"), "1000.00", "F20250202")
    tx = credit("1000.00", "CALANQUE AUDT", n=8)
    payments_match()
    url = reverse("admin:banking_banktransaction_confirm", args=[tx.pk])
    assert admin_client.get(url).status_code == 405
    page = admin_client.get(reverse("admin:banking_banktransaction_change", args=[tx.pk])).content.decode()
    assert f'formaction="{url}"' in page


def test_actions_mark_no_invoice_and_run_matcher(admin_client):
    c = Client.objects.create(name="AZUR SERVICES")
    inv = issued(c, "300.00", "F20250301")
    refund = credit("12.00", "DGFIP", reference="REMBOURSEMENT", n=1)
    payment = credit("300.00", "AZUR SERVICES", reference="F20250301", n=2)
    url = reverse("admin:banking_banktransaction_changelist")
    admin_client.post(url, {"action": "mark_no_invoice", "_selected_action": [refund.pk]})
    admin_client.post(url, {"action": "run_matcher", "_selected_action": [payment.pk]})
    refund.refresh_from_db()
    payment.refresh_from_db()
    inv.refresh_from_db()
    assert refund.match_status == MatchStatus.NO_INVOICE
    assert payment.match_status == MatchStatus.MATCHED
    assert inv.status == Status.PAID


def test_overdue_alerts_are_acknowledged_by_action(admin_client, data):
    alert = data["overduealert"]
    admin_client.post(
        reverse("admin:banking_overduealert_changelist"),
        {"action": "acknowledge", "_selected_action": [alert.pk]},
    )
    alert.refresh_from_db()
    assert alert.acknowledged
    page = admin_client.get(reverse("admin:banking_overduealert_changelist"), {"level__exact": 15})
    assert page.status_code == 200


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "http://testserver.evil.example/admin/"]
)
def test_a_decision_never_sends_the_user_to_another_site(admin_client, next_url):
    # given: a forged form posting to a decision view with a `next` outside the site
    tx = credit("120.00", "REMBOURSEMENT URSSAF", n=11)
    # when
    response = admin_client.post(
        reverse("admin:banking_banktransaction_no_invoice", args=[tx.pk]),
        {"no_invoice": "1", "next": next_url},
    )
    # then: the action is done and the user lands on the transaction's own page
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:banking_banktransaction_change", args=[tx.pk])
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.NO_INVOICE


def test_a_decision_goes_back_to_a_page_of_the_site(admin_client):
    tx = credit("120.00", "REMBOURSEMENT URSSAF", n=12)
    back = reverse("admin:banking_banktransaction_suggestions") + "?p=2"
    response = admin_client.post(
        reverse("admin:banking_banktransaction_no_invoice", args=[tx.pk]), {"no_invoice": "1", "next": back}
    )
    assert response["Location"] == back


# ------------------------------------------------------------------------------------ French, 1400 px


def test_the_transactions_list_reads_in_french_with_euros_and_dates(admin_client, data):
    # given: a credit of 1,234.56 not recognised
    credit("1234.56", "SARL INCONNUE", n=3)
    payments_match()
    # when
    page = admin_client.get(reverse("admin:banking_banktransaction_changelist")).content.decode()
    # then
    for label in (
        "Rapprochement",
        "Factures",
        "Trop-perçu",
        "Montant",
        "traité le",
        "Par compte",
        "affecter…",
    ):
        assert label in page, label
    assert "1\u202f234,56\xa0€" in page
    assert "840,00\xa0€" in page
    assert "10/04/2025" in page
    assert "non reconnu" in page
    assert "rapproché automatiquement" in page
    assert "Account" not in page
    assert "Processed at" not in page
    assert "Total de la sélection : crédits" in page
    assert "2\u202f174,56\xa0€" in page  # 840.00 + 100.00 + 1,234.56


def test_a_debit_is_not_shown_as_waiting_to_be_matched(admin_client, data):
    # given: a debit (the rent), which pays no invoice of ours
    rent = credit("2150.00", "LOYER BUREAUX MARSEILLE", n=9)
    BankTransaction.objects.filter(pk=rent.pk).update(side="debit", operation_type="direct_debit")
    # when
    page = admin_client.get(reverse("admin:banking_banktransaction_changelist")).content.decode()
    # then: its row announces no work
    [row] = [row for row in page.split("<tr") if "LOYER BUREAUX MARSEILLE" in row]
    assert "débit : sans rapprochement" in row
    assert "à traiter" not in row
    assert "affecter…" not in row


def test_a_transactions_page_shows_codes_as_labels_and_reasons_in_french(admin_client, data):
    tx = data["banktransaction"]
    page = admin_client.get(reverse("admin:banking_banktransaction_change", args=[tx.pk])).content.decode()
    for label in ("Compte", "Traité le", "Date de valeur", "Référence du virement", "Type d’opération"):
        assert f">{label}" in page.replace("&#x27;", "’").replace("'", "’"), label
    assert "virement reçu" in page
    assert "effectuée" in page
    assert "la référence cite F20250101" in page
    assert "840,00\xa0€" in page
    assert "reference names" not in page
    assert 'name="_save"' not in page  # nothing to save: decisions have their own buttons


def test_the_csv_export_opens_in_french_excel(admin_client, data):
    # given
    credit("1234.56", '=HYPERLINK("http://x")', n=3)
    # when
    response = admin_client.get(reverse("admin:banking_banktransaction_export"), {"side__exact": "credit"})
    body = b"".join(response.streaming_content).decode("utf-8")
    # then: UTF-8 with a byte-order mark, semicolons, decimal commas, dd/mm/yyyy, labels not codes
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert body.startswith("\ufeffDate de valeur;Compte;Sens;Montant;")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert len(rows) == 4
    by_amount = {row[3]: row for row in rows[1:]}
    assert set(by_amount) == {"840,00", "100,00", "1234,56"}
    assert by_amount["840,00"][0] == "10/04/2025"
    assert by_amount["840,00"][10] == "rapproché automatiquement"
    assert by_amount["840,00"][11] == "F20250101"
    assert by_amount["840,00"][8] == "virement reçu"
    assert by_amount["100,00"][12] == "100,00"
    assert by_amount["1234,56"][4] == '\'=HYPERLINK("http://x")'  # read as text, never run as a formula


# ------------------------------------------------------------------------------------ decisions by hand


def test_a_credit_is_allocated_by_hand_on_its_page_and_the_rest_credited(admin_client):
    # given: 1,000.00 from nobody known; the client has two open invoices
    c = Client.objects.create(name="HOTEL BELLEVUE")
    first, second = issued(c, "600.00", "F20250401"), issued(c, "300.00", "F20250402", dt.date(2025, 4, 1))
    tx = credit("1000.00", "FINANCIERE DU MIDI", n=4)
    payments_match()
    url = reverse("admin:banking_banktransaction_allocate", args=[tx.pk])
    page = admin_client.get(url, {"client": c.pk}).content.decode()
    assert "F20250401" in page
    assert "F20250402" in page
    # when: 600,00 and 300,00 typed the French way
    response = admin_client.post(
        f"{url}?client={c.pk}",
        {
            "client": c.pk,
            f"amount_{first.pk}": "600,00",
            f"amount_{second.pk}": "300",
            "note": "appel du client",
        },
    )
    # then
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.PAID, Status.PAID)
    assert ClientCredit.objects.get(client=c).balance == Decimal("100.00")
    tx.refresh_from_db()
    assert tx.match_status == MatchStatus.CONFIRMED
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("100,00\xa0€ portés au crédit de HOTEL BELLEVUE" in m for m in messages)


def test_a_bad_amount_on_the_allocation_page_is_shown_and_nothing_written(admin_client):
    c = Client.objects.create(name="HOTEL BELLEVUE")
    inv = issued(c, "600.00", "F20250401")
    tx = credit("1000.00", "FINANCIERE DU MIDI", n=4)
    url = reverse("admin:banking_banktransaction_allocate", args=[tx.pk])
    response = admin_client.post(url, {"client": c.pk, f"amount_{inv.pk}": "six cents"})
    assert response.status_code == 200
    assert "« six cents » n&#x27;est pas un montant" in response.content.decode()
    response = admin_client.post(url, {"client": c.pk, f"amount_{inv.pk}": "700"})
    assert "dépasse le reste dû de F20250401" in response.content.decode()
    assert not PaymentAllocation.objects.exists()


def test_a_decision_is_undone_from_the_transactions_page(admin_client, data):
    tx = data["banktransaction"]
    inv = Invoice.objects.get(number="F20250101")
    response = admin_client.post(
        reverse("admin:banking_banktransaction_undo", args=[tx.pk]), {"undo_reason": "pas ce client"}
    )
    assert response.status_code == 302
    tx.refresh_from_db()
    inv.refresh_from_db()
    assert tx.match_status == MatchStatus.UNRECOGNISED
    assert inv.status == Status.ISSUED
    assert MatchEvent.objects.filter(transaction=tx, kind="undone", reason="pas ce client").exists()


def test_a_clients_credit_is_used_on_an_invoice_from_its_page(admin_client, data):
    credit_row = data["clientcredit"]
    inv = Invoice.objects.get(number="F20250102")
    page = admin_client.get(
        reverse("admin:banking_clientcredit_change", args=[credit_row.pk])
    ).content.decode()
    assert "100,00\xa0€" in page
    assert "trop-perçu reçu" in page
    response = admin_client.post(
        reverse("admin:banking_clientcredit_apply", args=[credit_row.pk]),
        {"apply-invoice": inv.pk, "apply-amount": "100,00"},
    )
    assert response.status_code == 302
    credit_row.refresh_from_db()
    inv.refresh_from_db()
    assert credit_row.balance == Decimal("0.00")
    assert inv.status == Status.PARTIALLY_PAID
