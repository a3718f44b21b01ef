"""The three-way reconciliation on a known small data set: four documents issued in 2026, their real PDFs
(the project's renderer) and the project's own Oxygène export read back; then each kind of discrepancy,
the score, the JSON shape, a malformed export and the admin pages."""

import csv
import datetime as dt
import io
import json
import multiprocessing
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.urls import reverse
from pypdf import PageObject, PdfReader

from invoicing.documents.pdf import html_to_pdf, invoice_html, invoice_pdf_ensure
from invoicing.models import InvoiceSequence
from invoicing.services import invoices as invoices_service
from invoicing.services import lifecycle
from invoicing.services.invoices import LineSpec, credit_note_create, invoice_create
from reconciliation.exports.oxygen import CSV_COLUMNS
from reconciliation.models import Discrepancy, ReconciliationReport
from reconciliation.services import reconcile
from reconciliation.sources import pdfs as pdf_source
from reconciliation.sources.pdfs import printed_fields, read_pdf
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

ENCODING = "iso-8859-15"


@pytest.fixture(autouse=True)
def _pdf_dir(tmp_path, settings):
    settings.INVOICE_PDF_DIR = str(tmp_path / "invoices")


def issued(client, day, lines):
    invoice = invoice_create(client=client, lines=lines, issue_date=day, submit=True)
    lifecycle.invoice_approve_as_system(invoice=invoice, reason="jeu d'essai", issue_date=day)
    invoice.refresh_from_db()
    return invoice


@pytest.fixture
def books(seller, monkeypatch, tmp_path, settings):
    """F20260001–F20260003 and the credit note A20260001, each with its PDF, and the Oxygène export of 2026
    (the project's own CSV) in ``books["export"]``."""
    pharmabest = ClientFactory(name="Pharmabest SARL", siren="542051180", vat_number="FR59542051180")
    boulangerie = ClientFactory(name="Boulangerie Martin", siren="443061841", invoice_emails="b@m.fr")
    first = issued(pharmabest, dt.date(2026, 1, 15), [LineSpec("Infogérance janvier", Decimal("1000.00"))])
    second = issued(
        boulangerie,
        dt.date(2026, 2, 10),
        [
            LineSpec("Dépannage", Decimal("150.50")),
            LineSpec("Déplacement", Decimal("80.00"), vat_rate=Decimal("10.00")),
        ],
    )
    third = issued(pharmabest, dt.date(2026, 2, 20), [LineSpec("Audit", Decimal("650.00"))])
    monkeypatch.setattr(invoices_service, "today", lambda: dt.date(2026, 2, 25))
    monkeypatch.setattr(lifecycle, "today", lambda: dt.date(2026, 2, 25))
    note = credit_note_create(
        invoice=first, reason="remise accordée", lines=[LineSpec("Remise accordée", Decimal("100.00"))]
    )
    note.refresh_from_db()
    for document in (first, second, third, note):
        invoice_pdf_ensure(document)
    export = tmp_path / "ventes-2026.csv"
    call_command(
        "export_oxygen",
        date_from="2026-01-01",
        date_to="2026-12-31",
        format="csv",
        output=str(export),
        stderr=io.StringIO(),
    )
    return {
        "first": first,
        "second": second,
        "third": third,
        "note": note,
        "export": export,
        "pdfs": Path(settings.INVOICE_PDF_DIR),
    }


def run(*args) -> tuple[int, str, str]:
    """(exit code, stdout, error) of ``manage.py reconcile``: CommandError is what makes it exit 1."""
    out = io.StringIO()
    try:
        call_command("reconcile", *args, stdout=out, stderr=io.StringIO())
    except CommandError as exc:
        return 1, out.getvalue(), str(exc)
    return 0, out.getvalue(), ""


def found(report) -> list[tuple]:
    return sorted(
        (
            d.kind,
            d.number,
            d.side,
            d.item,
            d.expected if d.expected_amount is None else d.expected_amount,
            d.found if d.found_amount is None else d.found_amount,
        )
        for d in report.discrepancies.all()
    )


def rewrite(path: Path, edit) -> None:
    """Edit the export's rows (header first) through ``edit(rows) -> rows``; same encoding and layout."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode(ENCODING), newline=""), delimiter=";"))
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(edit(rows))
    path.write_bytes(out.getvalue().encode(ENCODING))


def replace_pdf(path: Path, content: bytes) -> None:
    """Put other bytes under a stored PDF's name (the renderer leaves it read-only)."""
    path.unlink()
    path.write_bytes(content)


NUMBER, ACCOUNT, DEBIT, CREDIT = (CSV_COLUMNS.index(c) for c in ("NPIEC", "NUMCP", "MTDEB", "MTCRE"))


# --- all consistent ----------------------------------------------------------------------------------------


def test_the_three_sides_agree_score_100_and_exit_0(books):
    # when
    code, out, error = run("--oxygen", str(books["export"]))
    # then
    report = ReconciliationReport.objects.get()
    assert (code, error) == (0, "")
    assert found(report) == []
    assert report.score == Decimal("100.00")
    assert (report.documents, report.consistent, report.oxygen_documents, report.pdf_files) == (4, 4, 4, 4)
    assert report.sides == ["database", "oxygen", "pdf"]
    assert (report.oxygen_period_start, report.oxygen_period_end) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 2, 28),
    )
    assert "aucun écart ; score 100\u00a0% des 4 documents cohérents (base, export Oxygène, PDF)" in out


def test_without_an_export_the_accounting_side_is_left_out_and_the_score_says_so(books):
    # when
    code, out, _ = run()
    # then
    report = ReconciliationReport.objects.get()
    assert code == 0
    assert report.sides == ["database", "pdf"]
    assert "export Oxygène non fourni : côté comptable non vérifié" in out


def test_without_any_pdf_the_pdf_side_is_left_out(books, tmp_path):
    # given
    empty = tmp_path / "empty"
    empty.mkdir()
    # when
    code, out, _ = run("--oxygen", str(books["export"]), "--pdf-dir", str(empty))
    # then
    report = ReconciliationReport.objects.get()
    assert code == 0
    assert report.sides == ["database", "oxygen"]
    assert f"aucun PDF dans {empty} : côté PDF non vérifié" in out


# --- the accounting side -----------------------------------------------------------------------------------


def test_an_invoice_missing_from_the_export(books):
    # given: F20260003's lines are not in the accounting export
    rewrite(books["export"], lambda rows: [r for r in rows if r[NUMBER] != "F20260003"])
    # when
    code, _, error = run("--oxygen", str(books["export"]))
    # then
    report = ReconciliationReport.objects.get()
    assert code == 1
    assert found(report) == [("missing", "F20260003", "oxygen", "document", "F20260003", "")]
    assert report.score == Decimal("75.00")
    assert "1 écart(s) ; score 75\u00a0% des 4 documents cohérents" in error
    assert report.discrepancies.get().reason == (
        "F20260003 (facture du 20/02/2026, 780,00\u00a0€ TTC) est dans la base mais absent de l'export "
        "Oxygène"
    )


def test_an_amount_differing_by_one_cent_in_the_export(books):
    # given: F20260002 booked 230,51 HT and 268,61 TTC instead of 230,50 and 268,60
    def one_cent(rows):
        for row in rows:
            if row[NUMBER] == "F20260002" and row[ACCOUNT] == "706000":
                row[CREDIT] = "230,51"
            if row[NUMBER] == "F20260002" and row[ACCOUNT].startswith("411"):
                row[DEBIT] = "268,61"
        return rows

    rewrite(books["export"], one_cent)
    # when
    code, _, _ = run("--oxygen", str(books["export"]))
    # then: which side, which amount, both values, to the cent
    report = ReconciliationReport.objects.get()
    assert code == 1
    assert found(report) == [
        ("amount", "F20260002", "oxygen", "total_ht", Decimal("230.50"), Decimal("230.51")),
        ("amount", "F20260002", "oxygen", "total_ttc", Decimal("268.60"), Decimal("268.61")),
    ]
    ht = report.discrepancies.get(item="total_ht")
    assert ht.reason == (
        "F20260002 : total HT de 230,51\u00a0€ dans l'export Oxygène (ligne 5), 230,50\u00a0€ dans la base "
        "(écart 0,01\u00a0€)"
    )


@pytest.mark.parametrize("where", ["at the end", "right after"])
def test_a_duplicated_number_in_the_export(books, where):
    # given: F20260001's entry booked twice
    def twice(rows):
        entry = [list(r) for r in rows if r[NUMBER] == "F20260001"]
        if where == "at the end":
            return rows + entry
        at = max(i for i, r in enumerate(rows) if r[NUMBER] == "F20260001") + 1
        return rows[:at] + entry + rows[at:]

    rewrite(books["export"], twice)
    # when
    code, _, _ = run("--oxygen", str(books["export"]))
    # then: reported once as a duplicate, its amounts still compared to the first entry
    report = ReconciliationReport.objects.get()
    assert code == 1
    assert found(report) == [("duplicate", "F20260001", "oxygen", "occurrences", "1", "2")]
    assert report.discrepancies.get().reason.startswith("F20260001 figure 2 fois dans l'export Oxygène")


def test_a_document_of_the_export_unknown_to_the_database(books):
    # given: F20260003's entry booked a second time under a number the database never issued
    rewrite(
        books["export"],
        lambda rows: (
            rows
            + [[c.replace("F20260003", "F20260099") for c in r] for r in rows if r[NUMBER] == "F20260003"]
        ),
    )
    # when
    code, _, _ = run("--oxygen", str(books["export"]))
    # then
    report = ReconciliationReport.objects.get()
    assert code == 1
    assert found(report) == [("unknown", "F20260099", "oxygen", "document", "", "F20260099")]
    # a document the database does not have lowers no database document's consistency
    assert report.score == Decimal("100.00")


def test_a_credit_note_booked_as_an_invoice_is_a_sign_difference(books):
    # given: A20260001 booked debit for credit
    def inverted(rows):
        for row in rows:
            if row[NUMBER] == "A20260001":
                row[DEBIT], row[CREDIT] = row[CREDIT], row[DEBIT]
        return rows

    rewrite(books["export"], inverted)
    # when
    run("--oxygen", str(books["export"]))
    # then
    report = ReconciliationReport.objects.get()
    assert found(report) == [
        ("amount", "A20260001", "oxygen", item, Decimal(amount), -Decimal(amount))
        for item, amount in (("total_ht", "100.00"), ("total_ttc", "120.00"), ("total_vat", "20.00"))
    ]
    assert "le signe est inversé" in report.discrepancies.first().reason


def test_a_real_accounting_export_is_read_as_well(books, tmp_path):
    """UTF-8, other column names in another order, an extra column, decimal point, the revenue split over
    two sales accounts, a bank journal in the same file: still consistent to the cent."""
    # given
    rows = list(csv.reader(io.StringIO(books["export"].read_bytes().decode(ENCODING)), delimiter=";"))
    out = [["Journal", "Libellé", "Crédit", "Débit", "Date", "Compte", "Pièce", "Analytique"]]
    for row in rows[1:]:
        debit, credit = (row[i].replace(",", ".") for i in (DEBIT, CREDIT))
        day = f"{row[7][6:]}/{row[7][4:6]}/{row[7][:4]}"
        cells = ["VE", row[9], credit, debit, day, row[ACCOUNT], row[NUMBER], "AXE1"]
        if row[ACCOUNT] == "706000" and row[NUMBER] == "F20260001":
            # 1000.00 booked as 600.00 on 706100 and 400.00 on 706200
            out.append([*cells[:2], "600.00", "", *cells[4:5], "706100", *cells[6:]])
            out.append([*cells[:2], "400.00", "", *cells[4:5], "706200", *cells[6:]])
        else:
            out.append(cells)
    out.append(["BQ", "Virement Pharmabest", "1078.00", "", "20/02/2026", "411C542051180", "RF55", ""])
    out.append(["BQ", "Virement Pharmabest", "", "1078.00", "20/02/2026", "512000", "RF55", ""])
    text = io.StringIO(newline="")
    csv.writer(text, delimiter=";").writerows(out)
    real = tmp_path / "grand-livre.csv"
    real.write_bytes(("\ufeff" + text.getvalue()).encode("utf-8"))
    # when
    code, _, error = run("--oxygen", str(real))
    # then
    report = ReconciliationReport.objects.get()
    assert (code, error) == (0, "")
    assert report.oxygen_documents == 4
    assert report.oxygen_ignored_lines == 2  # the bank journal


def test_the_export_without_its_header_row_is_read_positionally(books):
    # given
    rewrite(books["export"], lambda rows: rows[1:])
    # when
    code, _, error = run("--oxygen", str(books["export"]))
    # then
    assert (code, error) == (0, "")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda rows: [*rows[:3], [*rows[3][:CREDIT], "12,3,4", *rows[3][CREDIT + 1 :]], *rows[4:]],
         "ligne 4 : crédit « 12,3,4 » n'est pas un montant"),
        (lambda rows: [*rows[:2], rows[2][:8], *rows[3:]], "ligne 3 : 8 colonne(s), il en faut au moins 12"),
        (lambda rows: [[c.replace("DTOPE", "JOUR") for c in rows[0]], *rows[1:]],
         "ligne 1 : colonne(s) DTOPE introuvable(s) dans l'en-tête"),
        (lambda rows: [*rows[:5], [c.replace("20260210", "20261310") for c in rows[5]], *rows[6:]],
         "ligne 6 : date « 20261310 » illisible"),
        (lambda rows: [rows[0], *[[c.replace("VE", "BQ") for c in r] for r in rows[1:] if "706000" not in r]],
         "aucune écriture de vente"),
    ],
    ids=["amount", "short row", "header", "date", "no sales"],
)  # fmt: skip
def test_a_malformed_export_says_where_and_why_and_stores_nothing(books, edit, message):
    # given
    rewrite(books["export"], edit)
    # when
    code, _, error = run("--oxygen", str(books["export"]))
    # then
    assert code == 1
    assert message in error
    assert "rien n'a été enregistré" in error
    assert ReconciliationReport.objects.count() == 0
    assert Discrepancy.objects.count() == 0


# --- the PDF side ------------------------------------------------------------------------------------------


def test_a_pdf_missing_and_a_pdf_of_another_invoice_copied_under_a_number(books):
    pdfs = books["pdfs"]
    # given: F20260002's PDF is gone; F20260003's is F20260001's, copied under its name
    (pdfs / "2026/F20260002.pdf").unlink()
    replace_pdf(pdfs / "2026/F20260003.pdf", (pdfs / "2026/F20260001.pdf").read_bytes())
    # when
    code, _, _ = run("--oxygen", str(books["export"]))
    # then
    report = ReconciliationReport.objects.get()
    assert code == 1
    assert found(report) == [
        ("missing", "F20260002", "pdf", "document", "2026/F20260002.pdf", ""),
        ("other_pdf", "F20260003", "pdf", "number", "F20260003", "F20260001"),
    ]
    assert report.score == Decimal("50.00")
    assert report.discrepancies.get(kind="other_pdf").reason == (
        "2026/F20260003.pdf imprime le numéro F20260001 : c'est le PDF d'un autre document, pas celui de "
        "F20260003"
    )


def test_a_pdf_whose_printed_total_and_date_were_edited(books):
    # given: F20260001's PDF re-made with 1 199,99 € to pay and another issue date
    invoice = books["first"]
    html = invoice_html(invoice)
    assert "1\u202f200,00\u00a0€" in html
    assert "15/01/2026" in html
    edited = html.replace("1\u202f200,00\u00a0€", "1\u202f199,99\u00a0€").replace("15/01/2026", "16/01/2026")
    replace_pdf(books["pdfs"] / "2026/F20260001.pdf", html_to_pdf(edited))
    # when
    code, _, _ = run()
    # then
    report = ReconciliationReport.objects.get()
    assert code == 1
    assert found(report) == [
        ("amount", "F20260001", "pdf", "total_ttc", Decimal("1200.00"), Decimal("1199.99")),
        ("date", "F20260001", "pdf", "issue_date", "2026-01-15", "2026-01-16"),
    ]
    reasons = sorted(d.reason for d in report.discrepancies.all())
    assert reasons == [
        "F20260001 : le PDF est daté du 16/01/2026, la base du 15/01/2026",
        "F20260001 : total TTC de 1\u202f199,99\u00a0€ dans 2026/F20260001.pdf, 1\u202f200,00\u00a0€ dans la "
        "base (écart -0,01\u00a0€)",
    ]


def test_a_pdf_that_is_not_a_pdf_a_stray_pdf_and_a_number_filed_twice(books):
    # given: F20260002's PDF overwritten with garbage, a PDF under a number never issued, F20260001 filed
    # under 2025 as well as 2026
    pdfs = books["pdfs"]
    replace_pdf(pdfs / "2026/F20260002.pdf", b"not a pdf at all")
    shutil.copy(pdfs / "2026/F20260003.pdf", pdfs / "2026/F20260077.pdf")
    (pdfs / "2025").mkdir()
    shutil.copy(pdfs / "2026/F20260001.pdf", pdfs / "2025/F20260001.pdf")
    # when
    code, _, _ = run()
    # then
    report = ReconciliationReport.objects.get()
    assert code == 1
    assert [(kind, number, item) for kind, number, _, item, *_ in found(report)] == [
        ("duplicate", "F20260001", "occurrences"),
        ("unknown", "F20260077", "document"),
        ("unreadable", "F20260002", "document"),
    ]
    assert report.discrepancies.get(kind="duplicate").reason == (
        "F20260001 a 2 PDF : 2025/F20260001.pdf, 2026/F20260001.pdf"
    )


def test_totals_printed_on_the_last_page_of_a_long_invoice_are_read(seller, monkeypatch):
    # given: an invoice of 60 lines, whose totals fall on its last page
    lines = [LineSpec(f"Intervention n° {i}", Decimal("10.01")) for i in range(60)]
    invoice = issued(ClientFactory(), dt.date(2026, 3, 2), lines)
    path = invoice_pdf_ensure(invoice)
    assert len(PdfReader(path).pages) > 1
    # when: read without pypdf's slow general extraction (our pages never need it)
    with monkeypatch.context() as patched:
        patched.setattr(PageObject, "extract_text", lambda *a, **k: pytest.fail("slow path taken"))
        printed = read_pdf(str(path.parent.parent), "2026/" + path.name)
    # then
    assert (printed.number, printed.total_ht, printed.total_vat, printed.total_ttc) == (
        invoice.number,
        Decimal("600.60"),
        Decimal("120.12"),
        Decimal("720.72"),
    )
    code, _, error = run()
    assert (code, error) == (0, "")


def test_the_number_is_the_documents_even_when_the_address_or_a_line_says_n_and_total(seller):
    # given: « n° » in the seller's address, and a line whose description reads like a total
    seller.address_line1 = "Bâtiment n° 4, 12 rue de la République"
    seller.save()
    invoice = issued(
        ClientFactory(),
        dt.date(2026, 3, 2),
        [LineSpec("Total HT 99,00 € du devis", Decimal("100.00")), LineSpec("Audit", Decimal("50.00"))],
    )
    path = invoice_pdf_ensure(invoice)
    # when
    printed = read_pdf(str(path.parent.parent), f"2026/{path.name}")
    # then
    assert (printed.number, printed.total_ht, printed.total_ttc) == (
        invoice.number,
        Decimal("150.00"),
        Decimal("180.00"),
    )


def test_the_fast_reading_gives_what_pypdf_extract_text_gives(books):
    for name in ("F20260001", "F20260002", "A20260001"):
        # given
        page = PdfReader(books["pdfs"] / f"2026/{name}.pdf").pages[0]
        # when
        fast = printed_fields(pdf_source._weasyprint_text(page))
        # then
        assert fast == printed_fields(page.extract_text())
        assert fast["number"] == name


def test_many_pdfs_are_read_by_a_pool_of_processes(books, monkeypatch):
    # given: a pool even for four files
    monkeypatch.setattr(pdf_source, "POOL_THRESHOLD", 2)
    # when
    report = reconcile(oxygen_path=books["export"], workers=2)
    # then
    assert report.discrepancy_count == 0
    assert report.pdf_files == 4


def test_inside_a_django_q_worker_the_pdfs_are_read_without_a_pool(books, monkeypatch):
    """django-q's workers are daemonic processes, which may not start children: the weekly cycle's task
    must still read the PDFs (in its own process)."""
    # given
    monkeypatch.setattr(pdf_source, "POOL_THRESHOLD", 2)
    names = ["2026/F20260001.pdf", "2026/F20260002.pdf", "2026/F20260003.pdf"]
    results = multiprocessing.get_context("fork").Queue()

    def task():
        try:
            printed = pdf_source.read_pdfs(books["pdfs"], names, workers=2)
            results.put([p.number for p in printed])
        except Exception as exc:  # the failure is what the test reports
            results.put(repr(exc))

    # when
    worker = multiprocessing.get_context("fork").Process(target=task, daemon=True)
    worker.start()
    worker.join(60)
    # then
    assert results.get(timeout=5) == ["F20260001", "F20260002", "F20260003"]


def test_an_empty_database_has_no_score(db, tmp_path):
    # when
    code, out, _ = run("--pdf-dir", str(tmp_path))
    # then
    assert code == 0
    assert "aucun écart ; pas de score : aucun document émis dans la base (base)" in out


# --- numbering ---------------------------------------------------------------------------------------------


def test_a_gap_in_the_numbering(books, tmp_path):
    # given: a number handed out by the counter that no document carries, then F20260005 issued
    InvoiceSequence.objects.filter(series="F", year=2026).update(last_number=F("last_number") + 1)
    later = issued(books["third"].client, dt.date(2026, 2, 26), [LineSpec("Audit", Decimal("100.00"))])
    invoice_pdf_ensure(later)
    assert later.number == "F20260005"
    # when
    code, _, _ = run()
    # then
    report = ReconciliationReport.objects.get()
    assert code == 1
    assert found(report) == [("gap", "F20260004", "database", "numbering", "F20260004", "")]
    assert report.discrepancies.get().reason == (
        "trou dans la numérotation F 2026 : F20260004 n'est porté par aucun document émis"
    )
    assert report.score == Decimal("100.00")  # every document itself is consistent


# --- JSON --------------------------------------------------------------------------------------------------


def test_the_json_shape(books):
    # given
    rewrite(books["export"], lambda rows: [r for r in rows if r[NUMBER] != "F20260003"])
    # when
    code, out, _ = run("--oxygen", str(books["export"]), "--json")
    # then
    data = json.loads(out)
    assert code == 1
    assert set(data) == {
        "report", "at", "sides", "left_out", "sources", "documents", "consistent", "score", "summary",
        "counts", "discrepancies",
    }  # fmt: skip
    assert data["report"] == ReconciliationReport.objects.get().pk
    assert data["sides"] == ["database", "oxygen", "pdf"]
    assert data["left_out"] == []
    assert data["sources"] == {
        "database": {"documents": 4},
        "oxygen": {
            "checked": True,
            "file": str(books["export"]),
            "documents": 3,
            "lines": 10,
            "ignored_lines": 0,
            "period": {"from": "2026-01-01", "to": "2026-02-28"},
        },
        "pdf": {"checked": True, "dir": str(books["pdfs"]), "files": 4},
    }
    assert (data["documents"], data["consistent"], data["score"]) == (4, 3, "75.00")
    assert data["counts"] == {
        "missing": 1, "unknown": 0, "amount": 0, "date": 0, "duplicate": 0, "other_pdf": 0, "unreadable": 0,
        "gap": 0,
    }  # fmt: skip
    assert data["discrepancies"] == [
        {
            "kind": "missing",
            "number": "F20260003",
            "side": "oxygen",
            "item": "document",
            "expected": "F20260003",
            "found": "",
            "reason": "F20260003 (facture du 20/02/2026, 780,00\u00a0€ TTC) est dans la base mais absent de "
            "l'export Oxygène",
        }
    ]


def test_json_amounts_are_strings_to_the_cent(books):
    # given: F20260001 booked 1 000,10 HT
    rewrite(
        books["export"],
        lambda rows: [
            [*r[:CREDIT], "1000,10", *r[CREDIT + 1 :]]
            if r[ACCOUNT] == "706000" and r[NUMBER] == "F20260001"
            else r
            for r in rows
        ],
    )
    # when
    _, out, _ = run("--oxygen", str(books["export"]), "--json")
    # then
    (only,) = json.loads(out)["discrepancies"]
    assert (only["item"], only["expected"], only["found"]) == ("total_ht", "1000.00", "1000.10")


# --- admin -------------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="boss", is_superuser=True))
    return client


def test_the_admin_lists_and_shows_reports_and_discrepancies_read_only(books, admin_client):
    # given: a report with an amount discrepancy
    rewrite(
        books["export"],
        lambda rows: [
            [*r[:CREDIT], "1234,56", *r[CREDIT + 1 :]]
            if r[ACCOUNT] == "706000" and r[NUMBER] == "F20260001"
            else r
            for r in rows
        ],
    )
    report = reconcile(oxygen_path=books["export"])
    discrepancy = report.discrepancies.get()
    # when
    reports = admin_client.get(reverse("admin:reconciliation_reconciliationreport_changelist"))
    report_page = admin_client.get(
        reverse("admin:reconciliation_reconciliationreport_change", args=[report.pk])
    )
    listing = admin_client.get(
        reverse("admin:reconciliation_discrepancy_changelist"), {"kind__exact": "amount", "q": "F2026"}
    )
    other_kind = admin_client.get(
        reverse("admin:reconciliation_discrepancy_changelist"), {"kind__exact": "gap"}
    )
    page = admin_client.get(reverse("admin:reconciliation_discrepancy_change", args=[discrepancy.pk]))
    # then
    assert reports.status_code == report_page.status_code == listing.status_code == page.status_code == 200
    assert "75\u00a0%" in reports.content.decode()  # 3 of the 4 documents consistent
    assert "montant différent : 1" in report_page.content.decode()
    text = listing.content.decode()
    assert "1\u202f234,56\u00a0€" in text
    assert "1\u202f000,00\u00a0€" in text
    assert discrepancy.reason not in other_kind.content.decode()
    assert "1\u202f234,56\u00a0€" in page.content.decode()
    assert 'name="reason"' not in page.content.decode()
    add = admin_client.get(reverse("admin:reconciliation_discrepancy_add"))
    assert add.status_code == 403
