"""The first page's tile: today's hours by category, billable share, revenue equivalent against the firm's
target, entries without project or description."""

import datetime as dt
from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from tests.factories import ClientFactory, ContractFactory
from tests.timetracking.helpers import make_entry, paris
from timetracking.models import Category, ClockifySyncState
from timetracking.selectors import today_tile

pytestmark = pytest.mark.django_db
TUESDAY = dt.date(2026, 3, 10)


def at(hour, minute=0):
    return paris(2026, 3, 10, hour, minute)


@pytest.fixture
def day(seller, settings):
    settings.COACHING_WORKING_HOURS = "09:00-12:30,13:30-18:00"
    settings.COACHING_WORKING_DAYS = "0,1,2,3,4"
    settings.COACHING_DAILY_TARGET = "880.00"
    settings.TIMESHEET_DEFAULT_HOURLY_RATE = "110.00"
    pharmabest = ClientFactory(name="Pharmabest SAS")
    ContractFactory(client=pharmabest, start_date=dt.date(2025, 1, 1), amount_ht=Decimal("500.00"))
    ContractFactory(client=ClientFactory(name="Hôtel Azur"), amount_ht=Decimal("1320.00"), period="quarterly")
    ClientFactory(name="Cabinet Durand", hourly_rate=Decimal("95.00"))
    make_entry(at(9), minutes=120, client="Cabinet Durand", project="Messagerie", description="Migration")
    make_entry(
        at(9), minutes=60, consultant="Marie Curie", client="Garage Inconnu", project="", description=""
    )
    make_entry(at(11), minutes=60, client="Pharmabest", project="Infogérance", description="")
    make_entry(at(14), minutes=30, client="SYAGA", project="Veille", description="Lecture")
    make_entry(at(14), running=True, consultant="Marie Curie", client="Pharmabest", project="Infogérance")
    make_entry(paris(2026, 3, 9, 9), minutes=480, client="Cabinet Durand")  # yesterday: not counted
    ClockifySyncState.objects.create(
        workspace_id="ws", clockify_user_id="u", last_run_at=at(14, 45), synced_through=at(14, 45)
    )


def test_today_s_figures(day):
    # when
    tile = today_tile(on=TUESDAY, now=at(15, 0))
    # then: the running timer counts up to now (1 h)
    assert {c["code"]: c["seconds"] for c in tile["categories"]} == {
        Category.FACTURABLE: 3 * 3600,
        Category.FORFAIT: 2 * 3600,
        Category.INTERNE: 1800,
    }
    assert tile["total_seconds"] == 5 * 3600 + 1800
    assert tile["billable_share"] == Decimal("54.5")
    # 2 h × 95 + 1 h × 110 (unknown client: the default rate) = 300; flat fees (500 + 1320 / 3) / 22 = 42,73
    assert tile["revenue_facturable"] == Decimal("300.00")
    assert tile["revenue_flat_share"] == Decimal("42.73")
    assert tile["revenue"] == Decimal("342.73")
    assert tile["target"] == Decimal("1760.00")  # two consultants
    assert tile["incomplete_count"] == 2
    assert tile["last_sync"] == at(14, 45)
    assert len(tile["running"]) == 1


def test_the_tile_reads_in_french(day):
    html = render_to_string("timetracking/tile.html", {"tile": today_tile(on=TUESDAY, now=at(15, 0))})
    assert "Temps du 10/03/2026" in html
    assert "Facturable" in html
    assert "3\u00a0h\u00a000" in html
    assert "Part facturable : <strong>54,5\u00a0%</strong>" in html
    assert "<strong>342,73\u00a0€</strong> HT" in html
    assert "objectif de 1\u202f760,00\u00a0€ HT (19,5\u00a0%)" in html
    assert "2 saisies sans projet ou sans description" in html
    assert "Marie Curie – 1\u00a0h\u00a000 – (sans projet) – (sans description)" in html
    assert "1 chrono en cours" in html
    assert "Clockify lu le 10/03/2026 à 14:45" in html


def test_an_empty_day_says_so(seller):
    tile = today_tile(on=dt.date(2026, 3, 14))
    html = render_to_string("timetracking/tile.html", {"tile": tile})
    assert tile["total_seconds"] == 0
    assert tile["billable_share"] is None
    assert "Aucune saisie aujourd'hui." in html
    assert "(jour non travaillé)" in html
    assert "Clockify jamais synchronisé" in html
