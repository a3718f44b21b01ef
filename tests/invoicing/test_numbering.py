import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from invoicing.models import Invoice, InvoiceSequence
from invoicing.models.invoice import Status
from invoicing.services.lifecycle import TransitionError, invoice_approve_as_system, invoice_issue
from invoicing.services.numbering import number_take, sequences_continue_after
from tests.factories import ClientFactory, make_invoice

pytestmark = pytest.mark.django_db


def test_invoice_has_no_number_until_issued(seller):
    # given
    invoice = make_invoice(issue_date=dt.date(2025, 8, 1), status=Status.PENDING_REVIEW)
    # then
    assert invoice.number is None
    # when
    issued = invoice_approve_as_system(invoice=invoice, reason="test", issue_date=dt.date(2025, 8, 1))
    # then
    assert issued.number == "F20250001"
    assert issued.status == Status.ISSUED
    assert issued.seller_snapshot["siren"] == "732829320"
    assert issued.buyer_snapshot["name"] == invoice.client.name


def test_numbers_follow_each_other_per_year_without_gap(seller):
    client = ClientFactory()
    numbers = [
        make_invoice(client=client, status=Status.ISSUED, issue_date=dt.date(2025, 12, 30)).number
        for _ in range(3)
    ]
    numbers.append(make_invoice(client=client, status=Status.ISSUED, issue_date=dt.date(2026, 1, 2)).number)
    assert numbers == ["F20250001", "F20250002", "F20250003", "F20260001"]


def test_a_failed_issue_gives_its_number_back(seller):
    # given: an issue that fails after taking a number (zero total refuses to issue, before numbering)
    client = ClientFactory()
    first = make_invoice(client=client, status=Status.ISSUED, issue_date=dt.date(2025, 3, 1))
    rejected = make_invoice(client=client, status=Status.REJECTED)
    # when
    with pytest.raises(TransitionError, match="seule une facture approuvée est émise"):
        invoice_issue(invoice=rejected, issue_date=dt.date(2025, 3, 1))
    second = make_invoice(client=client, status=Status.ISSUED, issue_date=dt.date(2025, 3, 1))
    # then
    assert (first.number, second.number) == ("F20250001", "F20250002")


@pytest.mark.django_db(transaction=True)
def test_number_take_refuses_to_run_outside_a_transaction():
    with pytest.raises(RuntimeError, match="inside the issuing transaction"):
        number_take(series="F", year=2025)


def test_credit_notes_have_their_own_series(seller):
    from invoicing.services.invoices import credit_note_create

    invoice = make_invoice(status=Status.ISSUED, amounts=[Decimal("400.00")])
    note = credit_note_create(invoice=invoice, reason="erreur de période")
    invoice.refresh_from_db()
    assert note.number.startswith(f"A{note.issue_date.year}")
    assert note.number.endswith("0001")
    assert note.credited_invoice == invoice
    assert invoice.number in note.subject
    assert invoice.status == Status.CANCELLED
    assert note.total_ttc == invoice.total_ttc


def test_sequence_continues_after_imported_numbers():
    sequences_continue_after(["F20250412", "F20250007", "F20240999", "2015-001"])
    assert InvoiceSequence.objects.get(series="F", year=2025).last_number == 412
    assert InvoiceSequence.objects.get(series="F", year=2024).last_number == 999


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_issuing_at_once_get_distinct_gapless_numbers(seller):
    # given: 40 drafts, issued by two threads, each on its own PostgreSQL connection
    client = ClientFactory()
    drafts = [
        make_invoice(client=client, issue_date=dt.date(2025, 6, 1), status=Status.PENDING_REVIEW)
        for _ in range(40)
    ]
    barrier = threading.Barrier(2)
    errors = []

    def worker(chunk):
        try:
            barrier.wait()
            for invoice in chunk:
                invoice_approve_as_system(invoice=invoice, reason="test", issue_date=dt.date(2025, 6, 2))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=worker, args=(drafts[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    assert connection.vendor == "postgresql"
    assert errors == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"F2025{n:04d}" for n in range(1, 41)]
