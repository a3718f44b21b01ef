"""Banking's reads for the first page, and the sync task without Qonto credentials."""

import datetime as dt
import logging
from decimal import Decimal

import pytest
from django.utils import timezone

from banking import tasks
from banking.models import BankAccount, BankTransaction, MatchStatus
from banking.selectors import bank_position, cashflow_forecast, credits_waiting
from invoicing.models.invoice import Status
from syaga.core.dates import today
from tests.factories import ClientFactory, make_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_qonto(settings):
    settings.QONTO_LOGIN = settings.QONTO_SECRET_KEY = ""
    settings.QONTO_OAUTH_CLIENT_ID = settings.QONTO_OAUTH_CLIENT_SECRET = ""


def test_never_synchronised_has_no_balance_at_all(no_qonto):
    position = bank_position()
    assert position.balance is None
    assert position.configured is False
    assert position.synced_at is None


def test_balance_of_active_accounts_and_when_they_were_written(settings):
    settings.QONTO_LOGIN, settings.QONTO_SECRET_KEY = "login", "secret"
    before = timezone.now()
    BankAccount.objects.create(qonto_id="a", balance=Decimal("100.10"))
    BankAccount.objects.create(qonto_id="b", balance=Decimal("-20.05"))
    BankAccount.objects.create(qonto_id="c", balance=Decimal("5000.00"), status="closed")
    position = bank_position()
    assert position.configured is True
    assert position.balance == Decimal("80.05")
    assert position.accounts == 2
    assert position.synced_at >= before


def test_credits_waiting_counts_suggestions_and_credits_without_invoice():
    rows = [
        ("10.00", MatchStatus.SUGGESTED, "credit"),
        ("20.50", MatchStatus.SUGGESTED, "credit"),
        ("7.00", MatchStatus.UNRECOGNISED, "credit"),
        ("99.00", MatchStatus.SUGGESTED, "debit"),
        ("1.00", MatchStatus.MATCHED, "credit"),
    ]
    for i, (amount, status, side) in enumerate(rows):
        BankTransaction.objects.create(
            qonto_id=f"x{i}", amount=Decimal(amount), side=side, match_status=status
        )
    waiting = credits_waiting()
    assert (waiting.to_confirm, waiting.to_confirm_amount) == (2, Decimal("30.50"))
    assert (waiting.unrecognised, waiting.unrecognised_amount) == (1, Decimal("7.00"))


def test_forecast_without_detail_has_the_same_totals(seller):
    t = today()
    client = ClientFactory()
    make_invoice(
        client=client, amounts=[Decimal("100.00")], status=Status.ISSUED, issue_date=t - dt.timedelta(60)
    )
    make_invoice(
        client=client, amounts=[Decimal("50.00")], status=Status.SENT, issue_date=t - dt.timedelta(45)
    )
    make_invoice(
        client=client, amounts=[Decimal("10.00")], status=Status.ISSUED, issue_date=t - dt.timedelta(20)
    )
    full, light = cashflow_forecast(on=t, days=30), cashflow_forecast(on=t, days=30, detail=False)
    assert light.overdue == []
    assert (light.overdue_total, light.overdue_count) == (Decimal("180.00"), 2)
    assert (full.overdue_total, full.overdue_count) == (Decimal("180.00"), 2)
    assert [o.balance_due for o in full.overdue] == [Decimal("120.00"), Decimal("60.00")]
    assert light.days == full.days
    assert light.total_expected == Decimal("12.00")


def test_the_sync_task_without_qonto_skips_with_one_notice_and_still_matches(no_qonto, seller, caplog):
    # given: an open invoice and an imported credit naming it, not yet matched
    invoice = make_invoice(amounts=[Decimal("100.00")], status=Status.ISSUED)
    BankTransaction.objects.create(
        qonto_id="imported-1",
        transaction_id="imported-1",
        amount=Decimal("120.00"),
        side="credit",
        label="CLIENT",
        reference=f"Facture {invoice.number}",
        settled_at=timezone.now(),
    )
    tasks._unconfigured_noticed = False
    # when: the 15-minute task runs twice
    with caplog.at_level(logging.WARNING, logger="banking.tasks"):
        first = tasks.qonto_sync_and_match()
        second = tasks.qonto_sync_and_match()
    # then: no exception, one notice, and the credit was matched all the same
    assert first.startswith(tasks.QONTO_SKIPPED)
    assert second.startswith(tasks.QONTO_SKIPPED)
    notices = [r for r in caplog.records if tasks.QONTO_SKIPPED in r.getMessage()]
    assert len(notices) == 1
    assert not any(r.exc_info for r in caplog.records)
    assert BankTransaction.objects.get(qonto_id="imported-1").match_status == MatchStatus.MATCHED
    invoice.refresh_from_db()
    assert invoice.status == Status.PAID
