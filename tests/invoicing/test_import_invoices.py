import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from invoicing.models import Client, ClientAlias, Invoice, InvoiceLine, InvoiceSequence
from invoicing.models.invoice import Kind, Origin, Status
from invoicing.services.history_import import invoices_import_csv
from invoicing.services.invoices import LineSpec, invoice_create
from invoicing.services.lifecycle import invoice_approve_as_system
from invoicing.services.numbering import SequenceGapError, number_take, sequences_continue_after
from syaga.core.errors import InputError
from tests.factories import ClientFactory, make_invoice

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
HEADER = "Numéro;Date;Client;Désignation;Montant HT;TVA;Montant TTC;Réglée le"
# An InputError reads « ligne 3: reason » today and « ligne 3 : reason » (French spacing) soon: both match.
COLON = r" ?:"


def write(tmp_path, text: str, *, encoding: str = "utf-8", name: str = "export.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run(path, *args) -> str:
    out = io.StringIO()
    call_command("import_invoices", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def import_text(tmp_path, text: str, *, encoding: str = "utf-8", **kwargs):
    return invoices_import_csv(path=write(tmp_path, text, encoding=encoding), **kwargs)


# -- the happy path ---------------------------------------------------------------------------------


def test_an_export_is_imported_with_numbers_amounts_clients_and_payments(tmp_path):
    # given
    path = write(
        tmp_path,
        "\n".join(
            [
                HEADER,
                "F20250001;12/04/2025;SARL Pharmabest;Infogérance avril;1 000,00;200,00;1 200,00;01/05/2025",
                "F20250002;13/04/2025;Boulangerie Martin;Dépannage;150,50;30,10;180,60;",
            ]
        ),
    )
    # when
    output = run(path)
    # then
    assert "2 ligne(s) lue(s) : 2 facture(s) et 0 avoir(s) créé(s)" in output
    assert "0 ligne(s) sautée(s), déjà importée(s)" in output
    first = Invoice.objects.get(number="F20250001")
    assert (first.total_ht, first.total_vat, first.total_ttc) == (
        Decimal("1000.00"),
        Decimal("200.00"),
        Decimal("1200.00"),
    )
    assert first.origin == Origin.IMPORTED
    assert first.kind == Kind.INVOICE
    assert first.series == "F"
    assert first.status == Status.PAID
    assert first.amount_paid == Decimal("1200.00")
    assert first.paid_date == dt.date(2025, 5, 1)
    assert first.issue_date == dt.date(2025, 4, 12)
    assert first.due_date == dt.date(2025, 5, 12)  # no due date column: issue + 30 days
    assert first.subject == "Infogérance avril"
    assert first.client.name == "SARL Pharmabest"
    assert first.buyer_snapshot["name"] == "SARL Pharmabest"
    assert [(line.description, line.total_ht, line.vat_rate) for line in first.lines.all()] == [
        ("Infogérance avril", Decimal("1000.00"), Decimal("20.00"))
    ]
    second = Invoice.objects.get(number="F20250002")
    assert second.status == Status.ISSUED
    assert second.amount_paid == Decimal("0.00")
    assert second.paid_date is None


def test_every_header_alias_is_understood(tmp_path):
    # given: the other spelling of each column, in other case, accents and punctuation
    header = (
        "N° FACTURE,date d'émission,Date d'échéance,RAISON SOCIALE,libellé,Total HT,Montant TVA,"
        "Total TTC,Date de paiement"
    )
    path = write(
        tmp_path,
        header + '\nF20240007,03/02/2024,05/03/2024,Acme,Audit,"100,00","20,00","120,00",10/03/2024\n',
    )
    # when
    run(path)
    # then
    invoice = Invoice.objects.get(number="F20240007")
    assert invoice.due_date == dt.date(2024, 3, 5)
    assert invoice.paid_date == dt.date(2024, 3, 10)
    assert invoice.subject == "Audit"
    assert invoice.client.name == "Acme"
    assert invoice.total_ttc == Decimal("120.00")


@pytest.mark.parametrize(
    ("number", "date", "due", "client", "label", "ht", "vat", "ttc", "paid"),
    [
        (
            "Numéro",
            "Date",
            "Échéance",
            "Client",
            "Désignation",
            "Montant HT",
            "TVA",
            "Montant TTC",
            "Réglée le",
        ),
        (
            "Facture",
            "Date facture",
            "Echeance",
            "Nom client",
            "Objet",
            "Total HT",
            "Montant TVA",
            "Total TTC",
            "Date règlement",
        ),
        (
            "Num",
            "DATE FACTURE",
            "date_d_echeance",
            "nom-client",
            "OBJET",
            "montant ht",
            "tva",
            "total_ttc",
            "date de paiement",
        ),
    ],
)
def test_alias_sets(tmp_path, number, date, due, client, label, ht, vat, ttc, paid):
    # given
    header = ";".join([number, date, due, client, label, ht, vat, ttc, paid])
    row = "F20230001;01/06/2023;01/07/2023;Acme;Audit;100,00;20,00;120,00;02/07/2023"
    path = write(tmp_path, f"{header}\n{row}\n")
    # when
    report = invoices_import_csv(path=path)
    # then
    assert set(report.columns) == {
        "number",
        "issue_date",
        "due_date",
        "client",
        "label",
        "ht",
        "vat",
        "ttc",
        "paid_date",
    }
    invoice = Invoice.objects.get(number="F20230001")
    assert invoice.status == Status.PAID
    assert invoice.due_date == dt.date(2023, 7, 1)


# -- dialects ---------------------------------------------------------------------------------------


def test_comma_delimiter_with_decimal_point_and_iso_dates(tmp_path):
    # given
    text = "Numero,Date,Client,Montant HT,Montant TTC\nF20250010,2025-03-31,Acme,1234.50,1481.40\n"
    # when
    report = import_text(tmp_path, text)
    # then
    assert report.delimiter == ","
    invoice = Invoice.objects.get(number="F20250010")
    assert invoice.issue_date == dt.date(2025, 3, 31)
    assert (invoice.total_ht, invoice.total_vat) == (Decimal("1234.50"), Decimal("246.90"))


def test_decimal_commas_do_not_fool_the_delimiter_detection(tmp_path):
    # given: a ;-file whose data lines hold more commas than semicolons
    text = "Facture;Date;Client;Montant TTC\nF20250011;02/01/2025;Acme;1,20\nF20250012;03/01/2025;Acme;2,40\n"
    # when
    report = import_text(tmp_path, text)
    # then
    assert report.delimiter == ";"
    assert Invoice.objects.get(number="F20250012").total_ttc == Decimal("2.40")


def test_tab_separated_export(tmp_path):
    text = "Numéro\tDate\tClient\tMontant HT\nF20250013\t02/01/2025\tAcme\t10,00\n"
    report = import_text(tmp_path, text)
    assert report.delimiter == "\t"
    assert Invoice.objects.get(number="F20250013").total_ttc == Decimal("12.00")


def test_utf8_bom_is_ignored(tmp_path):
    # given
    path = write(
        tmp_path,
        HEADER + "\nF20250001;12/04/2025;Société Générale;Audit;100,00;20,00;120,00;\n",
        encoding="utf-8-sig",
    )
    # when
    report = invoices_import_csv(path=path)
    # then
    assert report.encoding == "utf-8-sig"
    assert report.columns["number"] == "Numéro"
    assert Invoice.objects.get(number="F20250001").client.name == "Société Générale"


def test_windows_1252_with_accents(tmp_path):
    # given
    path = write(
        tmp_path,
        HEADER + "\nF20250001;12/04/2025;Crèche Les Étoiles;Maintenance réseau;100,00;20,00;120,00;\n",
        encoding="cp1252",
    )
    # when
    report = invoices_import_csv(path=path)
    # then
    assert report.encoding == "cp1252"
    invoice = Invoice.objects.get(number="F20250001")
    assert invoice.client.name == "Crèche Les Étoiles"
    assert invoice.subject == "Maintenance réseau"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 234,56", "1234.56"),
        ("1\u00a0234,56", "1234.56"),
        ("1\u202f234,56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1234.56", "1234.56"),
        ("1 234", "1234.00"),
        ("1234,5 €", "1234.50"),
    ],
)
def test_thousands_separators_and_decimal_marks(tmp_path, text, expected):
    # when
    import_text(tmp_path, f"Numéro;Date;Client;Montant HT\nF20250020;01/01/2025;Acme;{text}\n")
    # then
    assert Invoice.objects.get(number="F20250020").total_ht == Decimal(expected)


def test_two_digit_years_and_iso_dates(tmp_path):
    # when
    import_text(
        tmp_path,
        "Numéro;Date;Échéance;Client;Montant TTC;Réglée le\n"
        "F20190001;05/02/19;2019-03-07;Acme;120,00;2019-03-01 00:00:00\n",
    )
    # then
    invoice = Invoice.objects.get(number="F20190001")
    assert (invoice.issue_date, invoice.due_date, invoice.paid_date) == (
        dt.date(2019, 2, 5),
        dt.date(2019, 3, 7),
        dt.date(2019, 3, 1),
    )


def test_title_lines_excel_sep_line_extra_columns_and_a_total_line_are_tolerated(tmp_path):
    # given
    text = (
        "sep=;\nExport des factures au 31/12/2024\n"
        "Code;Numéro;Date;Client;Mode;Montant TTC\n"
        'C01;="F20240001";01/12/2024;Acme;Virement;120,00\n'
        ";;;;Total;120,00\n"
    )
    # when
    report = import_text(tmp_path, text)
    # then
    assert report.rows_read == 2
    assert report.rows_ignored == 1
    assert report.warnings[0] == "lignes sans numéro, date ni client ignorées (des totaux ?) : ligne 5"
    assert Invoice.objects.get().number == "F20240001"


# -- amounts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ht", "vat", "ttc", "expected"),
    [
        ("100,00", "", "", ("100.00", "20.00", "120.00")),
        ("", "", "120,00", ("100.00", "20.00", "120.00")),
        ("", "", "100,00", ("83.33", "16.67", "100.00")),
        ("100,00", "5,50", "", ("100.00", "5.50", "105.50")),
        ("100,00", "", "110,00", ("100.00", "10.00", "110.00")),
        ("", "20,00", "120,00", ("100.00", "20.00", "120.00")),
        ("100,00", "20,01", "120,00", ("100.00", "20.00", "120.00")),  # a cent off: HT and TTC win
    ],
)
def test_missing_amounts_are_derived(tmp_path, ht, vat, ttc, expected):
    # when
    header = "Numéro;Date;Client;Montant HT;TVA;Montant TTC"
    import_text(tmp_path, f"{header}\nF20250030;01/01/2025;Acme;{ht};{vat};{ttc}\n")
    # then
    invoice = Invoice.objects.get(number="F20250030")
    assert (str(invoice.total_ht), str(invoice.total_vat), str(invoice.total_ttc)) == expected


def test_reduced_vat_rate_is_kept_on_the_line(tmp_path):
    import_text(tmp_path, "Numéro;Date;Client;Montant HT;TVA\nF20250031;01/01/2025;Acme;100,00;5,50\n")
    line = InvoiceLine.objects.get()
    assert line.vat_rate == Decimal("5.50")
    assert Invoice.objects.get().vat_breakdown == [{"rate": "5.50", "base_ht": "100.00", "vat": "5.50"}]


def test_several_rows_of_one_number_are_the_lines_of_one_invoice(tmp_path):
    # given
    text = (
        HEADER
        + "\n"
        + "\n".join(
            [
                "F20250040;01/02/2025;Acme;Forfait;500,00;100,00;600,00;",
                "F20250041;01/02/2025;Other;Audit;100,00;20,00;120,00;",
                "F20250040;01/02/2025;ACME SAS;Heures;220,00;44,00;264,00;15/03/2025",
            ]
        )
    )
    # when
    report = import_text(tmp_path, text)
    # then
    assert report.rows_read == 3
    assert report.invoices_created == 2
    assert report.lines_created == 3
    invoice = Invoice.objects.get(number="F20250040")
    assert (invoice.total_ht, invoice.total_vat, invoice.total_ttc) == (
        Decimal("720.00"),
        Decimal("144.00"),
        Decimal("864.00"),
    )
    assert [line.description for line in invoice.lines.order_by("position")] == ["Forfait", "Heures"]
    assert invoice.status == Status.PAID
    assert invoice.paid_date == dt.date(2025, 3, 15)


def test_negative_totals_become_credit_notes_with_positive_amounts(tmp_path):
    # when
    report = import_text(
        tmp_path,
        "Numéro;Date;Client;Désignation;Montant HT;TVA;Montant TTC\n"
        "A20250001;20/04/2025;Acme;Avoir;-50,00;-10,00;-60,00\n",
    )
    # then
    note = Invoice.objects.get(number="A20250001")
    assert note.kind == Kind.CREDIT_NOTE
    assert note.series == "A"
    assert (note.total_ht, note.total_vat, note.total_ttc) == (
        Decimal("50.00"),
        Decimal("10.00"),
        Decimal("60.00"),
    )
    assert note.lines.get().total_ht == Decimal("50.00")
    assert report.credit_notes_created == 1
    assert report.invoices_created == 0


# -- clients ----------------------------------------------------------------------------------------


def test_clients_are_reused_by_normalised_name(tmp_path):
    # given: a client already in the database, and one known under another name
    existing = ClientFactory(name="Boulangerie Martin")
    aliased = ClientFactory(name="Cabinet Durand")
    ClientAlias.objects.create(client=aliased, name="DURAND & ASSOCIES")
    text = "Numéro;Date;Client;Montant TTC\n" + "\n".join(
        [
            "F20250050;01/01/2025;SARL Pharmabest;120,00",
            "F20250051;02/01/2025;PHARMABEST;120,00",
            "F20250052;03/01/2025;Société Pharmabest S.A.R.L.;120,00",
            "F20250053;04/01/2025;BOULANGERIE MARTIN SAS;120,00",
            "F20250054;05/01/2025;Durand & Associés;120,00",
        ]
    )
    # when
    report = import_text(tmp_path, text)
    # then
    assert report.clients_created == 1
    assert report.clients_reused == 2
    assert Client.objects.count() == 3
    pharmabest = Invoice.objects.filter(number__in=["F20250050", "F20250051", "F20250052"])
    assert {invoice.client.name for invoice in pharmabest} == {"SARL Pharmabest"}
    assert Invoice.objects.get(number="F20250053").client == existing
    assert Invoice.objects.get(number="F20250054").client == aliased
    assert Client.objects.get(name="SARL Pharmabest").normalized_name == "PHARMABEST"


# -- errors: all or nothing -------------------------------------------------------------------------


def test_a_bad_amount_stops_the_import_with_exit_code_1_and_writes_nothing(tmp_path):
    # given: a good first row, a bad one on file line 3
    path = write(
        tmp_path,
        HEADER + "\nF20250001;12/04/2025;Acme;Audit;100,00;20,00;120,00;\n"
        "F20250002;13/04/2025;Newco;Audit;abc;;;\n",
    )
    # when
    with pytest.raises(
        CommandError, match=rf"^ligne 3{COLON} « abc » n'est pas un montant ; rien n'a été écrit$"
    ) as caught:
        run(path)
    # then
    assert caught.value.returncode == 1
    assert not Invoice.objects.exists()
    assert not Client.objects.exists()
    assert not InvoiceSequence.objects.exists()


def test_the_command_line_exits_with_code_1(tmp_path):
    # given: a bad row; the check fails before the database is read, so an empty SQLite file will do
    path = write(tmp_path, HEADER + "\nF20250001;12/04/2025;Acme;Audit;abc;;;\n")
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    # when
    done = subprocess.run(
        [sys.executable, "manage.py", "import_invoices", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then
    assert done.returncode == 1
    assert re.search(rf"ligne 2{COLON} « abc » n'est pas un montant ; rien n'a été écrit", done.stderr)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("F1;31/02/2025;Acme;x;100,00;;;", "date « 31/02/2025 » : ce jour n'existe pas"),
        ("F1;demain;Acme;x;100,00;;;", r"date « demain » illisible \(attendu jj/mm/aaaa"),
        ("F1;01/02/2025;Acme;x;100,00;;;hier", r"date « hier » illisible \(attendu jj/mm/aaaa"),
        ("F1;01/02/2025;Acme;x;;;;", r"aucun montant \(HT, TVA ou TTC\)"),
        (";01/02/2025;Acme;x;100,00;;;", "numéro de facture vide"),
        ("F1;01/02/2025;;x;100,00;;;", "client vide"),
        ("F1;;Acme;x;100,00;;;", "date vide"),
        (
            "F1;01/02/2025;Acme;x;100,00;20,00;130,00;",
            r"HT 100,00\xa0€ \+ TVA 20,00\xa0€ ne font pas le TTC 130,00\xa0€",
        ),
        (
            "F1;01/02/2025;Acme;x;100,00;-20,00;;",
            r"HT 100,00\xa0€, TVA -20,00\xa0€ et TTC 80,00\xa0€ ne sont pas du même signe",
        ),
    ],
)
def test_bad_rows_name_the_line_and_the_reason(tmp_path, row, message):
    with pytest.raises(InputError, match=rf"^ligne 2{COLON} {message}") as caught:
        import_text(tmp_path, f"{HEADER}\n{row}\n")
    assert caught.value.where == "ligne 2"
    assert re.match(message, caught.value.reason)
    assert not Invoice.objects.exists()


def test_conflicting_rows_of_one_invoice_are_refused(tmp_path):
    text = (
        HEADER + "\nF1;01/02/2025;Acme;x;100,00;;;\nF2;01/02/2025;Acme;x;100,00;;;\n"
        "F1;01/02/2025;Other;y;1,00;;;\n"
    )
    with pytest.raises(
        InputError,
        match=rf"^ligne 4{COLON} la facture F1 a ici le client « Other » mais « Acme » à la ligne 2$",
    ):
        import_text(tmp_path, text)
    text = HEADER + "\nF1;01/02/2025;Acme;x;100,00;;;\nF1;02/02/2025;Acme;y;1,00;;;\n"
    with pytest.raises(
        InputError,
        match=rf"^ligne 3{COLON} la facture F1 est datée ici du 02/02/2025 mais du 01/02/2025 à la ligne 2$",
    ):
        import_text(tmp_path, text)


def test_line_numbers_are_file_lines_even_with_blank_and_multiline_cells(tmp_path):
    # given: a label spread over two physical lines and a blank line before the bad row
    text = HEADER + '\nF1;01/02/2025;Acme;"two\nlines";100,00;;;\n\nF2;01/02/2025;Acme;x;1O0,00;;;\n'
    # when / then
    with pytest.raises(InputError, match=rf"^ligne 5{COLON} « 1O0,00 » n'est pas un montant$"):
        import_text(tmp_path, text)


def test_a_missing_required_column_names_it_and_the_headers_found(tmp_path):
    with pytest.raises(
        CommandError,
        match=rf"^ligne 1{COLON} colonne client manquante \(attendu l'un de : Raison sociale, .*\) ; "
        "en-têtes trouvés : « Numéro », « Date », « Total HT »",
    ):
        run(write(tmp_path, "Numéro;Date;Total HT\nF1;01/01/2025;100\n"))
    with pytest.raises(CommandError, match=rf"^ligne 1{COLON} colonne de montant manquante"):
        run(write(tmp_path, "Numéro;Date;Client\nF1;01/01/2025;Acme\n"))


def test_unquoted_decimal_commas_in_a_comma_file_are_refused_not_misread(tmp_path):
    with pytest.raises(
        InputError,
        match=rf"^ligne 2{COLON} 5 champs alors que l'en-tête en a 4 \(dans un fichier séparé par des "
        r"virgules, une virgule décimale doit être entre guillemets\)",
    ):
        import_text(tmp_path, "Numero,Date,Client,Montant TTC\nF1,01/01/2025,Acme,120,50\n")


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match=r"^fichier « .*nope\.csv » introuvable ; rien n'a été écrit$"):
        run(tmp_path / "nope.csv")


# -- dry run, re-import, numbering ------------------------------------------------------------------


def test_dry_run_reports_and_writes_nothing(tmp_path):
    # given
    path = write(tmp_path, HEADER + "\nF20250001;12/04/2025;Acme;Audit;100,00;20,00;120,00;\n")
    # when
    output = run(path, "--dry-run")
    # then
    assert "Simulation, rien n'a été écrit : 1 ligne(s) lue(s) : 1 facture(s) et 0 avoir(s) à créer" in output
    assert "120,00\u00a0€ TTC" in output
    assert not Invoice.objects.exists()
    assert not Client.objects.exists()
    assert not InvoiceSequence.objects.exists()


def test_running_the_same_file_again_creates_nothing_and_counts_the_skipped_rows(tmp_path):
    # given
    path = write(
        tmp_path,
        HEADER + "\nF20250001;12/04/2025;Acme;a;100,00;;;\n"
        "F20250001;12/04/2025;Acme;b;1,00;;;\nF20250002;13/04/2025;Beta;c;100,00;;;\n",
    )
    run(path)
    # when
    output = run(path)
    # then
    assert "3 ligne(s) sautée(s), déjà importée(s)" in output
    assert Invoice.objects.count() == 2
    assert InvoiceLine.objects.count() == 3
    assert Client.objects.count() == 2


def test_json_report(tmp_path):
    path = write(tmp_path, HEADER + "\nF20250001;12/04/2025;Acme;Audit;100,00;20,00;120,00;01/05/2025\n")
    report = json.loads(run(path, "--json"))
    assert report["invoices_created"] == 1
    assert report["paid"] == 1
    assert report["total_ttc"] == "120.00"
    assert report["rows_skipped"] == 0
    assert report["columns"]["number"] == "Numéro"


def test_numbering_continues_after_the_highest_imported_number_of_the_year(tmp_path, seller):
    # given: a history with a gap (13–411), accepted
    import_text(
        tmp_path,
        "Numéro;Date;Client;Montant HT\nF20250012;01/03/2025;Acme;10,00\n"
        "F20250412;01/04/2025;Acme;10,00\nF20240900;01/04/2024;Acme;10,00\n",
        accept_gaps=True,
    )
    client = Client.objects.get()
    # when
    draft = invoice_create(
        client=client,
        lines=[LineSpec(description="Audit", unit_price=Decimal("100"))],
        issue_date=dt.date(2025, 6, 1),
        submit=True,
    )
    issued = invoice_approve_as_system(invoice=draft, reason="test", issue_date=dt.date(2025, 6, 1))
    # then
    assert issued.number == "F20250413"


def test_the_import_does_not_query_per_row(tmp_path, django_assert_max_num_queries):
    # given
    rows = [f"F2025{i:04d};01/01/2025;Client {i % 7};Ligne;{i},00;;;" for i in range(1, 301)]
    path = write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n")
    # when / then: 300 invoices in batches, never a query per row (SQLite inserts ~30 invoices per query)
    with django_assert_max_num_queries(40):
        report = invoices_import_csv(path=path)
    assert report.invoices_created == 300
    assert Invoice.objects.count() == 300


def test_a_stream_can_be_imported_as_bytes_or_text():
    # given
    text = "Numéro;Date;Client;Montant HT\nF20250060;01/01/2025;Acme;10,00\n"
    # when
    invoices_import_csv(stream=io.BytesIO(text.encode("cp1252")))
    report = invoices_import_csv(stream=io.StringIO(text.replace("F20250060", "F20250061")))
    # then
    assert report.encoding == "text"
    assert set(Invoice.objects.values_list("number", flat=True)) == {"F20250060", "F20250061"}


def test_excel_unicode_text_export_utf16_tab_separated(tmp_path):
    # given: what Excel writes as "Texte Unicode"
    text = "\ufeffNuméro\tDate\tClient\tMontant TTC\nF20250062\t01/01/2025\tCafé Léon\t120,00\n"
    path = write(tmp_path, text, encoding="utf-16-le")
    # when
    report = invoices_import_csv(path=path)
    # then
    assert report.encoding == "utf-16"
    assert Invoice.objects.get().client.name == "Café Léon"


def test_a_large_file_imported_twice_is_skipped_entirely_the_second_time(tmp_path):
    # given: more numbers than the IN-query path handles, so the second run reads the stored numbers at once
    # (every 15th number of each year: gaps, accepted)
    rows = [
        f"F{2010 + i % 15}{i:05d};01/01/{2010 + i % 15};Client {i % 50};{i % 900 + 1},00" for i in range(6000)
    ]
    path = write(tmp_path, "Numéro;Date;Client;Montant HT\n" + "\n".join(rows) + "\n")
    first = invoices_import_csv(path=path, accept_gaps=True)
    # when
    second = invoices_import_csv(path=path, accept_gaps=True)
    # then
    assert first.invoices_created == 6000
    assert first.clients_created == 50
    assert second.invoices_created == 0
    assert second.rows_skipped == 6000
    assert Invoice.objects.count() == 6000


# -- issue 7: the history import never corrupts or hides ---------------------------------------------


def test_the_same_row_twice_is_refused_naming_both_lines(tmp_path):
    # given: one invoice of 120.00 TTC whose row was pasted twice
    row = "F20250001;12/04/2025;Acme;Audit;100,00;20,00;120,00;"
    path = write(tmp_path, f"{HEADER}\n{row}\nF20250002;13/04/2025;Beta;Audit;10,00;;;\n{row}\n")
    # when
    with pytest.raises(
        CommandError,
        match=rf"^ligne 4{COLON} même ligne que la ligne 2 \(facture F20250001, « Audit », "
        r"HT 100,00\xa0€\) : importer les deux compterait cette ligne deux fois",
    ) as caught:
        run(path)
    # then: not one invoice of 240.00, and nothing else either
    assert caught.value.returncode == 1
    assert str(caught.value).endswith(" ; rien n'a été écrit")
    assert not Invoice.objects.exists()
    assert not Client.objects.exists()


def test_the_same_row_written_another_way_is_still_the_same_row(tmp_path):
    # given: the same line, once with HT and VAT, once with TTC only and another spelling of the client
    text = (
        "Numéro;Date;Client;Désignation;Montant HT;TVA;Montant TTC\n"
        "F20250001;12/04/2025;Acme;Audit;100,00;20,00;\n"
        "F20250001;12/04/2025;ACME SAS;Audit;;;120,00\n"
    )
    # when / then
    with pytest.raises(InputError, match=rf"^ligne 3{COLON} même ligne que la ligne 2 "):
        import_text(tmp_path, text)
    assert not Invoice.objects.exists()


def test_rows_told_apart_by_a_column_the_import_does_not_read_are_two_lines(tmp_path):
    # given: a line-level export whose two lines differ only by their line number column
    text = (
        "Numéro;Ligne;Date;Client;Désignation;Montant HT\n"
        "F20250001;1;12/04/2025;Acme;Heures de régie;100,00\n"
        "F20250001;2;12/04/2025;Acme;Heures de régie;100,00\n"
    )
    # when
    report = import_text(tmp_path, text)
    # then
    invoice = Invoice.objects.get(number="F20250001")
    assert report.lines_created == 2
    assert invoice.lines.count() == 2
    assert invoice.total_ttc == Decimal("240.00")


def test_a_stored_number_with_other_content_is_refused_naming_the_fields(tmp_path):
    # given: F20250001 imported once
    run(write(tmp_path, f"{HEADER}\nF20250001;12/04/2025;Acme;Audit;100,00;20,00;120,00;\n", name="a.csv"))
    # when: another file says F20250001 is another invoice
    changed = write(
        tmp_path,
        f"{HEADER}\nF20250002;13/04/2025;Acme;Audit;10,00;;;\n"
        "F20250001;14/04/2025;Beta;Audit;200,00;40,00;240,00;\n",
        name="b.csv",
    )
    with pytest.raises(CommandError) as caught:
        run(changed)
    # then: the line, the number and each field that differs; nothing of the second file written
    message = str(caught.value)
    assert re.match(
        rf"ligne 3{COLON} la facture F20250001 est déjà en base avec un autre contenu : ", message
    )
    assert "client « Beta » dans le fichier, « Acme » en base" in message
    assert "date 14/04/2025 dans le fichier, 12/04/2025 en base" in message
    assert "total TTC 240,00\u00a0€ dans le fichier, 120,00\u00a0€ en base" in message
    assert "total HT 200,00\u00a0€ dans le fichier, 100,00\u00a0€ en base" in message
    assert caught.value.returncode == 1
    assert list(Invoice.objects.values_list("number", flat=True)) == ["F20250001"]
    assert Invoice.objects.get().total_ttc == Decimal("120.00")


def test_a_stored_number_whose_lines_differ_is_refused(tmp_path):
    # given: an invoice imported with two lines
    first = (
        f"{HEADER}\nF20250001;12/04/2025;Acme;Audit;100,00;;;\nF20250001;12/04/2025;Acme;Heures;20,00;;;\n"
    )
    run(write(tmp_path, first, name="a.csv"))
    # when: the same totals, split otherwise
    second = f"{HEADER}\nF20250001;12/04/2025;Acme;Audit;120,00;;;\n"
    with pytest.raises(CommandError, match=rf"^ligne 2{COLON} .* 1 ligne\(s\) dans le fichier, 2 en base"):
        run(write(tmp_path, second, name="b.csv"))
    # then
    assert InvoiceLine.objects.count() == 2


def test_a_number_issued_here_is_not_silently_taken_for_an_imported_one(tmp_path, seller):
    # given: F20250001 issued by the application for 120.00 TTC
    issued = make_invoice(status=Status.ISSUED, issue_date=dt.date(2025, 4, 12))
    assert issued.number == "F20250001"
    # when: the old tool's export also has an F20250001, for another amount
    path = write(tmp_path, f"{HEADER}\nF20250001;12/04/2025;{issued.client.name};Audit;50,00;10,00;60,00;\n")
    with pytest.raises(
        CommandError,
        match=rf"^ligne 2{COLON} la facture F20250001 .* total TTC 60,00\xa0€ dans le fichier, "
        r"120,00\xa0€ en base",
    ):
        run(path)
    # then
    assert Invoice.objects.get().total_ttc == Decimal("120.00")


def test_the_same_content_again_is_skipped_even_after_a_payment_recorded_here(tmp_path):
    # given: an unpaid invoice imported, then paid here (through the bank)
    path = write(tmp_path, f"{HEADER}\nF20250001;12/04/2025;Acme;Audit;100,00;20,00;120,00;\n")
    run(path)
    Invoice.objects.filter(number="F20250001").update(
        status=Status.PAID, amount_paid=Decimal("120.00"), paid_date=dt.date(2025, 5, 2)
    )
    # when
    output = run(path)
    # then
    assert "1 ligne(s) sautée(s), déjà importée(s)" in output
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (
            "100,555",
            r"montant « 100,555 » ambigu : 100555 avec un séparateur de milliers, ou 100,555 avec trois "
            r"décimales \? Écrivez-le avec ses centimes \(100555,00 ou 100,55\)",
        ),
        ("1.234", r"montant « 1\.234 » ambigu : 1234 avec un séparateur de milliers, ou 1,234 avec trois"),
        ("1,234", r"montant « 1,234 » ambigu : 1234 avec un séparateur de milliers"),
        ("0,555", r"montant « 0,555 » : plus de deux décimales"),
        ("1234,567", r"montant « 1234,567 » : plus de deux décimales"),
        ("1 234,5678", r"montant « 1 234,5678 » : plus de deux décimales"),
        ("1.234,567", r"montant « 1\.234,567 » : plus de deux décimales"),
    ],
)
def test_ambiguous_amounts_are_refused_naming_the_line(tmp_path, amount, reason):
    # given
    path = write(
        tmp_path,
        f"{HEADER}\nF20250001;12/04/2025;Acme;Audit;10,00;;;\nF20250002;12/04/2025;Acme;x;{amount};;;\n",
    )
    # when / then
    with pytest.raises(CommandError, match=rf"^ligne 3{COLON} {reason}"):
        run(path)
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.56", "1234.56"),
        ("1234.5", "1234.50"),
        ("1.234.567,89", "1234567.89"),
        ("1,234,567", "1234567.00"),
        ("100,5", "100.50"),
        ("0,50", "0.50"),
    ],
)
def test_unambiguous_amounts_still_read(tmp_path, text, expected):
    # when
    import_text(tmp_path, f'Numéro;Date;Client;Montant HT\nF20250020;01/01/2025;Acme;"{text}"\n')
    # then
    assert Invoice.objects.get(number="F20250020").total_ht == Decimal(expected)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "F20250002;12/04/2025;Acme;x;123456789012345;;;",
            r"ligne 3 ?: montant « 123456789012345 » trop grand "
            r"\(au plus 999\u202f999\u202f999\u202f999,99\xa0€\)",
        ),
        (
            "F20250002;12/04/2025;Acme;x;999999999999,99;;;",
            r"ligne 3 ?: HT 999\u202f999\u202f999\u202f999,99\xa0€, "
            r"TVA 200\u202f000\u202f000\u202f000,00\xa0€, "
            r"TTC 1\u202f199\u202f999\u202f999\u202f999,99\xa0€ : trop grand \(au plus",
        ),
        (
            "F20250002;12/04/9999;Acme;x;100,00;;;",
            r"ligne 3 ?: date « 12/04/9999 » (hors limites|dans le futur)",
        ),
        (
            "F20250002;12/04/2025;Acme;x;100,00;;;25/12/9999",
            r"ligne 3 ?: date « 25/12/9999 » hors limites \(années 1900 à 2099\)",
        ),
        (
            "F20250002;12/04/2025;Ac\x00me;x;100,00;;;",
            r"ligne 3 ?: la ligne contient un octet NUL : ce n'est pas un export texte, ou pas en utf-8",
        ),
    ],
)
def test_hostile_cells_are_a_line_and_a_reason_and_write_nothing(tmp_path, row, message):
    # given: a good row, then the hostile one
    path = write(tmp_path, f"{HEADER}\nF20250001;12/04/2025;Acme;Audit;10,00;;;\n{row}\n")
    # when
    with pytest.raises(CommandError, match=rf"^{message}") as caught:
        run(path)
    # then
    assert caught.value.returncode == 1
    assert not Invoice.objects.exists()
    assert not Client.objects.exists()


def test_a_number_beyond_what_a_counter_holds_is_a_line_and_a_reason(tmp_path):
    # given: a typo'd number whose sequence (9,999,999,999) does not fit the counter's integer column
    path = write(tmp_path, f"{HEADER}\nF20259999999999;12/04/2025;Acme;Audit;10,00;;;\n")
    # when / then
    with pytest.raises(
        CommandError,
        match=rf"^ligne 2{COLON} numéro de facture F20259999999999 : le rang 9999999999 dépasse ce que tient "
        r"un compteur de numérotation \(2147483647\)",
    ):
        run(path, "--accept-gaps")
    assert not Invoice.objects.exists()


def test_an_issue_date_in_the_future_is_refused(tmp_path):
    # given: a history invoice dated tomorrow
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    path = write(tmp_path, f"{HEADER}\nF20250001;{tomorrow:%d/%m/%Y};Acme;Audit;10,00;;;\n")
    # when / then
    today = timezone.localdate()
    with pytest.raises(
        CommandError,
        match=rf"^ligne 2{COLON} date « {tomorrow:%d/%m/%Y} » dans le futur \(après le {today:%d/%m/%Y}\)",
    ):
        run(path)


def test_a_label_too_long_for_a_line_is_cut_and_the_report_says_so(tmp_path):
    # when
    report = import_text(tmp_path, f"{HEADER}\nF20250001;12/04/2025;Acme;{'x' * 600};10,00;;;\n")
    # then
    assert InvoiceLine.objects.get().description == "x" * 500
    assert "libellés de plus de 500 caractères coupés : ligne 2" in report.warnings


def test_the_rows_of_an_invoice_may_not_add_up_beyond_what_the_database_holds(tmp_path):
    rows = "\n".join(f"F20250001;12/04/2025;Acme;line {n};900000000000,00;0,00;;" for n in range(2))
    with pytest.raises(
        InputError,
        match=rf"^ligne 2{COLON} les lignes de la facture F20250001 totalisent "
        r"TTC 1\u202f800\u202f000\u202f000\u202f000,00\xa0€ : trop grand",
    ):
        import_text(tmp_path, f"{HEADER}\n{rows}\n")


def test_a_20_mb_line_is_a_line_and_a_reason(tmp_path):
    # given: a 20 MB label on the second line
    path = write(tmp_path, f"{HEADER}\nF20250001;12/04/2025;Acme;{'x' * 20_000_000};10,00;;;\n")
    # when / then
    with pytest.raises(
        CommandError,
        match=rf"^ligne 2{COLON} la ligne fait 20\u202f000\u202f0\d\d caractères "
        r"\(au plus 100\u202f000 pour une ligne d'export\)",
    ):
        run(path)
    assert not Invoice.objects.exists()


def test_a_20_mb_first_line_gives_no_traceback(tmp_path):
    # given: not an export at all, one 20 MB line; the check fails before the database is read
    path = tmp_path / "huge.csv"
    path.write_text("x" * 20_000_000 + "\n")
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    # when
    done = subprocess.run(
        [sys.executable, "manage.py", "import_invoices", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert re.search(rf"ligne 1{COLON} la ligne fait 20\u202f000\u202f001 caractères", done.stderr)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", rf"^ligne 1{COLON} le fichier est vide : ni en-tête, ni facture"),
        ("\n\n  \n", rf"^ligne 1{COLON} le fichier est vide : ni en-tête, ni facture"),
        (HEADER + "\n", rf"^ligne 1{COLON} aucune ligne de facture sous l'en-tête"),
        (
            HEADER + "\n;;;;Total;0,00;;\n",
            rf"^ligne 2{COLON} aucune facture dans le fichier : "
            "aucune ligne n'a de numéro, de date ni de client",
        ),
    ],
)
def test_a_file_without_invoices_is_an_error(tmp_path, content, message):
    with pytest.raises(CommandError, match=message) as caught:
        run(write(tmp_path, content))
    assert caught.value.returncode == 1


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_recognised(tmp_path, encoding):
    # given: UTF-16 text saved without its byte order mark
    text = f"{HEADER}\nF20250001;12/04/2025;Café Léon;Audit;100,00;20,00;120,00;\n"
    # when
    report = import_text(tmp_path, text, encoding=encoding)
    # then
    assert report.encoding == encoding
    assert Invoice.objects.get().client.name == "Café Léon"


def test_utf16_without_bom_that_does_not_decode_is_an_encoding_problem(tmp_path):
    # given: UTF-16-LE text cut in the middle of a letter (an odd number of bytes), then a lone surrogate
    data = f"{HEADER}\nF20250001;12/04/2025;Acme;Audit;100,00;;;\n".encode("utf-16-le") + b"\x00\xd8A\x00"
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    # when / then
    with pytest.raises(
        CommandError,
        match=rf"^ligne 3{COLON} le fichier ressemble à de l'UTF-16 sans son indicateur d'ordre des octets "
        r"\(BOM\) mais ne se lit pas en utf-16-le",
    ):
        run(path)


def test_a_forced_encoding_that_does_not_fit_names_the_line(tmp_path):
    # given: a Windows-1252 file read as UTF-8, its first accent on line 3
    text = (
        "Numero;Date;Client;Montant HT\nF20250001;12/04/2025;Acme;10,00\nF20250002;12/04/2025;Crèche;10,00\n"
    )
    path = write(tmp_path, text, encoding="cp1252")
    # when / then
    with pytest.raises(
        CommandError,
        match=rf"^ligne 3{COLON} le fichier ne se lit pas en utf-8 : octet de (début|suite) invalide",
    ):
        run(path, "--encoding", "utf-8")


def _issue_2026(count: int) -> None:
    for day in range(1, count + 1):
        make_invoice(status=Status.ISSUED, issue_date=dt.date(2026, 1, day))


def _next_number(series: str, year: int) -> str:
    with transaction.atomic():
        number = number_take(series=series, year=year)
        transaction.set_rollback(True)
    return number


def test_a_typo_does_not_move_a_live_counter_across_a_gap(tmp_path, seller):
    # given: F20260001–F20260005 issued here; the export has a typo'd F20269000
    _issue_2026(5)
    path = write(tmp_path, f"{HEADER}\nF20269000;20/01/2026;Acme;Audit;100,00;;;\n")
    # when
    with pytest.raises(CommandError) as caught:
        run(path)
    # then: the line of the jumping number and the gap; the next real invoice is still F20260006
    assert re.match(
        rf"ligne 2{COLON} F20269000 ferait passer le compteur de numérotation F2026 de 5 à 9000 en sautant "
        "les numéros 6–8999 manquants, qu'aucune facture ne pourrait plus jamais porter",
        str(caught.value),
    )
    assert "--accept-gaps" in str(caught.value)
    assert caught.value.returncode == 1
    assert not Invoice.objects.filter(origin=Origin.IMPORTED).exists()
    assert InvoiceSequence.objects.get(series="F", year=2026).last_number == 5
    assert _next_number("F", 2026) == "F20260006"


def test_a_dry_run_refuses_the_same_gap(tmp_path, seller):
    _issue_2026(5)
    path = write(tmp_path, f"{HEADER}\nF20269000;20/01/2026;Acme;Audit;100,00;;;\n")
    with pytest.raises(CommandError, match=rf"^ligne 2{COLON} F20269000 ferait passer le compteur"):
        run(path, "--dry-run")


def test_accept_gaps_moves_the_counter_and_the_report_states_the_gap(tmp_path, seller):
    # given
    _issue_2026(5)
    path = write(tmp_path, f"{HEADER}\nF20269000;20/01/2026;Acme;Audit;100,00;;;\n")
    # when
    output = run(path, "--accept-gaps")
    # then
    assert "attention : trou de numérotation F2026 : numéros 6–8999 manquants" in output
    assert Invoice.objects.filter(number="F20269000").exists()
    assert _next_number("F", 2026) == "F20269001"


def test_the_json_report_lists_the_gaps(tmp_path, seller):
    _issue_2026(2)
    path = write(tmp_path, f"{HEADER}\nF20260004;20/01/2026;Acme;Audit;100,00;;;\n")
    report = json.loads(run(path, "--accept-gaps", "--json"))
    assert report["gaps"] == [{"series": "F", "year": 2026, "first": 3, "last": 3}]


def test_a_gap_inside_a_new_series_is_refused_but_a_history_may_start_anywhere(tmp_path):
    # given: no counter yet; a history that starts at F20250020, then jumps from 21 to 900
    text = (
        "Numéro;Date;Client;Montant HT\nF20250020;01/01/2025;Acme;10,00\nF20250021;02/01/2025;Acme;10,00\n"
        "F20250900;03/01/2025;Acme;10,00\n"
    )
    # when / then: the jump is refused, not the missing 1–19 before the first number
    with pytest.raises(
        InputError,
        match=rf"^ligne 4{COLON} F20250900 porterait le nouveau compteur de numérotation F2025 à 900 "
        "en sautant les numéros 22–899 manquants",
    ):
        import_text(tmp_path, text)
    assert not InvoiceSequence.objects.exists()
    # when: without the jump
    report = import_text(tmp_path, text.rsplit("F20250900", 1)[0])
    # then: imported, the numbers before the history reported
    assert report.invoices_created == 2
    assert "trou de numérotation F2025 : numéros 1–19 manquants" in report.warnings
    assert InvoiceSequence.objects.get(series="F", year=2025).last_number == 21


def test_numbers_that_fill_the_way_move_the_counter_without_a_gap(tmp_path, seller):
    # given: F20260001–F20260002 issued here
    _issue_2026(2)
    path = write(
        tmp_path, f"{HEADER}\nF20260004;20/01/2026;Acme;b;10,00;;;\nF20260003;19/01/2026;Acme;a;10,00;;;\n"
    )
    # when
    report = invoices_import_csv(path=path)
    # then
    assert report.gaps == []
    assert _next_number("F", 2026) == "F20260005"


def test_the_counter_move_itself_refuses_a_gap_under_its_lock():
    # given: a live counter at 5
    InvoiceSequence.objects.create(series="F", year=2026, last_number=5)
    # when / then: the check the import makes before writing holds again when the counter is locked
    with pytest.raises(
        SequenceGapError, match="F20269000 would move the counter F2026 from 5 across missing numbers 6–8999"
    ):
        sequences_continue_after(["F20269000"], accept_gaps=False)
    assert InvoiceSequence.objects.get(series="F", year=2026).last_number == 5
