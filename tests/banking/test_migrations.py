"""The data migration maps today's match statuses to the ones that say what they mean."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("banking", "0002_access_permissions_no_ignored_status")]
AFTER = [("banking", "0004_match_statuses_say_what_they_mean")]


def migrate(banking_target):
    """Banking at ``banking_target``, every other app at its latest migration; the models of that state."""
    executor = MigrationExecutor(connection)
    others = [leaf for leaf in executor.loader.graph.leaf_nodes() if leaf[0] != "banking"]
    targets = [*others, *banking_target]
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def _back_to_the_latest_schema():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_old_statuses_become_the_ones_that_say_what_they_mean():
    # given: the four kinds of credit the old statuses mixed up
    apps = migrate(BEFORE)
    User = apps.get_model("auth", "User")
    Client = apps.get_model("invoicing", "Client")
    Invoice = apps.get_model("invoicing", "Invoice")
    BankTransaction = apps.get_model("banking", "BankTransaction")
    PaymentAllocation = apps.get_model("banking", "PaymentAllocation")
    person = User.objects.create(username="marie")
    client = Client.objects.create(name="AZUR")
    invoice = Invoice.objects.create(
        number="F20250001",
        series="F",
        client=client,
        status="paid",
        issue_date=dt.date(2025, 1, 6),
        due_date=dt.date(2025, 2, 5),
        total_ht=Decimal("100.00"),
        total_vat=Decimal("20.00"),
        total_ttc=Decimal("120.00"),
        amount_paid=Decimal("120.00"),
    )
    processed = dt.datetime(2025, 4, 10, 9, tzinfo=dt.UTC)

    def tx(n, status, reasons=()):
        return BankTransaction.objects.create(
            qonto_id=f"q{n}",
            amount=Decimal("120.00"),
            side="credit",
            match_status=status,
            match_reasons=list(reasons),
            processed_at=processed,
        )

    auto, confirmed = tx(1, "matched"), tx(2, "matched")
    PaymentAllocation.objects.create(
        transaction=auto, invoice=invoice, amount=Decimal("60.00"), method="auto"
    )
    PaymentAllocation.objects.create(
        transaction=confirmed, invoice=invoice, amount=Decimal("60.00"), method="manual", created_by=person
    )
    marked = tx(3, "unmatched", ["no reference", "marked as paying no invoice by marie"])
    unknown = tx(4, "unmatched", ["no reference, payer and amount not recognised"])
    suggested = tx(5, "suggested")
    # when
    apps = migrate(AFTER)
    # then
    BankTransaction = apps.get_model("banking", "BankTransaction")
    now = {t.pk: t for t in BankTransaction.objects.all()}
    assert now[auto.pk].match_status == "matched"
    assert now[auto.pk].decided_at is None
    assert now[confirmed.pk].match_status == "confirmed"
    assert now[confirmed.pk].decided_by_id == person.pk
    assert now[marked.pk].match_status == "no_invoice"
    assert now[marked.pk].decided_at == processed
    assert now[unknown.pk].match_status == "unrecognised"
    assert now[unknown.pk].decided_at is None
    assert now[suggested.pk].match_status == "suggested"
