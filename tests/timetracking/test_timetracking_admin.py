"""The time-tracking back-office: every ModelAdmin answers; overrides, rule edits and the annex work."""

import datetime as dt

import pytest
from django.urls import reverse

from tests.factories import ClientFactory, UserFactory
from tests.timetracking.helpers import make_entry, paris
from timetracking.models import (
    Category,
    CategoryRule,
    CategoryRuleChangeLog,
    ClockifySyncState,
    Consultant,
    MatchOn,
    Reminder,
    ReminderKind,
    TimeEntry,
)
from timetracking.services.billing import timesheets_bill

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="boss", is_superuser=True))
    return client


@pytest.fixture
def data(seller):
    ClientFactory(name="Garage Martin")
    entry = make_entry(paris(2026, 3, 2), client="Garage Martin", project="Audit", description="Câblage")
    Reminder.objects.create(
        consultant=entry.consultant,
        kind=ReminderKind.NO_TIMER,
        key="k",
        at=paris(2026, 3, 2, 10),
        for_date=dt.date(2026, 3, 2),
        subject="Aucun chrono depuis 10:00",
        body="…",
    )
    ClockifySyncState.objects.create(workspace_id="ws", clockify_user_id="u", consultant=entry.consultant)
    return entry


@pytest.mark.parametrize(
    ("model", "search"),
    [
        ("timeentry", "Câblage"),
        ("categoryrule", "contrat"),
        ("consultant", "Jean"),
        ("reminder", "chrono"),
        ("clockifysyncstate", ""),
    ],
)
def test_every_changelist_and_change_page_answers(admin_client, data, model, search):
    objects = {
        "timeentry": TimeEntry,
        "categoryrule": CategoryRule,
        "consultant": Consultant,
        "reminder": Reminder,
        "clockifysyncstate": ClockifySyncState,
    }
    url = reverse(f"admin:timetracking_{model}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": search}).status_code == 200
    obj = objects[model].objects.first()
    assert admin_client.get(reverse(f"admin:timetracking_{model}_change", args=[obj.pk])).status_code == 200


def test_entries_come_from_clockify_not_typed_in(admin_client, data):
    assert admin_client.get(reverse("admin:timetracking_timeentry_add")).status_code == 403
    assert admin_client.get(reverse("admin:timetracking_categoryrule_add")).status_code == 200
    assert admin_client.get(reverse("admin:timetracking_consultant_add")).status_code == 200


def test_the_entry_list_filters_and_shows_what_matters(admin_client, data):
    url = reverse("admin:timetracking_timeentry_changelist")
    page = admin_client.get(url, {"category__exact": Category.FACTURABLE, "billed": "no"}).content.decode()
    assert "Câblage" in page
    assert "02/03/2026 09:00" in page
    assert "1\u00a0h\u00a000" in page
    assert admin_client.get(url, {"incomplete": "yes"}).status_code == 200
    assert "Câblage" not in admin_client.get(url, {"category__exact": Category.INTERNE}).content.decode()


def test_an_action_forces_the_category_and_another_gives_it_back(admin_client, data):
    url = reverse("admin:timetracking_timeentry_changelist")
    admin_client.post(url, {"action": "override_interne", "_selected_action": [data.pk]})
    data.refresh_from_db()
    assert (data.category, data.override_category, data.override_by.username) == (
        Category.INTERNE,
        Category.INTERNE,
        "boss",
    )
    admin_client.post(url, {"action": "override_clear", "_selected_action": [data.pk]})
    data.refresh_from_db()
    assert (data.category, data.override_category) == (Category.FACTURABLE, "")


def test_the_change_form_forces_the_category(admin_client, data):
    url = reverse("admin:timetracking_timeentry_change", args=[data.pk])
    response = admin_client.post(url, {"override_category": Category.FORFAIT})
    assert response.status_code == 302
    data.refresh_from_db()
    assert data.category == Category.FORFAIT


def test_editing_a_rule_in_the_admin_logs_it_and_reclassifies(admin_client, data):
    rule = CategoryRule.objects.get(match_on=MatchOn.CLIENT_WITHOUT_CONTRACT)
    url = reverse("admin:timetracking_categoryrule_change", args=[rule.pk])
    form = {
        "name": rule.name,
        "match_on": rule.match_on,
        "pattern": "",
        "category": Category.INTERNE,
        "order": rule.order,
        "active": "on",
        "description": rule.description,
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 302
    log = CategoryRuleChangeLog.objects.filter(rule=rule).first()
    assert log.user.username == "boss"
    assert log.after["category"] == Category.INTERNE
    data.refresh_from_db()
    assert data.category == Category.INTERNE
    page = admin_client.get(url).content.decode()
    assert "category : facturable → interne" in page


def test_a_rule_without_its_value_is_refused_in_the_form(admin_client, db):
    response = admin_client.post(
        reverse("admin:timetracking_categoryrule_add"),
        {
            "name": "R&D",
            "match_on": MatchOn.PROJECT,
            "pattern": "",
            "category": Category.INTERNE,
            "order": 5,
            "active": "on",
            "changes-TOTAL_FORMS": "0",
            "changes-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "ce critère compare avec une valeur" in response.content.decode()
    assert not CategoryRule.objects.filter(name="R&amp;D").exists()


def test_the_annex_page_of_a_timesheet_invoice(admin_client, data):
    report = timesheets_bill(month=dt.date(2026, 3, 1))
    invoice_id = report.bills[0].invoice_id
    page = admin_client.get(reverse("admin:timetracking_timeentry_annex", args=[invoice_id])).content.decode()
    assert "Annexe – détail des temps" in page
    assert "Câblage" in page
    listing = admin_client.get(reverse("admin:timetracking_timeentry_changelist")).content.decode()
    assert reverse("admin:timetracking_timeentry_annex", args=[invoice_id]) in listing
    # the annex's link lists that invoice's entries only
    make_entry(paris(2026, 3, 3), client="Garage Martin", project="Audit", description="Non facturée")
    url = reverse("admin:timetracking_timeentry_changelist") + f"?invoice={invoice_id}"
    assert url.replace("&", "&amp;") in page
    only = admin_client.get(url).content.decode()
    assert "Câblage" in only
    assert "Non facturée" not in only


def test_rules_are_deactivated_not_deleted(admin_client, data):
    rule = CategoryRule.objects.first()
    assert (
        admin_client.get(reverse("admin:timetracking_categoryrule_delete", args=[rule.pk])).status_code == 403
    )
