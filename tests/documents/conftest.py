import datetime as dt
from decimal import Decimal

import pytest

from invoicing.models.invoice import Status, Unit
from invoicing.services import lifecycle
from invoicing.services.invoices import LineSpec, credit_note_create, invoice_create
from tests.factories import ClientFactory


@pytest.fixture(autouse=True)
def _pdf_dir(tmp_path, settings):
    settings.INVOICE_PDF_DIR = str(tmp_path / "invoices")


def issue(*, lines, client=None, issue_date=dt.date(2026, 3, 2), **kwargs):
    """An invoice with these lines, approved and issued through the lifecycle."""
    invoice = invoice_create(
        client=client or ClientFactory(name="Pharmabest SARL", vat_number="FR59542051180"),
        lines=lines,
        issue_date=issue_date,
        submit=True,
        **kwargs,
    )
    lifecycle.invoice_approve_as_system(invoice=invoice, reason="test des documents", issue_date=issue_date)
    invoice.refresh_from_db()
    assert invoice.status == Status.ISSUED
    return invoice


def several_rates_with_discount(client=None):
    """Three lines at 20 %, one at 10 %, one at 5,5 %, a discount line, hours and days."""
    return issue(
        client=client,
        subject="Infogérance et formation – février 2026",
        period_start=dt.date(2026, 2, 1),
        period_end=dt.date(2026, 2, 28),
        purchase_order="BC-2026-017",
        lines=[
            LineSpec("Forfait infogérance – février 2026", Decimal("1400.00"), unit=Unit.MONTH),
            LineSpec("Intervention sur site", Decimal("110.00"), quantity=Decimal("7.5"), unit=Unit.HOUR),
            LineSpec("Audit de sécurité", Decimal("650.00"), quantity=Decimal("2"), unit=Unit.DAY),
            LineSpec("Remise fidélité", Decimal("-150.00")),
            LineSpec(
                "Ouvrages techniques", Decimal("45.33"), quantity=Decimal("3"), vat_rate=Decimal("5.50")
            ),
            LineSpec("Transport de matériel", Decimal("80.07"), vat_rate=Decimal("10.00")),
        ],
    )


def credit_note_for(invoice, *, lines=None, reason="geste commercial"):
    note = credit_note_create(invoice=invoice, reason=reason, lines=lines)
    note.refresh_from_db()
    return note
