"""The tamper-evident archive: every issued document chained in its series; verify_integrity catches a raw
SQL edit, a deleted document and an edited PDF."""

import io
from decimal import Decimal

import pgtrigger
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from invoicing.documents.pdf import invoice_pdf_ensure
from invoicing.models import Invoice
from invoicing.models.invoice import InvoiceImmutableError
from invoicing.services import integrity
from invoicing.services.history_import import invoices_import_csv
from invoicing.services.integrity import integrity_verify
from invoicing.services.invoices import LineSpec
from tests.documents.conftest import credit_note_for, issue

pytestmark = pytest.mark.django_db

TRIGGERS = (
    "invoicing.Invoice:issued_invoice_frozen",
    "invoicing.Invoice:issued_invoice_kept",
    "invoicing.InvoiceLine:issued_invoice_lines_added",
    "invoicing.InvoiceLine:issued_invoice_lines_changed",
    "invoicing.InvoiceLine:issued_invoice_lines_removed",
)


def forfait(amount="100.00"):
    return issue(lines=[LineSpec("Forfait infogérance", Decimal(amount))])


def behind_the_application(sql: str, params: list) -> None:
    """A change made with raw SQL by someone who also lifted PostgreSQL's guard (on SQLite there is none)."""
    with transaction.atomic(), pgtrigger.ignore(*TRIGGERS), connection.cursor() as cursor:
        cursor.execute(sql, params)


def verify() -> tuple[str, bool]:
    out = io.StringIO()
    try:
        call_command("verify_integrity", stdout=out)
    except CommandError as exc:
        return out.getvalue() + str(exc), False
    return out.getvalue(), True


def test_each_issued_document_is_chained_to_the_previous_one_of_its_series(seller):
    # given: three invoices and a credit note
    first, second, third = forfait(), forfait("200.00"), forfait("300.00")
    note = credit_note_for(second)
    # then: ranks 1, 2, 3 in F and 1 in A, each pointing at the hash before it
    chain = list(Invoice.objects.filter(series="F").order_by("chain_index"))
    assert [i.pk for i in chain] == [first.pk, second.pk, third.pk]
    assert [i.chain_index for i in chain] == [1, 2, 3]
    assert chain[0].chain_previous == ""
    assert [i.chain_previous for i in chain[1:]] == [chain[0].chain_hash, chain[1].chain_hash]
    assert len({i.chain_hash for i in chain}) == 3
    note = Invoice.objects.get(pk=note.pk)
    assert (note.series, note.chain_index, note.chain_previous, note.chain_imported) == ("A", 1, "", False)
    # and: the check says so
    output, ok = verify()
    assert ok
    assert "les 4 documents sont intacts (0 PDF vérifiés)" in output


def test_a_raw_sql_edit_of_an_amount_is_caught(seller):
    # given
    forfait()
    edited = forfait("200.00")
    forfait("300.00")
    # when: someone adds 100 € to the second invoice behind the application's back
    behind_the_application(
        "UPDATE invoicing_invoice SET total_ht = total_ht + 100, total_ttc = total_ttc + 100 WHERE id = %s",
        [edited.pk],
    )
    # then: named, with what differs, and exit code 1
    output, ok = verify()
    assert not ok
    assert f"{edited.number} : contenu modifié depuis l'émission" in output
    assert "total HT 300,00 € (à l'émission : 200,00 €)" in output.replace("\u202f", " ").replace(
        "\u00a0", " "
    )
    assert "1 anomalie(s) sur 3 documents" in output


def test_a_raw_sql_edit_of_a_line_is_caught(seller):
    edited = forfait()
    behind_the_application(
        "UPDATE invoicing_invoiceline SET description = 'Autre chose' WHERE invoice_id = %s", [edited.pk]
    )
    report = integrity_verify()
    assert [f.number for f in report.findings] == [edited.number]


def test_a_deleted_document_breaks_the_chain(seller):
    forfait()
    deleted = forfait("200.00")
    after = forfait("300.00")
    behind_the_application("DELETE FROM invoicing_invoiceevent WHERE invoice_id = %s", [deleted.pk])
    behind_the_application("DELETE FROM invoicing_invoiceline WHERE invoice_id = %s", [deleted.pk])
    behind_the_application("DELETE FROM invoicing_invoice WHERE id = %s", [deleted.pk])
    report = integrity_verify()
    problems = [str(f) for f in report.findings]
    assert any(
        p.startswith(f"{after.number} : rang 3") and "1 document(s) supprimé(s)" in p for p in problems
    )
    assert any(p.startswith(f"{after.number} : lien rompu") for p in problems)


def test_an_edited_or_missing_pdf_is_caught(seller):
    edited, lost = forfait(), forfait("200.00")
    path = invoice_pdf_ensure(edited)
    invoice_pdf_ensure(lost).unlink()
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"%%EOF", b"%%EOF\n% modified"))
    output, ok = verify()
    assert not ok
    assert f"{edited.number} : PDF modifié depuis son écriture" in output
    assert f"{lost.number} : PDF introuvable" in output


def test_an_issued_document_outside_the_chain_is_reported(seller):
    outsider = forfait()
    behind_the_application(
        "UPDATE invoicing_invoice SET chain_hash = '', chain_previous = '', chain_index = NULL WHERE id = %s",
        [outsider.pk],
    )
    output, ok = verify()
    assert not ok
    assert f"{outsider.number} : émis sans empreinte" in output


@pytest.mark.parametrize("on_every_core", [False, True])
def test_imported_history_is_chained_and_flagged_as_imported(seller, tmp_path, monkeypatch, on_every_core):
    if on_every_core:  # a large import makes the canonical texts in forked workers: the same chain
        monkeypatch.setattr(integrity, "PARALLEL_FROM", 1)
    # given: two old invoices imported from the previous tool
    path = tmp_path / "export.csv"
    path.write_text(
        "N° facture;Date facture;Raison sociale;Désignation;Montant HT;TVA;Montant TTC;Réglée le\n"
        "F20250002;13/04/2025;Boulangerie Martin;Dépannage;150,50;30,10;180,60;\n"
        "F20250001;12/04/2025;SARL Pharmabest;Infogérance avril;1 000,00;200,00;1 200,00;01/05/2025\n",
        encoding="utf-8",
    )
    # when
    invoices_import_csv(path=path)
    new = forfait()
    # then: chained in number order, flagged as imported; the next issue follows them
    rows = list(
        Invoice.objects.order_by("chain_index").values_list("number", "chain_index", "chain_imported")
    )
    assert rows == [("F20250001", 1, True), ("F20250002", 2, True), (new.number, 3, False)]
    output, ok = verify()
    assert ok, output


def test_the_application_refuses_to_rewrite_a_link(seller):
    invoice = forfait()
    with pytest.raises(InvoiceImmutableError):
        Invoice.objects.filter(pk=invoice.pk).update(chain_hash="0" * 64)
    stored = Invoice.objects.get(pk=invoice.pk)
    stored.chain_previous = "f" * 64
    with pytest.raises(InvoiceImmutableError):
        stored.save()


@pytest.mark.postgres
def test_postgresql_refuses_a_raw_sql_rewrite_of_the_hash_or_the_pdf_hash(seller):
    invoice = forfait()
    invoice_pdf_ensure(invoice)
    for column in ("chain_hash", "pdf_sha256"):
        with (
            pytest.raises(IntegrityError, match="une fois pour toutes"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                f"UPDATE invoicing_invoice SET {column} = %s WHERE id = %s", ["0" * 64, invoice.pk]
            )
