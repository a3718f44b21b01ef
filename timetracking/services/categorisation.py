"""FORFAIT, FACTURABLE or INTERNE: the rules stored in the database decide, in order, the first match wins.

The engine knows a fixed set of criteria (:class:`MatchOn`); each :class:`CategoryRule` row says which one,
with which text, gives which category. Names are compared folded (case, accents and punctuation ignored;
client names also without their legal form). When no active rule matches, the entry is INTERNE: time is
never billed by accident. A person's override wins over every rule and survives re-syncs and rule changes.
Billed entries keep the category they were billed under.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from django.db import transaction
from django.utils import timezone

from invoicing.models import Client, ClientAlias, Contract, SellerProfile
from syaga.core.errors import BusinessError
from syaga.core.text import fold, normalize_company_name
from timetracking.models import Category, CategoryRule, MatchOn, TimeEntry

FALLBACK = Category.INTERNE
# A few dozen clients, projects and tags repeat over thousands of entries: each name is folded once.
folded = lru_cache(maxsize=8192)(fold)
company_key = lru_cache(maxsize=8192)(normalize_company_name)


class EntryBilledError(BusinessError):
    """A billed entry was about to change category."""


UPDATE_CHUNK = 500


def _same_company(a: str, b: str) -> bool:
    """``SYAGA`` and ``SYAGA CONSULTING`` are one firm: equal, or one is the other's first words."""
    if not a or not b:
        return False
    return a == b or a.startswith(b + " ") or b.startswith(a + " ")


@dataclass
class _Rule:
    pk: int
    match_on: str
    key: str
    category: str


@dataclass
class RuleBook:
    """Everything the rules read, loaded once: rules, the firm's name, contracts in force per client."""

    rules: list[_Rule]
    own_name: str
    contracts: dict[int, list[tuple[dt.date, dt.date | None]]]
    client_keys: dict[int, str] = field(default_factory=dict)
    tz: dt.tzinfo = field(default_factory=timezone.get_current_timezone)

    def covered(self, client_id: int | None, day: dt.date) -> bool:
        return any(
            start <= day and (end is None or day <= end) for start, end in self.contracts.get(client_id, ())
        )

    def decide(
        self,
        *,
        client_id: int | None,
        client_name: str,
        project: str,
        tags: list[str],
        description: str,
        day: dt.date,
    ) -> tuple[str, int | None]:
        """(category, id of the deciding rule or None for the fallback) of one entry."""
        client_key = company_key(client_name) if client_name else ""
        our_key = self.client_keys.get(client_id, "") if client_id else ""
        has_client = bool(client_key or client_id)
        project_key = None
        tag_keys = description_key = None
        for rule in self.rules:
            match_on = rule.match_on
            if match_on == MatchOn.CLIENT:
                hit = rule.key in (client_key, our_key) and bool(rule.key)
            elif match_on == MatchOn.PROJECT:
                if project_key is None:
                    project_key = folded(project)
                hit = rule.key == project_key
            elif match_on == MatchOn.TAG:
                if tag_keys is None:
                    tag_keys = {folded(tag) for tag in tags}
                hit = rule.key in tag_keys
            elif match_on == MatchOn.DESCRIPTION:
                if description_key is None:
                    description_key = f" {fold(description)} "
                hit = rule.key in description_key
            elif match_on == MatchOn.OWN_FIRM:
                hit = _same_company(client_key, self.own_name) or _same_company(our_key, self.own_name)
            elif match_on == MatchOn.CLIENT_WITH_CONTRACT:
                hit = client_id is not None and self.covered(client_id, day)
            elif match_on == MatchOn.CLIENT_WITHOUT_CONTRACT:
                hit = has_client and not (client_id is not None and self.covered(client_id, day))
            elif match_on == MatchOn.NO_CLIENT:
                hit = not has_client
            else:  # a criterion this code does not know: never matches
                hit = False
            if hit:
                return rule.category, rule.pk
        return FALLBACK, None


def _rule_key(rule: CategoryRule) -> str:
    if rule.match_on == MatchOn.CLIENT:
        return normalize_company_name(rule.pattern)
    if rule.match_on == MatchOn.DESCRIPTION:
        key = fold(rule.pattern)
        return f" {key} " if key else "\x00"  # an empty keyword matches nothing
    return fold(rule.pattern)


def rulebook_load() -> RuleBook:
    rules = [
        _Rule(pk=r.pk, match_on=r.match_on, key=_rule_key(r), category=r.category)
        for r in CategoryRule.objects.filter(active=True).order_by("order", "pk")
    ]
    seller = SellerProfile.current()
    contracts: dict[int, list] = defaultdict(list)
    for client_id, start, end in Contract.objects.filter(active=True).values_list(
        "client_id", "start_date", "end_date"
    ):
        contracts[client_id].append((start, end))
    client_keys = dict(Client.objects.values_list("pk", "normalized_name"))
    return RuleBook(
        rules=rules,
        own_name=normalize_company_name(seller.legal_name) if seller else "",
        contracts=dict(contracts),
        client_keys=client_keys,
    )


def client_lookup() -> dict[str, int | None]:
    """Normalised name (or other name) → client id; None where two clients share a name (ambiguous)."""
    found: dict[str, set[int]] = defaultdict(set)
    for pk, key in Client.objects.values_list("pk", "normalized_name"):
        found[key].add(pk)
    for client_id, key in ClientAlias.objects.values_list("client_id", "normalized_name"):
        found[key].add(client_id)
    return {key: next(iter(ids)) if len(ids) == 1 else None for key, ids in found.items()}


def local_day(instant: dt.datetime, tz: dt.tzinfo | None = None) -> dt.date:
    """The business date an instant falls on (``tz``: the current zone, read once by a caller's loop)."""
    return instant.astimezone(tz or timezone.get_current_timezone()).date()


@transaction.atomic
def entries_categorise(*, entry_ids: list[int] | None = None, book: RuleBook | None = None) -> int:
    """Run the rules again over the unbilled entries (all, or ``entry_ids``); returns how many changed.

    The rule's verdict is stored in ``rule_category``; ``category`` is the override when there is one, else
    that verdict. Written as one UPDATE per (verdict, rule) group of changed rows.
    """
    book = book or rulebook_load()
    rows = TimeEntry.objects.unbilled()
    if entry_ids is not None:
        rows = rows.filter(pk__in=entry_ids)
    groups: dict[tuple[str, int | None, str], list[int]] = defaultdict(list)
    for (
        pk,
        client_id,
        client_name,
        project,
        tags,
        description,
        start,
        rule_cat,
        rule_id,
        override,
        cat,
    ) in rows.values_list(
        "pk",
        "client_id",
        "client_name",
        "project",
        "tags",
        "description",
        "start",
        "rule_category",
        "rule_id",
        "override_category",
        "category",
    ).iterator(chunk_size=2000):
        verdict, by = book.decide(
            client_id=client_id,
            client_name=client_name,
            project=project,
            tags=tags or [],
            description=description,
            day=local_day(start, book.tz),
        )
        effective = override or verdict
        if (verdict, by, effective) != (rule_cat, rule_id, cat):
            groups[(verdict, by, effective)].append(pk)
    changed = 0
    for (verdict, by, effective), pks in groups.items():
        for i in range(0, len(pks), UPDATE_CHUNK):
            chunk = pks[i : i + UPDATE_CHUNK]
            changed += TimeEntry.objects.filter(pk__in=chunk).update(
                rule_category=verdict, rule_id=by, category=effective, updated_at=timezone.now()
            )
    return changed


def entry_category_override(*, entry: TimeEntry, category: str | None, user) -> TimeEntry:
    """Force one entry's category (``None`` or ``""``: back to the rules). Billed entries are not changed."""
    with transaction.atomic():
        stored = TimeEntry.objects.select_for_update().get(pk=entry.pk)
        if stored.invoice_id is not None:
            raise EntryBilledError(f"saisie déjà facturée ({stored.invoice}) : sa catégorie ne change plus")
        if category and category not in Category.values:
            raise ValueError(f"catégorie inconnue « {category} »")
        stored.override_category = category or ""
        stored.override_by = user if category and getattr(user, "pk", None) else None
        stored.override_at = timezone.now() if category else None
        stored.category = stored.override_category or stored.rule_category
        stored.save(
            update_fields=["override_category", "override_by", "override_at", "category", "updated_at"]
        )
    entry.refresh_from_db()
    return entry
