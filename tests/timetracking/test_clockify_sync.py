"""Clockify time comes in through the API, incrementally, once per entry, with what people decided kept."""

import datetime as dt
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from tests.factories import ClientFactory, ContractFactory, UserFactory, make_invoice
from tests.timetracking.clockify_stub import ClockifyStub
from timetracking.models import Category, ClockifySyncState, Consultant, Source, TimeEntry
from timetracking.services.categorisation import entry_category_override
from timetracking.services.clockify_sync import clockify_sync

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=PARIS)


def at(day, hour, minute=0):
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=PARIS)


@pytest.fixture
def clockify(httpserver, settings):
    stub = ClockifyStub(httpserver)
    stub.configure(settings)
    return stub


@pytest.fixture
def firm(seller):
    """Pharmabest has a flat-fee contract, Garage Martin has none."""
    pharmabest = ClientFactory(name="Pharmabest SAS")
    ContractFactory(client=pharmabest, start_date=dt.date(2025, 1, 1))
    martin = ClientFactory(name="Garage Martin", hourly_rate=Decimal("95.00"))
    return pharmabest, martin


def test_first_sync_stores_each_entry_with_its_client_project_task_tags_and_category(clockify, firm):
    # given
    pharmabest, martin = firm
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    clockify.add_entry(
        jean,
        start=at(2, 9),
        end=at(2, 11, 30),
        project="Infogérance",
        client="Pharmabest",
        task="Sauvegardes",
        tags=["atelier"],
        description="Contrôle des sauvegardes",
    )
    clockify.add_entry(
        jean,
        start=at(3, 14),
        end=at(3, 15),
        project="Infogérance",
        client="Pharmabest",
        tags=["hors forfait"],
        description="Migration demandée en urgence",
    )
    clockify.add_entry(
        jean,
        start=at(4, 9),
        end=at(4, 13),
        project="Diagnostic",
        client="Garage Martin",
        description="Audit réseau",
    )
    clockify.add_entry(jean, start=at(4, 13), end=at(4, 14), description="Déjeuner", entry_type="BREAK")
    clockify.add_entry(
        jean, start=at(5, 9), end=at(5, 10), project="Veille", client="SYAGA", description="Lecture"
    )
    # when
    report = clockify_sync(now=NOW)
    # then
    assert report.counts.created == 4
    assert report.users[0].not_work == 1
    entries = {e.description: e for e in TimeEntry.objects.all()}
    backup = entries["Contrôle des sauvegardes"]
    assert backup.consultant.email == "jean@syaga.fr"
    assert backup.client == pharmabest
    assert (backup.project, backup.task, backup.tags) == ("Infogérance", "Sauvegardes", ["atelier"])
    assert backup.duration_seconds == 9000
    assert backup.source == Source.API
    assert backup.category == Category.FORFAIT
    assert entries["Migration demandée en urgence"].category == Category.FACTURABLE
    assert entries["Audit réseau"].client == martin
    assert entries["Audit réseau"].category == Category.FACTURABLE
    assert entries["Lecture"].category == Category.INTERNE


def test_a_second_run_reads_from_the_marker_less_a_week_and_creates_nothing(clockify, firm):
    # given
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    clockify.add_entry(jean, start=at(2, 9), end=at(2, 10), project="Infogérance", client="Pharmabest")
    clockify.add_entry(jean, start=at(9, 9), end=at(9, 10), project="Infogérance", client="Pharmabest")
    clockify_sync(now=NOW)
    # when
    report = clockify_sync(now=NOW + dt.timedelta(minutes=15))
    # then: the entry of the 9th read again, unchanged; the one of the 2nd, outside the window, kept
    assert report.counts.created == 0
    assert report.counts.unchanged == 1
    assert TimeEntry.objects.count() == 2
    starts = [r.arg("start") for r in clockify.entry_requests() if r.arg("in-progress") is None]
    # 1st of last month, then the marker less a week, each asked a day early (the server's zone quirk)
    assert starts == ["2026-01-30T23:00:00Z", "2026-03-02T11:00:00Z"]
    state = ClockifySyncState.objects.get()
    assert state.synced_through == NOW + dt.timedelta(minutes=15)


def test_an_entry_edited_in_clockify_is_updated_and_keeps_its_category_override(clockify, firm):
    # given: an entry a person forced to FACTURABLE
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    entry = clockify.add_entry(
        jean,
        start=at(9, 9),
        end=at(9, 10),
        project="Infogérance",
        client="Pharmabest",
        description="Mise à jour",
    )
    clockify_sync(now=NOW)
    stored = TimeEntry.objects.get()
    assert stored.category == Category.FORFAIT
    entry_category_override(entry=stored, category=Category.FACTURABLE, user=UserFactory())
    # when: the consultant corrects the description and the end in Clockify
    clockify.edit(entry, description="Mise à jour du serveur de fichiers", end=at(9, 11))
    report = clockify_sync(now=NOW + dt.timedelta(minutes=15))
    # then
    stored.refresh_from_db()
    assert report.counts.updated == 1
    assert stored.description == "Mise à jour du serveur de fichiers"
    assert stored.duration_seconds == 7200
    assert stored.rule_category == Category.FORFAIT
    assert stored.category == Category.FACTURABLE


def test_an_entry_deleted_in_clockify_is_deleted_here_unless_billed(clockify, firm):
    # given
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    kept = clockify.add_entry(jean, start=at(9, 9), end=at(9, 10), project="A", client="Garage Martin")
    gone = clockify.add_entry(jean, start=at(9, 14), end=at(9, 15), project="B", client="Garage Martin")
    clockify_sync(now=NOW)
    # when
    clockify.delete(gone)
    report = clockify_sync(now=NOW + dt.timedelta(minutes=15))
    # then
    assert report.deleted == 1
    assert list(TimeEntry.objects.values_list("clockify_id", flat=True)) == [kept["id"]]


def test_a_running_timer_is_stored_running_then_finished_when_stopped(clockify, firm):
    # given: a timer started 9 days ago (before the next window) and still running
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    timer = clockify.add_entry(jean, start=at(1, 9), project="Infogérance", client="Pharmabest")
    report = clockify_sync(now=NOW)
    stored = TimeEntry.objects.get()
    assert report.running == 1
    assert stored.running
    assert stored.end is None
    assert stored.duration_seconds == int((NOW - at(1, 9)).total_seconds())
    assert any(r.arg("in-progress") == "true" for r in clockify.entry_requests())
    # when: it is stopped in Clockify
    clockify.edit(timer, end=at(1, 18))
    clockify_sync(now=NOW + dt.timedelta(minutes=15))
    # then
    stored.refresh_from_db()
    assert not stored.running
    assert stored.end == at(1, 18)
    assert stored.duration_seconds == 9 * 3600


def test_a_billed_entry_is_never_changed_nor_deleted_by_a_sync(clockify, firm):
    # given
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    entry = clockify.add_entry(jean, start=at(9, 9), end=at(9, 10), project="A", client="Garage Martin")
    clockify_sync(now=NOW)
    invoice = make_invoice(client=firm[1])
    TimeEntry.objects.update(invoice=invoice, billed_seconds=3600)
    # when
    clockify.edit(entry, end=at(9, 12))
    report = clockify_sync(now=NOW + dt.timedelta(minutes=15))
    clockify.delete(entry)
    clockify_sync(now=NOW + dt.timedelta(minutes=30))
    # then
    stored = TimeEntry.objects.get()
    assert report.counts.billed_kept == 1
    assert stored.duration_seconds == 3600
    assert stored.invoice == invoice


def test_two_users_get_one_consultant_each(clockify, firm):
    # given
    for name in ("Jean Dupont", "Marie Curie"):
        user = clockify.add_user(name, f"{name.split()[0].lower()}@syaga.fr")
        clockify.add_entry(user, start=at(9, 9), end=at(9, 10), project="A", client="Garage Martin")
    # when
    clockify_sync(now=NOW)
    clockify_sync(now=NOW + dt.timedelta(minutes=15))
    # then
    assert sorted(Consultant.objects.values_list("name", flat=True)) == ["Jean Dupont", "Marie Curie"]
    assert TimeEntry.objects.count() == 2
    assert ClockifySyncState.objects.count() == 2


def test_the_command_without_a_key_says_so_once_and_does_nothing(settings):
    # given
    settings.CLOCKIFY_API_KEY = ""
    out = StringIO()
    # when
    call_command("sync_clockify", stdout=out)
    # then
    assert out.getvalue().strip() == (
        "Synchronisation Clockify sautée : Clockify n'est pas configuré : CLOCKIFY_API_KEY est vide "
        "(Clockify › Paramètres du profil › API)."
    )
    assert TimeEntry.objects.count() == 0


def test_the_command_with_a_refused_key_fails_with_a_clear_message(clockify, settings):
    # given
    settings.CLOCKIFY_API_KEY = "revoked-key"
    # when / then
    with pytest.raises(
        CommandError,
        match=r"Clockify a répondu 401 .*\(« Api key does not exist », code 4003\) ; "
        r"la clé d'API est refusée : vérifiez CLOCKIFY_API_KEY",
    ):
        call_command("sync_clockify", stdout=StringIO())


def test_the_command_names_a_date_it_cannot_read():
    with pytest.raises(CommandError, match=r"^--since : « 31/02/2026 » n'est pas une date valide"):
        call_command("sync_clockify", "--since", "31/02/2026", stdout=StringIO())


def test_the_command_reads_since_the_date_given(clockify, firm):
    # given
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    clockify.add_entry(jean, start=at(9, 9), end=at(9, 10), project="A", client="Garage Martin")
    out = StringIO()
    # when
    call_command("sync_clockify", "--since", "2026-03-01", stdout=out)
    # then
    assert clockify.entry_requests()[0].arg("start") == "2026-02-27T23:00:00Z"
    assert "Jean Dupont : 1 saisie(s) lue(s) depuis le 01/03/2026 00:00, 1 créée(s)" in out.getvalue()
    assert "Clockify : 1 utilisateur(s), 1 saisie(s) créée(s), 0 mise(s) à jour" in out.getvalue()
    assert TimeEntry.objects.count() == 1


def test_the_server_reading_the_window_in_the_user_s_zone_loses_no_entry(clockify, firm):
    # given: a user whose Clockify profile is in New York; Clockify reads the filter's instant as wall-clock
    # time there, hours later than meant
    clockify.time_zone = "America/New_York"
    jean = clockify.add_user("Jean Dupont", "jean@syaga.fr")
    clockify.add_entry(jean, start=at(9, 0, 30), end=at(9, 1, 30), project="A", client="Garage Martin")
    # when
    clockify_sync(since=at(9, 0), now=NOW)
    # then
    assert TimeEntry.objects.count() == 1
