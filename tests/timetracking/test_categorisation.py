"""FORFAIT, FACTURABLE or INTERNE: rules stored as data, ordered, first match wins, every change logged; a
person's override stays."""

import datetime as dt

import pytest

from syaga.core.errors import BusinessError, InputError
from tests.factories import ClientFactory, ContractFactory, UserFactory, make_invoice
from tests.timetracking.helpers import make_entry, paris
from timetracking.models import Category, CategoryRule, CategoryRuleChangeLog, MatchOn, TimeEntry
from timetracking.services.categorisation import entries_categorise, entry_category_override
from timetracking.services.rules import category_rule_create, category_rule_update

pytestmark = pytest.mark.django_db
F, B, N = Category.FORFAIT, Category.FACTURABLE, Category.INTERNE  # N: non facturé (interne)


@pytest.fixture
def firm(seller):
    """SYAGA Consulting (the seller); Pharmabest under contract since 2025; Garage Martin without one."""
    pharmabest = ClientFactory(name="Pharmabest SAS")
    ContractFactory(client=pharmabest, start_date=dt.date(2025, 1, 1))
    ClientFactory(name="Garage Martin")
    return pharmabest


@pytest.mark.parametrize(
    ("client", "tags", "expected"),
    [
        ("Pharmabest", [], F),  # a client with a contract
        ("PHARMABEST S.A.S.", ["atelier"], F),
        ("Pharmabest", ["Hors-Forfait"], B),  # … unless tagged hors forfait
        ("Pharmabest", ["extra"], B),  # … or extra
        ("Garage Martin", [], B),  # a client without a contract
        ("Boulangerie Inconnue", [], B),  # not (yet) a client of the back-office: no contract either
        ("SYAGA", [], N),  # the firm's own name
        ("SYAGA Consulting", ["extra"], N),
        ("", [], N),  # no client
    ],
)
def test_the_default_rules(firm, client, tags, expected):
    entry = make_entry(paris(2026, 3, 2), client=client, tags=tags)
    assert entry.category == expected
    assert entry.rule_category == expected


def test_a_contract_covers_only_its_own_dates(firm):
    # given: the contract ended at the end of February
    firm.contracts.update(end_date=dt.date(2026, 2, 28))
    # when
    before = make_entry(paris(2026, 2, 27), client="Pharmabest")
    after = make_entry(paris(2026, 3, 2), client="Pharmabest")
    # then
    assert (before.category, after.category) == (F, B)


def test_the_first_matching_rule_wins_and_keywords_match_whole_words(firm):
    # given: training is internal, before everything else
    category_rule_create(
        user=None, name="Formation", match_on=MatchOn.DESCRIPTION, pattern="formation", category=N, order=5
    )
    # when
    training = make_entry(paris(2026, 3, 2), client="Garage Martin", description="Formation Microsoft 365")
    info = make_entry(paris(2026, 3, 3), client="Garage Martin", description="Système d'information")
    # then
    assert training.category == N
    assert training.rule.name == "Formation"
    assert info.category == B


def test_a_rule_change_is_logged_and_reclassifies_the_unbilled_entries_only(firm):
    # given: two Garage Martin entries, one of them billed
    user = UserFactory()
    billed = make_entry(paris(2026, 2, 2), client="Garage Martin")
    open_entry = make_entry(paris(2026, 3, 2), client="Garage Martin")
    TimeEntry.objects.filter(pk=billed.pk).update(invoice=make_invoice(), billed_seconds=3600)
    rule = CategoryRule.objects.get(match_on=MatchOn.CLIENT_WITHOUT_CONTRACT)
    # when: clients without a contract become internal (a pro bono year)
    category_rule_update(rule=rule, user=user, category=N)
    # then
    log = CategoryRuleChangeLog.objects.filter(rule=rule).first()
    assert log.user == user
    assert log.before["category"] == B
    assert log.after["category"] == N
    assert log.changed_fields == ["category"]
    open_entry.refresh_from_db()
    billed.refresh_from_db()
    assert open_entry.category == N
    assert billed.category == B


def test_no_change_no_log(firm):
    rule = CategoryRule.objects.get(match_on=MatchOn.OWN_FIRM)
    count = CategoryRuleChangeLog.objects.count()
    category_rule_update(rule=rule, user=None, category=rule.category)
    assert CategoryRuleChangeLog.objects.count() == count


def test_the_default_rules_are_in_the_database_with_their_creation_logged():
    rules = list(CategoryRule.objects.order_by("order").values_list("match_on", "pattern", "category"))
    assert rules == [
        (MatchOn.OWN_FIRM, "", N),
        (MatchOn.TAG, "hors forfait", B),
        (MatchOn.TAG, "extra", B),
        (MatchOn.CLIENT_WITH_CONTRACT, "", F),
        (MatchOn.CLIENT_WITHOUT_CONTRACT, "", B),
        (MatchOn.NO_CLIENT, "", N),
    ]
    assert CategoryRuleChangeLog.objects.filter(before__isnull=True).count() == 6


def test_with_every_rule_off_nothing_is_billed_by_accident(firm):
    CategoryRule.objects.update(active=False)
    assert make_entry(paris(2026, 3, 2), client="Garage Martin").category == N


def test_an_override_survives_a_rule_change_and_can_be_given_back_to_the_rules(firm):
    # given
    user = UserFactory()
    entry = make_entry(paris(2026, 3, 2), client="Pharmabest")
    entry_category_override(entry=entry, category=B, user=user)
    # when: the rules change and run again
    CategoryRule.objects.filter(match_on=MatchOn.CLIENT_WITH_CONTRACT).update(category=N)
    entries_categorise()
    # then
    entry.refresh_from_db()
    assert (entry.category, entry.rule_category, entry.override_by) == (B, N, user)
    # when
    entry_category_override(entry=entry, category=None, user=user)
    # then
    entry.refresh_from_db()
    assert (entry.category, entry.override_category, entry.override_at) == (N, "", None)


def test_a_billed_entry_cannot_change_category(firm):
    entry = make_entry(paris(2026, 3, 2), client="Garage Martin")
    TimeEntry.objects.filter(pk=entry.pk).update(invoice=make_invoice(), billed_seconds=3600)
    with pytest.raises(BusinessError, match="déjà facturée"):
        entry_category_override(entry=entry, category=N, user=None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"match_on": MatchOn.TAG, "pattern": ""}, "ce critère compare avec une valeur : indiquez-la"),
        (
            {"match_on": MatchOn.NO_CLIENT, "pattern": "x"},
            "ce critère ne prend pas de valeur : laissez-la vide",
        ),
    ],
)
def test_a_rule_the_engine_could_not_run_is_refused(fields, message):
    with pytest.raises(InputError) as caught:
        category_rule_create(user=None, name="r", category=N, **fields)
    assert caught.value.where == "règle « r », champ « valeur »"
    assert caught.value.reason == message
