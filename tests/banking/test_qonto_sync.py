import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from banking.clients.qonto import QontoError, client_from_settings
from banking.models import BalanceSnapshot, BankAccount, BankTransaction, MatchStatus, WebhookEvent
from banking.services.qonto_sync import (
    balances_snapshot,
    qonto_sync,
    transaction_refetch,
    transactions_import,
)
from tests.banking.qonto_stub import MAIN_ACCOUNT, SAVINGS_ACCOUNT, QontoStub, iso

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
MARCH = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def qonto(httpserver, settings):
    stub = QontoStub(httpserver)
    stub.configure(settings)
    return stub


def test_first_sync_stores_accounts_with_balances_and_every_transaction(qonto):
    # given
    paid = qonto.add(cents=120000, updated=MARCH)
    qonto.add(status="pending", updated=MARCH + dt.timedelta(hours=1))
    qonto.add(
        status="declined", side="debit", operation_type="transfer", updated=MARCH + dt.timedelta(hours=2)
    )
    qonto.add(bank_account_id=SAVINGS_ACCOUNT["id"], cents=5000, updated=MARCH)
    # when
    report = qonto_sync()
    # then
    assert report.accounts_created == 2
    main = BankAccount.objects.get(qonto_id=MAIN_ACCOUNT["id"])
    assert (main.name, main.iban, main.balance, main.main) == (
        "Compte principal",
        "FR7616798000010000005663951",
        Decimal("15432.10"),
        True,
    )
    assert report.transactions.created == 4
    stored = BankTransaction.objects.get(qonto_id=paid["id"])
    assert stored.account == main
    assert stored.amount == Decimal("1200.00")
    assert stored.reference == paid["reference"]
    assert stored.counterparty_iban == "FR7630006000011234567890189"
    assert stored.counterparty_bic == "AGRIFRPPXXX"
    assert stored.match_status == MatchStatus.UNPROCESSED
    assert stored.raw == paid
    assert sorted(BankTransaction.objects.values_list("status", flat=True)) == [
        "completed",
        "completed",
        "declined",
        "pending",
    ]
    calls = qonto.transaction_requests()
    assert all(r.args["status[]"] == ["pending", "declined", "completed"] for r in calls)


def test_sync_is_incremental_from_the_progress_marker(qonto):
    # given: a first sync
    qonto.add(updated=MARCH)
    newest = qonto.add(updated=MARCH + dt.timedelta(minutes=5))
    qonto_sync()
    main = BankAccount.objects.get(qonto_id=MAIN_ACCOUNT["id"])
    assert main.synced_through == MARCH + dt.timedelta(minutes=5)
    # when: one more transaction arrives and we sync again
    qonto.add(updated=MARCH + dt.timedelta(hours=1))
    qonto.requests.clear()
    report = qonto_sync()
    # then: only what changed since the marker was asked for
    main_call = next(
        r for r in qonto.transaction_requests() if r.arg("bank_account_id") == MAIN_ACCOUNT["id"]
    )
    assert main_call.arg("updated_at_from") == newest["updated_at"]
    assert report.transactions.created == 1
    assert report.transactions.unchanged == 1  # the boundary row comes back once, harmlessly
    assert BankTransaction.objects.count() == 3
    main.refresh_from_db()
    assert main.synced_through == MARCH + dt.timedelta(hours=1)


def test_an_update_replaces_the_bank_fields_without_duplicating_and_keeps_the_match(qonto):
    # given: a stored, already matched pending transaction
    tx = qonto.add(status="pending", settled_at=None, updated=MARCH)
    qonto_sync()
    BankTransaction.objects.filter(qonto_id=tx["id"]).update(match_status=MatchStatus.MATCHED, match_score=97)
    before = BankTransaction.objects.get()
    # when: Qonto settles it
    qonto.update(
        tx["id"],
        updated=MARCH + dt.timedelta(hours=2),
        status="completed",
        settled_at=iso(MARCH + dt.timedelta(hours=2)),
        note="relancé le 1er mars",
    )
    report = qonto_sync()
    # then
    assert report.transactions.updated == 1
    stored = BankTransaction.objects.get()
    assert stored.status == "completed"
    assert stored.settled_at == MARCH + dt.timedelta(hours=2)
    assert stored.note == "relancé le 1er mars"
    assert stored.raw["status"] == "completed"
    assert (stored.match_status, stored.match_score) == (MatchStatus.MATCHED, 97)
    assert (stored.pk, stored.created_at) == (before.pk, before.created_at)
    assert stored.updated_at > before.updated_at


def test_a_sync_that_fails_midway_keeps_the_marker_and_the_rerun_completes(qonto):
    # given: 3 pages on the main account, page 2 fails
    for i in range(250):
        qonto.add(updated=MARCH + dt.timedelta(minutes=i))
    qonto.fail_next(
        r"/v2/transactions", 500, {"errors": [{"code": "unknown", "detail": "Unknown error"}]}, page=2
    )
    # when
    with pytest.raises(QontoError, match="500"):
        qonto_sync()
    # then: page 1 is stored, the marker did not move
    assert BankTransaction.objects.count() == 100
    assert BankAccount.objects.get(qonto_id=MAIN_ACCOUNT["id"]).synced_through is None
    # when: the next run
    report = qonto_sync()
    # then
    assert BankTransaction.objects.count() == 250
    assert (report.transactions.created, report.transactions.unchanged) == (150, 100)
    assert BankAccount.objects.get(qonto_id=MAIN_ACCOUNT["id"]).synced_through == MARCH + dt.timedelta(
        minutes=249
    )


def test_a_page_is_stored_in_a_fixed_number_of_queries(qonto, django_assert_max_num_queries):
    # given: a full page of new rows and, on the next run, a full page of updates
    for i in range(100):
        qonto.add(updated=MARCH + dt.timedelta(seconds=i))
    client = client_from_settings()
    with django_assert_max_num_queries(20):
        qonto_sync(client=client)
    for tx in qonto.transactions:
        qonto.update(tx["id"], updated=MARCH + dt.timedelta(days=1), label="NEW LABEL")
    # when / then
    with django_assert_max_num_queries(20):
        report = qonto_sync(client=client)
    assert report.transactions.updated == 100


def test_since_command_option_overrides_the_marker(qonto, capsys):
    # given
    qonto.add(updated=MARCH)
    qonto_sync()
    qonto.requests.clear()
    # when
    call_command("sync_qonto", "--since", "2026-01-15")
    # then: local midnight (Paris, UTC+1 in January) in UTC
    calls = qonto.transaction_requests()
    assert {c.arg("updated_at_from") for c in calls} == {"2026-01-14T23:00:00.000Z"}
    out = capsys.readouterr().out
    assert "transactions : 0 créée(s), 0 mise(s) à jour, 1 inchangée(s)" in out


def test_sync_command_reports_counts(qonto, capsys):
    # given
    qonto.add(updated=MARCH)
    qonto.add(updated=MARCH, bank_account_id=SAVINGS_ACCOUNT["id"])
    # when
    call_command("sync_qonto")
    # then
    out = capsys.readouterr().out
    assert "comptes : 2 créé(s), 0 mis à jour" in out
    assert "transactions : 2 créée(s), 0 mise(s) à jour, 0 inchangée(s)" in out


def test_sync_command_without_credentials_names_the_settings(settings):
    # given
    settings.QONTO_LOGIN = settings.QONTO_SECRET_KEY = ""
    settings.QONTO_OAUTH_CLIENT_ID = settings.QONTO_OAUTH_CLIENT_SECRET = ""
    # when / then
    with pytest.raises(
        CommandError, match=r"^Qonto n'est pas configuré : renseignez QONTO_LOGIN et QONTO_SECRET_KEY"
    ):
        call_command("sync_qonto")


def test_sync_command_with_a_refused_key_says_401_and_names_the_settings(qonto, settings):
    # given
    settings.QONTO_SECRET_KEY = "revoked"
    # when / then
    with pytest.raises(
        CommandError,
        match=r"^Qonto a refusé les identifiants : Qonto GET organization a répondu 401 "
        r"\(unauthorized : .*\).* ; vérifiez QONTO_LOGIN et QONTO_SECRET_KEY",
    ):
        call_command("sync_qonto")
    assert not BankAccount.objects.exists()


def test_sync_command_refuses_a_bad_date(qonto):
    with pytest.raises(
        CommandError,
        match=r"^--since : « 2026-13-45 » n'est pas une date valide \(jj/mm/aaaa ou aaaa-mm-jj\)$",
    ):
        call_command("sync_qonto", "--since", "2026-13-45")


def test_import_transactions_is_idempotent(capsys):
    # given
    path = str(DATA / "transactions_page.json")
    # when
    call_command("import_transactions", path)
    call_command("import_transactions", path)
    # then
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "1 fichier(s) : 5 créée(s), 0 mise(s) à jour, 0 inchangée(s)",
        "1 fichier(s) : 0 créée(s), 0 mise(s) à jour, 5 inchangée(s)",
    ]
    assert BankTransaction.objects.count() == 5
    card = BankTransaction.objects.get(qonto_id="f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a33")
    assert (card.side, card.amount, card.note, card.counterparty_iban) == (
        "debit",
        Decimal("42.90"),
        "Hébergement mars",
        "",
    )
    pending = BankTransaction.objects.get(qonto_id="0b1c2d3e-4f50-4617-a8b9-cadbecfd0e44")
    assert (pending.status, pending.settled_at) == ("pending", None)


def test_import_links_known_accounts_and_a_later_sync_agrees(qonto):
    # given: accounts known from a sync
    qonto_sync()
    # when
    call_command("import_transactions", str(DATA / "transactions_page.json"))
    # then
    assert set(BankTransaction.objects.values_list("account__qonto_id", flat=True)) == {MAIN_ACCOUNT["id"]}


def test_an_older_saved_response_does_not_undo_a_newer_version():
    # given: a stored transaction, updated after the saved file was taken
    page = json.loads((DATA / "transactions_page.json").read_text())
    newer = json.loads(json.dumps(page))
    newer["transactions"][3].update(status="completed", updated_at="2026-03-05T10:00:00.000Z")
    transactions_import(payloads=[("newer.json", newer)])
    # when
    counts = transactions_import(payloads=[("older.json", page)])
    # then
    assert counts.updated == 0
    assert BankTransaction.objects.get(qonto_id=page["transactions"][3]["id"]).status == "completed"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"transactions": [', r"JSON invalide \(ligne 1, colonne 19\)"),
        ('[{"id": "x"}]', "forme de /v2/transactions attendue : "),
        (
            '{"transactions": [{"id": "t-1", "side": "credit"}]}',
            r"transactions\[0\], transaction t-1 ?: ni « amount » ni « amount_cents »",
        ),
        (
            '{"transactions": [{"id": "t-1", "side": "in", "amount": 1}]}',
            "side « in » n'est ni « credit » ni « debit »",
        ),
        (
            '{"transactions": [{"id": "t-1", "side": "credit", "amount": "abc"}]}',
            "amount « abc » n'est pas un nombre",
        ),
        (
            '{"transactions": [{"id": "t-1", "side": "credit", "amount": 1, "updated_at": "yesterday"}]}',
            "« yesterday » n'est pas une date-heure ISO 8601",
        ),
    ],
)
def test_a_malformed_file_names_the_file_and_the_reason_and_writes_nothing(tmp_path, content, reason):
    # given: a good file then a bad one
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    # when
    with pytest.raises(CommandError) as caught:
        call_command("import_transactions", str(DATA / "transactions_page.json"), str(bad))
    # then
    assert str(caught.value).startswith(str(bad))
    assert re.search(reason, str(caught.value))
    assert str(caught.value).endswith(" ; rien n'a été importé")
    assert not BankTransaction.objects.exists()


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=r"missing\.json ?: fichier introuvable ; rien n'a été importé$"):
        call_command("import_transactions", str(tmp_path / "missing.json"))


def test_refetch_stores_the_transaction_and_marks_its_events_processed(qonto):
    # given: a webhook announced a transaction of an account not synced yet
    tx = qonto.add(updated=MARCH, bank_account_id=SAVINGS_ACCOUNT["id"])
    WebhookEvent.objects.create(event_id="evt-1", event_type="v1/transactions", transaction_qonto_id=tx["id"])
    # when
    stored = transaction_refetch(qonto_id=tx["id"])
    # then
    assert stored.account.qonto_id == SAVINGS_ACCOUNT["id"]
    assert stored.amount == Decimal("1200.00")
    assert WebhookEvent.objects.get().processed_at is not None
    # when: the same event is handled again
    transaction_refetch(qonto_id=tx["id"])
    # then
    assert BankTransaction.objects.count() == 1


def test_refetch_of_a_vanished_transaction_is_not_an_error(qonto):
    assert transaction_refetch(qonto_id="00000000-0000-0000-0000-000000000000") is None


def test_balances_are_snapshotted_once_per_account_and_day(qonto):
    # given
    qonto_sync()
    today = timezone.localdate()
    balances_snapshot(on=today)
    # when: the balance moved and the snapshot runs again the same day
    BankAccount.objects.filter(qonto_id=MAIN_ACCOUNT["id"]).update(balance=Decimal("16632.10"))
    balances_snapshot(on=today)
    # then
    snapshots = {s.account.qonto_id: s.balance for s in BalanceSnapshot.objects.filter(date=today)}
    assert snapshots == {MAIN_ACCOUNT["id"]: Decimal("16632.10"), SAVINGS_ACCOUNT["id"]: Decimal("2500.00")}
    # when: the next day
    balances_snapshot(on=today + dt.timedelta(days=1))
    # then
    assert BalanceSnapshot.objects.count() == 4
