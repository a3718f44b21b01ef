"""Clockify's CSV exports come in, in English or French, whatever the exporting user's formats; all or
nothing, and once."""

import datetime as dt
import re
import shutil
from decimal import Decimal
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from syaga.core.errors import InputError
from tests.factories import ClientFactory, ContractFactory
from timetracking.models import Category, Consultant, Source, TimeEntry
from timetracking.services.csv_import import clockify_csv_import
from timetracking.services.entries import natural_key

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"
PARIS = ZoneInfo("Europe/Paris")
HEADER = (
    '"Project","Client","Description","Task","User","Group","Email","Tags","Billable","Start Date",'
    '"Start Time","End Date","End Time","Duration (h)","Duration (decimal)","Billable Rate (EUR)",'
    '"Billable Amount (EUR)"\n'
)

ROW = {
    "project": "A",
    "client": "Garage Martin",
    "description": "x",
    "task": "",
    "user": "Jean",
    "group": "",
    "email": "jean@syaga.fr",
    "tags": "",
    "billable": "Yes",
    "start_date": "03/16/2026",
    "start_time": "09:00",
    "end_date": "03/16/2026",
    "end_time": "10:00",
    "duration": "01:00:00",
    "decimal": "1.00",
    "rate": "110.00",
    "amount": "110.00",
}


def row(**changes) -> str:
    """One data line under HEADER: a valid entry, with ``changes``."""
    return ",".join(f'"{value}"' for value in {**ROW, **changes}.values()) + "\n"


@pytest.fixture
def firm(seller):
    pharmabest = ClientFactory(name="Pharmabest SAS")
    ContractFactory(client=pharmabest, start_date=dt.date(2025, 1, 1))
    martin = ClientFactory(name="Garage Martin SARL", hourly_rate=Decimal("95.00"))
    return pharmabest, martin


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def local(entry):
    return entry.start.astimezone(PARIS)


def test_the_default_english_export_us_dates_12_hour_times(firm):
    # when
    report = clockify_csv_import(paths=[DATA / "clockify_en_us.csv"])
    # then
    assert report.counts.created == 5
    assert report.files[0].date_format == "mdy"
    entries = {e.description: e for e in TimeEntry.objects.select_related("consultant", "client")}
    backup = entries["Contrôle des sauvegardes"]
    assert local(backup) == dt.datetime(2026, 3, 2, 9, 0, tzinfo=PARIS)
    assert backup.end.astimezone(PARIS) == dt.datetime(2026, 3, 2, 11, 30, tzinfo=PARIS)
    assert backup.duration_seconds == 9000
    assert (backup.client, backup.project, backup.task) == (firm[0], "Infogérance", "Sauvegardes")
    assert backup.consultant.email == "jean@syaga.fr"
    assert backup.source == Source.CSV
    assert backup.clockify_id is None
    migration = entries['Migration de la messagerie, "urgente"']
    assert migration.tags == ["hors forfait", "urgent"]
    assert local(migration).time() == dt.time(14, 0)
    assert migration.duration_seconds == 4530
    assert migration.category == Category.FACTURABLE  # contract client, tagged hors forfait
    assert backup.category == Category.FORFAIT
    audit = entries["Audit du réseau"]
    assert local(audit) == dt.datetime(2026, 3, 16, 9, 5, 12, tzinfo=PARIS)
    assert audit.client == firm[1]  # "Garage Martin" is "Garage Martin SARL"
    assert audit.category == Category.FACTURABLE
    assert entries["Lecture technique"].category == Category.INTERNE  # SYAGA: the firm itself
    assert entries["Lecture technique"].billable is False
    night = entries["Rapport d'audit"]
    assert night.end.astimezone(PARIS) == dt.datetime(2026, 3, 18, 0, 30, tzinfo=PARIS)
    assert sorted(Consultant.objects.values_list("name", flat=True)) == ["Jean Dupont", "Marie Curie"]


def test_the_24_hour_day_first_compact_export_with_bom_crlf_and_a_break(firm):
    # when
    report = clockify_csv_import(paths=[DATA / "clockify_en_24h_dmy.csv"])
    # then
    assert report.files[0].date_format == "dmy"
    assert report.not_work == 1
    assert report.counts.created == 3
    call = TimeEntry.objects.get(description="Appel client")
    assert local(call) == dt.datetime(2026, 3, 23, 14, 0, tzinfo=PARIS)
    assert call.duration_seconds == 13 * 60
    assert (
        TimeEntry.objects.get(description="Mise à jour des postes").category == Category.FACTURABLE
    )  # extra
    assert TimeEntry.objects.get(description="Réunion interne").category == Category.INTERNE  # no client


def test_the_french_export_dotted_dates_oui_non_decimal_comma(firm):
    # when
    report = clockify_csv_import(paths=[DATA / "clockify_fr.csv"])
    # then
    assert report.counts.created == 3
    assert report.files[0].columns["billable"] == "Facturable"
    switch = TimeEntry.objects.get(description="Remplacement du commutateur")
    assert local(switch) == dt.datetime(2026, 3, 26, 13, 45, tzinfo=PARIS)
    assert switch.duration_seconds == 3 * 3600 + 15 * 60
    assert (switch.task, switch.tags, switch.billable) == ("Intervention", ["sur site"], True)
    assert TimeEntry.objects.get(description="Formation Microsoft 365").billable is False


def test_iso_dates_short_12_hour_times_and_decimal_durations_either_way(firm):
    # when
    clockify_csv_import(paths=[DATA / "clockify_iso_12h.csv"])
    # then
    firewall, tests = TimeEntry.objects.order_by("start")
    assert local(firewall) == dt.datetime(2026, 3, 30, 10, 23, tzinfo=PARIS)
    assert firewall.duration_seconds == 4500
    assert firewall.task == "Intervention"  # the column is titled Activity
    assert local(tests) == dt.datetime(2026, 3, 30, 12, 15, tzinfo=PARIS)
    assert tests.duration_seconds == 1800
    assert tests.end - tests.start == dt.timedelta(minutes=30)


def test_importing_again_creates_nothing(firm):
    # given
    paths = sorted(DATA.glob("*.csv"))
    first = clockify_csv_import(paths=paths)
    # when
    again = clockify_csv_import(paths=paths)
    # then
    assert first.counts.created == 13
    assert (again.counts.created, again.counts.updated, again.counts.unchanged) == (0, 0, 13)
    assert TimeEntry.objects.count() == 13


def test_one_file_given_twice_is_imported_once(firm):
    path = DATA / "clockify_fr.csv"
    report = clockify_csv_import(paths=[path, path])
    assert report.counts.created == 3
    assert TimeEntry.objects.count() == 3


def test_a_bad_row_stops_everything_with_its_line_and_reason(firm, tmp_path):
    # given: a good file, then a file whose third data row has an impossible time
    rows = [row(description="ok"), row(description="ok 2"), row(description="bad", start_time="25:00")]
    bad = write(tmp_path, "march.csv", HEADER + "".join(rows))
    # when
    with pytest.raises(CommandError) as caught:
        call_command("import_clockify", str(DATA / "clockify_fr.csv"), str(bad), stdout=StringIO())
    # then: the place, the reason and what became of the import, in French (« : » or ": " after the place)
    assert re.fullmatch(
        r"march\.csv, ligne 4\s?: l'heure de début « 25:00 » n'est pas une heure de la journée ; "
        r"rien n'a été enregistré",
        str(caught.value),
    )
    assert TimeEntry.objects.count() == 0
    assert Consultant.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"billable": "Maybe"}, "facturable « Maybe » : attendu Oui ou Non (Yes/No)"),
        (
            {"end_time": "08:00"},
            "la saisie finit (16/03/2026 08:00) avant de commencer (16/03/2026 09:00)",
        ),
        (
            {"duration": "03:00:00"},
            "du 16/03/2026 09:00 au 16/03/2026 10:00, la saisie dure 1\u00a0h\u00a000 mais la colonne durée "
            "indique 3\u00a0h\u00a000 : les dates sont-elles bien au format MM/JJ/AAAA ?",
        ),
        (
            {"start_date": "02/30/2026", "end_date": "02/30/2026"},
            "la date de début « 02/30/2026 » n'existe pas (lue comme MM/JJ/AAAA)",
        ),
        ({"user": "", "email": ""}, "ni utilisateur ni e-mail : à qui est ce temps ?"),
        (
            {"start_time": "13:00 PM"},
            "l'heure de début « 13:00 PM » : une heure sur 12 (AM/PM) va de 1 à 12",
        ),
        (
            {"start_date": "16 mars"},
            "la date de début « 16 mars » n'est pas une date "
            "(MM/JJ/AAAA, JJ/MM/AAAA, JJ.MM.AAAA ou AAAA-MM-JJ)",
        ),
        (
            {"duration": "une heure"},
            "la durée « une heure » n'est ni HH:MM:SS, ni H:MM, ni un nombre d'heures (1,5)",
        ),
        ({"duration": "", "end_time": "", "decimal": "1h"}, "la durée « 1h » n'est pas un nombre d'heures"),
    ],
)
def test_each_kind_of_bad_row_is_named(tmp_path, changes, reason):
    path = write(tmp_path, "x.csv", HEADER + row(**changes))
    with pytest.raises(InputError) as caught:
        clockify_csv_import(paths=[path])
    assert caught.value.where == "x.csv, ligne 2"
    assert caught.value.reason.startswith(reason)
    assert TimeEntry.objects.count() == 0


def test_a_row_with_cells_missing_is_named(tmp_path):
    path = write(tmp_path, "x.csv", HEADER + '"A","C","x"\n')
    with pytest.raises(InputError) as caught:
        clockify_csv_import(paths=[path])
    assert caught.value.where == "x.csv, ligne 2"
    assert caught.value.reason == "3 cellule(s) alors que l'en-tête a 17 colonnes"
    assert re.fullmatch(
        r"x\.csv, ligne 2\s?: 3 cellule\(s\) alors que l'en-tête a 17 colonnes", str(caught.value)
    )


def test_a_file_with_both_date_orders_names_both_lines(tmp_path):
    # given: line 2 can only be day-first (16/03), line 3 only month-first (03/17)
    text = HEADER + row(start_date="16/03/2026", end_date="16/03/2026")
    text += row(start_date="03/17/2026", end_date="03/17/2026")
    path = write(tmp_path, "mix.csv", text)
    # when
    with pytest.raises(InputError) as caught:
        clockify_csv_import(paths=[path])
    # then
    assert caught.value.where == "mix.csv, ligne 3"
    assert caught.value.reason == (
        "les dates sont écrites jour/mois ligne 2 et mois/jour ligne 3 : un export par format de date"
    )


def test_an_entry_id_seen_twice_names_the_first_line(tmp_path):
    header = HEADER.replace('"Billable Amount (EUR)"', '"Billable Amount (EUR)","ID"')
    text = header + row().replace("\n", ',"e-1"\n') + row(description="y").replace("\n", ',"e-1"\n')
    path = write(tmp_path, "ids.csv", text)
    with pytest.raises(InputError) as caught:
        clockify_csv_import(paths=[path])
    assert caught.value.where == "ids.csv, ligne 3"
    assert caught.value.reason == "la saisie d'identifiant « e-1 » figure déjà ligne 2"


def test_a_file_that_is_not_a_clockify_export_says_so(tmp_path):
    path = write(tmp_path, "autre.csv", '"Nom","Montant"\n"A","12"\n')
    with pytest.raises(InputError) as caught:
        clockify_csv_import(paths=[path])
    assert caught.value.where == "autre.csv, ligne 1"
    assert caught.value.reason.startswith("la première ligne n'est pas un en-tête d'export Clockify")


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"date_format": "ymd"}, "format de date « ymd » : attendu auto, mdy ou dmy"),
        ({"time_zone": "Paris"}, "fuseau horaire « Paris » inconnu (par exemple Europe/Paris)"),
    ],
)
def test_a_wrong_option_is_named(options, reason):
    with pytest.raises(InputError) as caught:
        clockify_csv_import(paths=[DATA / "clockify_fr.csv"], **options)
    assert caught.value.reason == reason


def test_a_file_whose_dates_read_both_ways_asks_for_the_format(tmp_path, firm):
    # given: every date is at most 12/12
    days = ("03/04/2026", "03/05/2026")
    path = write(tmp_path, "q.csv", HEADER + "".join(row(start_date=d, end_date=d) for d in days))
    # when
    with pytest.raises(
        InputError,
        match=r"^q\.csv, ligne 2\s?: la date « 03/04/2026 » se lit aussi bien mois/jour que jour/mois .*"
        r"indiquez --date-format mdy ou dmy",
    ):
        clockify_csv_import(paths=[path])
    clockify_csv_import(paths=[path], date_format="dmy")
    # then
    assert [local(e).date() for e in TimeEntry.objects.order_by("start")] == [
        dt.date(2026, 4, 3),
        dt.date(2026, 5, 3),
    ]


def test_a_missing_column_is_named_with_the_headers_found(tmp_path):
    path = write(tmp_path, "y.csv", '"Projet","Utilisateur","Durée (h)"\n"A","Jean","1:00"\n')
    with pytest.raises(InputError) as caught:
        clockify_csv_import(paths=[path])
    assert caught.value.where == "y.csv, ligne 1"
    assert caught.value.reason == (
        "colonne(s) manquante(s) : Date de début/Start Date ; Heure de début/Start Time ; "
        "en-têtes trouvés : « Projet », « Utilisateur », « Durée (h) »"
    )


def test_windows_1252_and_a_semicolon_export_are_read(tmp_path, firm):
    text = HEADER.replace(",", ";") + row(description="Câblage", billable="Oui").replace(",", ";")
    path = write(tmp_path, "w.csv", text, encoding="cp1252")
    report = clockify_csv_import(paths=[path])
    assert report.counts.created == 1
    assert TimeEntry.objects.get().description == "Câblage"


def test_two_entries_started_in_the_same_minute_on_one_project_are_both_kept_and_reimported_once(
    tmp_path, firm
):
    text = (
        HEADER
        + row(description="first", start_time="09:00:05", end_time="09:00:40", duration="00:00:35")
        + row(description="second", start_time="09:00:45", end_time="09:30:00", duration="00:29:15")
    )
    path = write(tmp_path, "same.csv", text)
    clockify_csv_import(paths=[path])
    clockify_csv_import(paths=[path])
    assert sorted(TimeEntry.objects.values_list("description", flat=True)) == ["first", "second"]


def test_an_entry_edited_then_exported_again_is_updated_not_duplicated(tmp_path, firm):
    clockify_csv_import(paths=[write(tmp_path, "v1.csv", HEADER + row(description="Audit"))])
    edited = row(description="Audit complet", end_time="11:00", duration="02:00:00")
    report = clockify_csv_import(paths=[write(tmp_path, "v2.csv", HEADER + edited)])
    assert (report.counts.created, report.counts.updated) == (0, 1)
    entry = TimeEntry.objects.get()
    assert (entry.description, entry.duration_seconds) == ("Audit complet", 7200)


def test_dry_run_writes_nothing(firm):
    report = clockify_csv_import(paths=[DATA / "clockify_fr.csv"], dry_run=True)
    assert report.counts.created == 3
    assert TimeEntry.objects.count() == 0
    assert Consultant.objects.count() == 0


def test_the_command_reports_what_it_did(firm):
    out = StringIO()
    call_command(
        "import_clockify", str(DATA / "clockify_en_us.csv"), str(DATA / "clockify_fr.csv"), stdout=out
    )
    assert (
        "8 ligne(s) lue(s) dans 2 fichier(s) : 8 saisie(s) créée(s), 0 mise(s) à jour, 0 déjà importée(s)"
        in out.getvalue()
    )


def test_the_natural_key_is_the_consultant_the_minute_and_the_project():
    start = dt.datetime(2026, 3, 16, 9, 5, 12, tzinfo=PARIS)
    assert natural_key(7, start, "Diagnostic Réseau") == "7|20260316T0805|DIAGNOSTIC RESEAU"
    assert natural_key(7, start, "Diagnostic Réseau", 2).endswith("#2")


def test_a_non_ascii_path_name_is_shown(tmp_path, firm):
    target = tmp_path / "relevé mars.csv"
    shutil.copy(DATA / "clockify_fr.csv", target)
    report = clockify_csv_import(paths=[target])
    assert report.files[0].name == "relevé mars.csv"


def test_an_export_without_email_and_a_later_one_with_it_are_one_consultant(tmp_path, firm):
    # given: an export without the Email column
    no_email = '"Project","Client","User","Start Date","Start Time","Duration (h)"\n'
    no_email += '"A","Garage Martin","Jean Dupont","03/16/2026","09:00","1:00"\n'
    clockify_csv_import(paths=[write(tmp_path, "old.csv", no_email)])
    # when: a later one says who Jean is
    clockify_csv_import(
        paths=[
            write(
                tmp_path,
                "new.csv",
                HEADER + row(user="Jean Dupont", start_date="03/17/2026", end_date="03/17/2026"),
            )
        ]
    )
    # then
    assert list(Consultant.objects.values_list("name", "email")) == [("Jean Dupont", "jean@syaga.fr")]
    assert TimeEntry.objects.count() == 2
