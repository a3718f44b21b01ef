"""The owner's first page (/admin/): every figure the issue lists, from selectors, in French and euros."""

import datetime as dt
import re
from decimal import Decimal
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from banking.models import BankAccount, BankTransaction, MatchStatus
from invoicing.models.invoice import Status
from syaga.core.dates import today
from syaga.ops.models import CycleRun
from tests.factories import ClientFactory, ContractFactory, UserFactory, make_invoice
from tests.ops.first_page_data import local, recorded_cycle, todays_time, weeks_mail
from tests.timetracking.helpers import make_entry

pytestmark = pytest.mark.django_db

EUR = "\u00a0€"
NNBSP = "\u202f"


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def tile(html: str, name: str) -> str:
    """The text of one tile, tags stripped, spaces collapsed."""
    # up to the next tile (an app's partial may bring a <section> of its own inside the tile)
    next_tile = r'<section class="tile[^"]*" id="tile-|<div class="(?:tiles|first-page)'
    match = re.search(rf'<section class="tile[^"]*" id="tile-{name}">(.*?)(?={next_tile})', html, re.S)
    assert match, f"no tile {name}"
    text = re.sub(r"<style.*?</style>", " ", match.group(1), flags=re.S)
    return unescape(re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", text)).replace(" ,", ","))


@pytest.fixture
def owner(client):
    user = UserFactory(username="owner", is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def books(seller):
    """Hand-made books, each figure computed below by hand."""
    t = today()
    late = ClientFactory(name="Lent SA")
    # 1 200 TTC due 40 days ago (J+30), 600 TTC due 100 days ago (J+90), 360 TTC due 5 days ago (< 15 days)
    make_invoice(client=late, amounts=[Decimal("1000.00")], status=Status.ISSUED, issue_date=t - days(70))
    make_invoice(client=late, amounts=[Decimal("500.00")], status=Status.SENT, issue_date=t - days(130))
    make_invoice(client=late, amounts=[Decimal("300.00")], status=Status.ISSUED, issue_date=t - days(35))
    # 2 400 TTC due in 25 days, half paid: 1 200 still due
    make_invoice(
        client=late, amounts=[Decimal("2000.00")], status=Status.PARTIALLY_PAID, issue_date=t - days(5)
    )
    # paid and cancelled ones owe nothing
    make_invoice(client=late, amounts=[Decimal("700.00")], status=Status.PAID, issue_date=t - days(50))
    make_invoice(client=late, amounts=[Decimal("900.00")], status=Status.CANCELLED, issue_date=t - days(20))
    # waiting for approval: 2 invoices, 1 500 HT, 1 800 TTC
    make_invoice(client=late, amounts=[Decimal("1000.00")], status=Status.PENDING_REVIEW)
    make_invoice(client=late, amounts=[Decimal("500.00")], status=Status.PENDING_REVIEW)
    make_invoice(client=late, amounts=[Decimal("4444.00")])  # a draft: nowhere
    return {"today": t, "client": late}


def test_first_page_shows_what_clients_owe_by_overdue_level(owner, books):
    # when
    html = owner.get(reverse("admin:index")).content.decode()
    # then: 1 200 + 600 + 360 + 1 200 = 3 360 owed, 2 160 of it overdue
    text = tile(html, "receivables")
    assert f"3{NNBSP}360,00{EUR}" in text
    assert f"Pas encore échu 1{NNBSP}200,00{EUR}" in text
    assert f"En retard 2{NNBSP}160,00{EUR}" in text
    assert f"moins de 15 jours (1) 360,00{EUR}" in text
    assert f"J+15 (0) 0,00{EUR}" in text
    assert f"J+30 (1) 1{NNBSP}200,00{EUR}" in text
    assert f"J+60 (0) 0,00{EUR}" in text
    assert f"J+90 (1) 600,00{EUR}" in text


def test_first_page_shows_the_review_queue_with_one_click_to_it(owner, books):
    html = owner.get(reverse("admin:index")).content.decode()
    text = tile(html, "review-queue")
    assert "2 factures" in text
    assert f"1{NNBSP}500,00{EUR} HT · 1{NNBSP}800,00{EUR} TTC" in text
    assert f'href="{reverse("admin:invoicing_invoicetoreview_changelist")}"' in html


def test_bank_not_synchronised_says_so_never_a_false_zero(owner, books, settings):
    # given: no Qonto credentials, no account ever synchronised
    settings.QONTO_LOGIN = settings.QONTO_SECRET_KEY = ""
    settings.QONTO_OAUTH_CLIENT_ID = settings.QONTO_OAUTH_CLIENT_SECRET = ""
    # when
    html = owner.get(reverse("admin:index")).content.decode()
    # then
    text = tile(html, "bank")
    assert "non synchronisé" in text
    assert "Qonto n'est pas configuré" in text
    assert "0,00" not in text
    assert "Banque non synchronisée" in tile(html, "forecast")


def test_bank_balance_with_the_time_of_the_last_sync(owner, books, settings):
    # given: Qonto configured, two active accounts and a closed one
    settings.QONTO_LOGIN, settings.QONTO_SECRET_KEY = "syaga-1234", "secret"
    BankAccount.objects.create(qonto_id="a", balance=Decimal("10000.00"))
    BankAccount.objects.create(qonto_id="b", balance=Decimal("2345.67"))
    BankAccount.objects.create(qonto_id="c", balance=Decimal("999.00"), status="closed")
    # when
    html = owner.get(reverse("admin:index")).content.decode()
    # then
    text = tile(html, "bank")
    assert f"12{NNBSP}345,67{EUR}" in text
    assert re.search(r"synchronisé le \d{2}/\d{2}/\d{4} à \d{2}:\d{2}", text)
    assert "2 comptes" in text


def test_credits_waiting_for_a_person(owner, books):
    # given: two suggestions (100 + 250.50), one credit without invoice, a matched one, a debit
    for i, (amount, status, side) in enumerate(
        [
            ("100.00", MatchStatus.SUGGESTED, "credit"),
            ("250.50", MatchStatus.SUGGESTED, "credit"),
            ("75.00", MatchStatus.UNRECOGNISED, "credit"),
            ("999.00", MatchStatus.MATCHED, "credit"),
            ("500.00", MatchStatus.UNPROCESSED, "debit"),
        ]
    ):
        BankTransaction.objects.create(
            qonto_id=f"t{i}", amount=Decimal(amount), side=side, match_status=status
        )
    # when
    text = tile(owner.get(reverse("admin:index")).content.decode(), "credits-waiting")
    # then
    assert f"2 350,50{EUR} reçus" in text
    assert f"1 crédit sans facture (75,00{EUR})" in text


def test_next_recurring_run_and_what_it_will_bill(owner, books):
    # given: two monthly contracts due tomorrow (500 and 333.33 HT at 20 %), one later, one inactive
    t = books["today"]
    ContractFactory(amount_ht=Decimal("500.00"), start_date=t - days(100), next_billing_date=t + days(1))
    ContractFactory(
        amount_ht=Decimal("333.33"),
        start_date=t - days(100),
        next_billing_date=t + days(1),
        auto_approve=True,
    )
    ContractFactory(amount_ht=Decimal("100.00"), start_date=t - days(100), next_billing_date=t + days(20))
    ContractFactory(amount_ht=Decimal("900.00"), next_billing_date=t + days(1), active=False)
    # when
    text = tile(owner.get(reverse("admin:index")).content.decode(), "recurring")
    # then: 833.33 HT; TTC 600.00 + 400.00 (333.33 + 66.67) = 1 000.00; one without automatic approval
    assert (t + days(1)).strftime("%d/%m/%Y") in text
    assert f"2 factures (2 contrats) : 833,33{EUR} HT, 1{NNBSP}000,00{EUR} TTC" in text
    assert "dont 1 sans approbation automatique" in text


def test_charts_are_drawn_in_the_page(owner, books):
    html = owner.get(reverse("admin:index")).content.decode()
    forecast, revenue = tile(html, "forecast"), tile(html, "revenue")
    assert "<svg" in html[html.index('id="tile-forecast"') :]
    assert "<svg" in html[html.index('id="tile-revenue"') :]
    # receipts expected within 30 days: the 1 200 still due on the partially paid invoice (due in 25 days);
    # the three overdue ones (1 200 + 600 + 360) have no date any more
    assert f"Encaissements attendus 1{NNBSP}200,00{EUR}" in forecast
    assert f"En retard, date inconnue (3) 2{NNBSP}160,00{EUR}" in forecast
    # revenue of the last 12 months (HT, by issue date): 1 000 + 300 + 2 000 + 700 + 900 - 900 (credit note);
    # the 500 issued 130 days ago counts too: 4 500
    assert f"12 derniers mois 4{NNBSP}500,00{EUR}" in revenue
    section = html[html.index('id="tile-forecast"') : html.index('id="tile-revenue"')]
    assert "<script" not in section  # drawn on the server: nothing to run


def test_a_clerk_without_the_cash_permission_sees_no_bank_nor_forecast(client, books):
    # given
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_invoice", "change_invoice"]))
    client.force_login(clerk)
    # when
    html = client.get(reverse("admin:index")).content.decode()
    # then
    assert 'id="tile-receivables"' in html
    assert 'id="tile-review-queue"' in html
    assert 'id="tile-bank"' not in html
    assert 'id="tile-forecast"' not in html
    assert 'id="tile-credits-waiting"' not in html


def test_the_query_count_does_not_grow_with_the_books(owner, books):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert owner.get(reverse("admin:index")).status_code == 200
        return len(captured)

    t = books["today"]
    ContractFactory(client=books["client"], start_date=t - days(10), next_billing_date=t + days(3))
    todays_time()
    weeks_mail()
    recorded_cycle()
    queries()  # the first request of a session writes what later ones only read
    before = queries()
    # when: three times the clients, invoices and contracts, more time, mail, cycles, forgotten invoices
    for n in range(6):
        other = ClientFactory(name=f"Autre {n} SARL")
        make_invoice(
            client=other, amounts=[Decimal("100.00")], status=Status.ISSUED, issue_date=t - days(40 + n)
        )
        make_invoice(
            client=other, amounts=[Decimal("100.00")], status=Status.PAID, issue_date=t - days(90 + n)
        )
        ContractFactory(client=other, start_date=t - days(10), next_billing_date=t + days(2))
        ContractFactory(client=other, start_date=t - days(100), next_billing_date=t - days(n + 1))
        make_entry(t_last_month(t, n), minutes=60, client=f"Autre {n} SARL", consultant=f"Consultant {n}")
    todays_time(prefix="B ")
    weeks_mail(n=1)
    weeks_mail(n=2)
    recorded_cycle(t - days(1))
    recorded_cycle()
    # then
    assert queries() == before


def t_last_month(t: dt.date, n: int) -> dt.datetime:
    return local(t.replace(day=1) - days(10 + n), 10)


# ------------------------------------------------------------------------------------ the later tiles


def test_last_cycle_with_each_step_its_counts_and_its_error(owner, seller):
    # given: the cycle ran this morning; the schedules were never written
    run = recorded_cycle()
    # when
    text = tile(owner.get(reverse("admin:index")).content.decode(), "cycle")
    # then
    assert "En échec" in text
    assert f"Cycle quotidien du {run.day:%d/%m/%Y}" in text
    assert f"commencé le {run.day:%d/%m/%Y} à 07:00, fini à 07:02" in text
    assert "Factures récurrentes réussie factures créées : 3" in text
    assert "Synchronisation Qonto non configurée Qonto non configuré (QONTO_LOGIN manquant)" in text
    assert "Rapprochement des paiements en échec OperationalError: database is locked" in text
    assert "Prochain cycle quotidien : « non planifié »" in text


def test_when_the_next_daily_cycle_runs(owner, seller):
    # given
    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    # when
    text = tile(owner.get(reverse("admin:index")).content.decode(), "cycle")
    # then
    assert "Aucun cycle n'a encore tourné." in text
    assert re.search(r"Prochain cycle quotidien : le \d{2}/\d{2}/\d{4} à 07:00", text), text
    assert "non planifié" not in text


def test_a_dry_run_is_not_the_last_cycle(owner, seller):
    recorded_cycle(dry_run=True)
    text = tile(owner.get(reverse("admin:index")).content.decode(), "cycle")
    assert "Aucun cycle n'a encore tourné." in text
    assert CycleRun.objects.count() == 1


def test_indicators_each_against_its_target(owner, books):
    # when
    text = tile(owner.get(reverse("admin:index")).content.decode(), "indicators")
    # then: DSO 3 360 owed / 4 800 sold in 90 days (the credit note cancels the 1 080) × 90 = 63 days
    assert "DSO (délai moyen de recouvrement) 63\u00a0jours < 30\u00a0jours non atteint" in text
    # 840 collected of 3 000 fallen due in the last 365 days (1 200 + 600 + 360 + 840)
    assert "Taux de recouvrement 28\u00a0% > 98\u00a0% non atteint" in text
    # no invoice has a service period: nothing to measure, and the five are said left out
    assert "Délai d'émission — < 48\u00a0h à mesurer" in text
    assert "5\u00a0factures sans période non comptées" in text
    # the paid one: issued 50 days ago, paid on its due date 30 days later
    assert "Délai de paiement 30\u00a0jours < 30\u00a0jours non atteint" in text
    assert "Factures émises automatiquement 100\u00a0% 100\u00a0% atteint" in text
    assert "Factures oubliées 0 0 atteint" in text
    assert "2 / 6 atteints" in text


def test_todays_time_by_category_billable_share_and_incomplete_entries(owner, seller):
    # given
    todays_time()
    # when
    text = tile(owner.get(reverse("admin:index")).content.decode(), "time")
    # then
    assert "Facturable 2\u00a0h\u00a000 66,7\u00a0%" in text
    assert "Interne 1\u00a0h\u00a000 33,3\u00a0%" in text
    assert "Part facturable : 66,7\u00a0%" in text
    assert "2 saisies sans projet ou sans description" in text
    assert "Saisies de temps" in text


def test_this_weeks_replies_and_open_disputes(owner, seller):
    # given
    weeks_mail()
    # when
    text = tile(owner.get(reverse("admin:index")).content.decode(), "mail")
    # then
    assert "Réponses des clients cette semaine : 2" in text
    assert "Contestation 1" in text
    assert "Litiges ouverts : 1 (600,00\u00a0€ en jeu)" in text
    assert "Urgence 5 1" in text
    assert "Factures envoyées ce mois-ci : 1 (600,00\u00a0€)" in text


def test_the_later_tiles_follow_their_permissions(client, seller):
    # given: a clerk who may read the cycles but neither the time nor the mail
    recorded_cycle()
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_invoice", "view_cyclerun"]))
    client.force_login(clerk)
    # when
    html = client.get(reverse("admin:index")).content.decode()
    # then
    assert 'id="tile-cycle"' in html
    assert 'id="tile-indicators"' in html
    assert 'id="tile-time"' not in html
    assert 'id="tile-mail"' not in html
