"""Changing the categorisation rules: each change logged (who, when, before and after) in its transaction,
then the unbilled entries classified again under the new rules."""

from django.db import transaction

from syaga.core.errors import InputError
from timetracking.models import MATCH_NEEDS_PATTERN, Category, CategoryRule, CategoryRuleChangeLog, MatchOn
from timetracking.services.categorisation import entries_categorise


def rule_config_errors(state: dict) -> dict[str, str]:
    """Field → reason for a rule the engine could not run (admin form and services share it)."""
    errors = {}
    if state.get("match_on") not in MatchOn.values:
        errors["match_on"] = f"critère inconnu « {state.get('match_on')} »"
    if state.get("category") not in Category.values:
        errors["category"] = f"catégorie inconnue « {state.get('category')} »"
    pattern = (state.get("pattern") or "").strip()
    if state.get("match_on") in MATCH_NEEDS_PATTERN and not pattern:
        errors["pattern"] = "ce critère compare avec une valeur : indiquez-la"
    if state.get("match_on") not in MATCH_NEEDS_PATTERN and pattern:
        errors["pattern"] = "ce critère ne prend pas de valeur : laissez-la vide"
    return errors


def _check(rule: CategoryRule) -> None:
    errors = rule_config_errors(rule.audit_state())
    if errors:
        name, reason = next(iter(errors.items()))
        label = CategoryRule._meta.get_field(name).verbose_name
        raise InputError(reason, where=f"règle « {rule.name} », champ « {label} »")


def _user(user):
    return user if getattr(user, "pk", None) else None


def category_rule_create(*, user, recategorise: bool = True, **fields) -> CategoryRule:
    with transaction.atomic():
        rule = CategoryRule(**fields)
        _check(rule)
        rule.save()
        CategoryRuleChangeLog.objects.create(
            rule=rule, user=_user(user), before=None, after=rule.audit_state()
        )
    if recategorise:
        entries_categorise()
    return rule


def category_rule_update(*, rule: CategoryRule, user, recategorise: bool = True, **changes) -> CategoryRule:
    """Change a rule and log it; no change, no log. The unbilled entries follow the new rules."""
    unknown = set(changes) - set(CategoryRule.AUDITED_FIELDS)
    if unknown:
        raise InputError(
            f"champ(s) inconnu(s) : {', '.join(sorted(unknown))}", where=f"règle « {rule.name} »"
        )
    with transaction.atomic():
        stored = CategoryRule.objects.select_for_update().get(pk=rule.pk)
        before = stored.audit_state()
        for name, value in changes.items():
            setattr(stored, name, value)
        _check(stored)
        after = stored.audit_state()
        if after == before:
            return stored
        stored.save()
        CategoryRuleChangeLog.objects.create(rule=stored, user=_user(user), before=before, after=after)
    for name in CategoryRule.AUDITED_FIELDS:
        setattr(rule, name, getattr(stored, name))
    if recategorise:
        entries_categorise()
    return stored
