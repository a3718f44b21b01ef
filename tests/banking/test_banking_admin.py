"""The banking back-office: every ModelAdmin answers, suggestions are confirmed in one click."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from banking.models import (
    BalanceSnapshot,
    BankAccount,
    BankTransaction,
    MatchStatus,
    OverdueAlert,
    PayerIdentity,
    PaymentAllocation,
    WebhookEvent,
)
from banking.services.allocation import payments_match
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
    return {
        "banktransaction": tx,
        "paymentallocation": PaymentAllocation.objects.get(),
        "payeridentity": PayerIdentity.objects.get(),
        "bankaccount": account,
        "balancesnapshot": BalanceSnapshot.objects.get(),
        "webhookevent": WebhookEvent.objects.get(),
        "overduealert": OverdueAlert.objects.get(),
    }


MODELS = [
    "banktransaction",
    "paymentallocation",
    "payeridentity",
    "bankaccount",
    "balancesnapshot",
    "webhookevent",
    "overduealert",
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
