"""The accounting exports on a known small data set: exact expected files (Oxygène XML and CSV, FEC), the
XLSX read back, FEC balance and its self-check."""

import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from lxml import etree
from openpyxl import load_workbook

from banking.models import BankAccount, BankTransaction, PaymentAllocation
from invoicing.services import invoices as invoices_service
from invoicing.services import lifecycle
from invoicing.services.invoices import LineSpec, credit_note_create, invoice_create
from reconciliation.exports import fec as fec_module
from reconciliation.exports.fec import COLUMNS, fec_build, fec_check
from reconciliation.exports.oxygen import XSD_PATH
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

EXPECTED = Path(__file__).parent / "expected"


def issued(client, day, lines):
    invoice = invoice_create(client=client, lines=lines, issue_date=day, submit=True)
    lifecycle.invoice_approve_as_system(invoice=invoice, reason="jeu d'essai", issue_date=day)
    invoice.refresh_from_db()
    return invoice


@pytest.fixture
def ledger(seller, monkeypatch):
    """Three documents and a bank receipt in 2026, and one invoice in 2025 (outside the year)."""
    pharmabest = ClientFactory(name="Pharmabest SARL", siren="542051180", vat_number="FR59542051180")
    boulangerie = ClientFactory(name="Boulangerie Martin; Fils", siren="", invoice_emails="b@m.fr")
    issued(pharmabest, dt.date(2025, 12, 15), [LineSpec("Forfait décembre", Decimal("500.00"))])
    first = issued(pharmabest, dt.date(2026, 1, 15), [LineSpec("Infogérance janvier", Decimal("1000.00"))])
    second = issued(
        boulangerie,
        dt.date(2026, 2, 10),
        [
            LineSpec("Dépannage", Decimal("150.50")),
            LineSpec("Déplacement", Decimal("80.00"), vat_rate=Decimal("10.00")),
        ],
    )
    monkeypatch.setattr(invoices_service, "today", lambda: dt.date(2026, 2, 12))
    monkeypatch.setattr(lifecycle, "today", lambda: dt.date(2026, 2, 12))
    note = credit_note_create(
        invoice=first, reason="remise accordée", lines=[LineSpec("Remise accordée", Decimal("100.00"))]
    )
    account = BankAccount.objects.create(qonto_id="acc-1", name="Qonto", iban="FR7616958000011234567890123")
    transaction = BankTransaction.objects.create(
        qonto_id="tx-1",
        transaction_id="TX-1",
        account=account,
        amount=Decimal("1078.00"),
        side="credit",
        label="VIR SEPA PHARMABEST SARL",
        clean_counterparty_name="PHARMABEST SARL",
        reference="RF55F20260001",
        settled_at=timezone.make_aware(dt.datetime(2026, 2, 20, 10, 0)),
    )
    PaymentAllocation.objects.create(
        transaction=transaction, invoice=first, amount=Decimal("1078.00"), write_off=Decimal("2.00")
    )
    return {"first": first, "second": second, "note": note}


def exact(name: str, content: bytes) -> None:
    assert content == (EXPECTED / name).read_bytes(), f"{name} differs from the expected file"


def test_oxygen_xml_is_the_expected_file_and_valid_against_its_schema(ledger, tmp_path):
    out = tmp_path / "ventes.xml"
    call_command(
        "export_oxygen",
        date_from="2026-01-01",
        date_to="2026-12-31",
        format="xml",
        output=str(out),
        stderr=io.StringIO(),
    )
    content = out.read_bytes()
    exact("oxygene-2026.xml", content)
    schema = etree.XMLSchema(etree.parse(str(XSD_PATH)))
    assert schema.validate(etree.fromstring(content))


def test_oxygen_csv_is_the_expected_accounting_entries_in_iso_8859_15(ledger, tmp_path):
    out = tmp_path / "ventes.csv"
    call_command(
        "export_oxygen",
        date_from="01/01/2026",
        date_to="31/12/2026",
        format="csv",
        output=str(out),
        stderr=io.StringIO(),
    )
    content = out.read_bytes()
    exact("oxygene-2026.csv", content)
    text = content.decode("iso-8859-15")
    rows = [row.split(";") for row in text.split("\r\n")[1:] if row]
    assert {len(row) for row in rows} == {36}
    assert "Déplacement" not in text  # lines are not exported, documents are
    assert "Boulangerie Martin Fils" in text  # the ';' of the name cannot shift a column


def test_oxygen_xlsx_reads_back_for_a_person(ledger, tmp_path):
    out = tmp_path / "ventes.xlsx"
    call_command(
        "export_oxygen",
        date_from="2026-01-01",
        date_to="2026-12-31",
        format="xlsx",
        output=str(out),
        stderr=io.StringIO(),
    )
    sheet = load_workbook(out).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "Ventes du 01/01/2026 au 31/12/2026"
    assert rows[1] == [
        "Type", "Numéro", "Date", "Échéance", "Client", "Compte", "SIREN", "Total HT",
        "TVA 20 %", "TVA 10 %", "Total TVA", "Total TTC", "Facture corrigée",
    ]  # fmt: skip
    assert rows[2][:8] == [
        "Facture", "F20260001", dt.datetime(2026, 1, 15), dt.datetime(2026, 2, 14), "Pharmabest SARL",
        "411C542051180", "542051180", 1000,
    ]  # fmt: skip
    assert rows[4][:2] == ["Avoir", "A20260001"]
    assert [rows[4][7], rows[4][11], rows[4][12]] == [-100, -120, "F20260001"]
    assert rows[5][0] == "Total"
    assert rows[5][7] == "=SUM(H3:H5)"
    assert sheet["H3"].number_format.startswith("#,##0.00")


def test_export_oxygen_refuses_a_bad_period(ledger):
    with pytest.raises(CommandError, match="est après"):
        call_command("export_oxygen", date_from="2026-02-01", date_to="2026-01-01", format="csv")
    with pytest.raises(CommandError, match="AAAA-MM-JJ"):
        call_command("export_oxygen", date_from="février", date_to="2026-01-01", format="csv")


def test_the_fec_is_the_expected_file(ledger, tmp_path):
    out = io.StringIO()
    call_command("export_fec", year=2026, output=str(tmp_path), stdout=out)
    path = tmp_path / "732829320FEC20261231.txt"
    assert re.search(r"732829320FEC20261231\.txt : \d+ lignes d'écriture, contrôle réussi\.", out.getvalue())
    exact("732829320FEC20261231.txt", path.read_bytes())


def test_the_fec_balances_letters_and_numbers_without_gaps(ledger):
    fec = fec_build(year=2026)
    text = fec.text()
    assert fec_check(text, year_start=dt.date(2026, 1, 1), year_end=dt.date(2026, 12, 31)) == []
    rows = [dict(zip(COLUMNS, row.split("|"), strict=True)) for row in text.split("\r\n")[1:] if row]
    # debit = credit per entry and overall
    entries: dict[str, Decimal] = {}
    for row in rows:
        amount = Decimal(row["Debit"].replace(",", ".")) - Decimal(row["Credit"].replace(",", "."))
        entries[row["EcritureNum"]] = entries.get(row["EcritureNum"], Decimal(0)) + amount
    assert set(entries.values()) == {Decimal("0.00")}
    assert sorted(entries) == ["BQ000001", "VE000001", "VE000002", "VE000003"]
    # the 2025 invoice is not in the 2026 file
    assert all(row["EcritureDate"].startswith("2026") for row in rows)
    # F20260001, its credit note and its receipt are lettered together on the day they balanced
    lettered = [(row["PieceRef"], row["EcritureLet"], row["DateLet"]) for row in rows if row["EcritureLet"]]
    assert lettered == [
        ("F20260001", "A", "20260220"),
        ("A20260001", "A", "20260220"),
        ("RF55F20260001", "A", "20260220"),
    ]
    # the unpaid F20260002 stays open
    assert not [row for row in rows if row["PieceRef"] == "F20260002" and row["EcritureLet"]]


def test_the_fec_check_fails_loudly_on_a_broken_file(ledger):
    text = fec_build(year=2026).text()
    rows = text.split("\r\n")
    unbalanced = "\r\n".join([rows[0], rows[1].replace("|1200,00|", "|1200,01|"), *rows[2:]])
    gap = text.replace("VE000003", "VE000004")
    shifted = text.replace("Boulangerie Martin Fils", "Boulangerie|Martin")
    bad_date = text.replace("|20260210|", "|20261310|", 1)
    year = {"year_start": dt.date(2026, 1, 1), "year_end": dt.date(2026, 12, 31)}
    assert any("VE000001 déséquilibrée" in p for p in fec_check(unbalanced, **year))
    assert any("trou" in p for p in fec_check(gap, **year))
    assert any("19 colonnes" in p for p in fec_check(shifted, **year))
    assert any("n'est pas une date" in p for p in fec_check(bad_date, **year))


def test_export_fec_writes_nothing_when_the_check_fails(ledger, tmp_path, monkeypatch):
    monkeypatch.setattr(
        fec_module, "fec_check", lambda text, **kw: ["écriture VE000001 déséquilibrée (0,01)"]
    )
    with pytest.raises(CommandError, match="déséquilibrée"):
        call_command("export_fec", year=2026, output=str(tmp_path))
    assert list(tmp_path.iterdir()) == []
